"""Outbox handlers of the leads app: the email that takes a Get started visitor on (the CRM
sync registers its own in crm.py)."""

from django.template.loader import render_to_string

from apps.core.links import absolute_url, step_link_url
from apps.integrations import registry
from apps.integrations.providers import get_provider
from apps.leads.links import ACCOUNT_LINK_MAX_AGE_DAYS, account_create_path
from apps.leads.models import Lead
from apps.leads.services import ACCOUNT_LINK_EVENT

ACCOUNT_LINK_SUBJECT = "Continue your sign-up"
RETURNING_SUBJECT = "We already have your details"
CONTINUE_SUBJECT = "Continue where you left off"


@registry.handles(ACCOUNT_LINK_EVENT)
def account_link_send(event) -> None:
    """New address: the link to create the account. Known address: "we already have your
    details; continue here", and once the lead has an account a "continue where you left
    off" step link (valid STEP_LINK_MAX_AGE_DAYS; signed out, it asks to sign in first)."""
    lead = Lead.objects.filter(pk=event.aggregate_id).first()
    if lead is None:
        return
    merchant_id = (
        Lead.objects.filter(pk=lead.pk, merchant__isnull=False)
        .values_list("merchant__id", flat=True)
        .first()
    )
    has_account = merchant_id is not None
    payload = event.event_payload
    base_url = payload.get("base_url", "")
    if has_account:
        # "Continue where you left off": a step link to wherever the merchant stands when
        # they open it (sign-in first when signed out).
        link = step_link_url(merchant_id=merchant_id, base_url=base_url)
    else:
        link = absolute_url(account_create_path(lead), base_url=base_url)
    body = render_to_string(
        "leads/email/account_link.txt",
        {
            "lead": lead,
            "link": link,
            "returning": payload.get("returning", False),
            "has_account": has_account,
            "valid_days": ACCOUNT_LINK_MAX_AGE_DAYS,
        },
    )
    subject = ACCOUNT_LINK_SUBJECT
    if payload.get("returning"):
        subject = CONTINUE_SUBJECT if has_account else RETURNING_SUBJECT
    get_provider("email").send(
        idempotency_key=str(event.pk), to=lead.email, subject=subject, body=body
    )
