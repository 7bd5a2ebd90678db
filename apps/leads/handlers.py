"""Outbox handlers of the leads app: the email that takes a Get started visitor on (the CRM
sync registers its own in crm.py)."""

from django.template.loader import render_to_string
from django.urls import reverse

from apps.core.links import absolute_url
from apps.integrations import registry
from apps.integrations.providers import get_provider
from apps.leads.links import ACCOUNT_LINK_MAX_AGE_DAYS, account_create_path
from apps.leads.models import Lead
from apps.leads.services import ACCOUNT_LINK_EVENT

ACCOUNT_LINK_SUBJECT = "Continue your sign-up"
RETURNING_SUBJECT = "We already have your details"


@registry.handles(ACCOUNT_LINK_EVENT)
def account_link_send(event) -> None:
    """New address: the link to create the account. Known address: "we already have your
    details; continue here", to sign in when the lead has an account already."""
    lead = Lead.objects.filter(pk=event.aggregate_id).first()
    if lead is None:
        return
    has_account = Lead.objects.filter(pk=lead.pk, merchant__isnull=False).exists()
    path = reverse("accounts:login") if has_account else account_create_path(lead)
    payload = event.event_payload
    body = render_to_string(
        "leads/email/account_link.txt",
        {
            "lead": lead,
            "link": absolute_url(path, base_url=payload.get("base_url", "")),
            "returning": payload.get("returning", False),
            "has_account": has_account,
            "valid_days": ACCOUNT_LINK_MAX_AGE_DAYS,
        },
    )
    subject = RETURNING_SUBJECT if payload.get("returning") else ACCOUNT_LINK_SUBJECT
    get_provider("email").send(
        idempotency_key=str(event.pk), to=lead.email, subject=subject, body=body
    )
