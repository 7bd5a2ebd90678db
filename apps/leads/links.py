"""The "create your account" link of a lead: a signed, expiring token naming the lead.

It is only ever sent by email to the lead's own address, so holding it proves the address:
the account created through it is linked to the lead and counts as verified
(issue 11: whoever merely types an email on a public page gets no link)."""

from django.core import signing
from django.urls import reverse

from apps.leads.models import Lead

ACCOUNT_LINK_SALT = "lead-account"
ACCOUNT_LINK_MAX_AGE_DAYS = 7


def account_link_token(lead: Lead) -> str:
    return signing.dumps(str(lead.pk), salt=ACCOUNT_LINK_SALT)


def lead_from_account_link(token: str) -> Lead | None:
    """The live lead the token names, or None when it is forged, expired or unknown."""
    try:
        lead_id = signing.loads(
            token, salt=ACCOUNT_LINK_SALT, max_age=ACCOUNT_LINK_MAX_AGE_DAYS * 24 * 3600
        )
    except signing.BadSignature:
        return None
    return Lead.objects.filter(pk=lead_id, deleted_at=None).first()


def account_create_path(lead: Lead) -> str:
    # The token is URL-safe (base64 and colons): it goes into the query as it is.
    return f"{reverse('merchants:account_create')}?lead={account_link_token(lead)}"
