"""django-q2 entry points of accounts. Safe to run twice (a second email is harmless)."""

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm


def password_reset_email_send(email: str, base_url: str) -> None:
    """Send Django's password-reset email to the active accounts of `email`; for an address
    without one nothing is sent (the visitor was told the same either way). Links are rooted
    at `base_url`."""
    form = PasswordResetForm({"email": email})
    if not form.is_valid():
        return
    scheme, domain = urlsplit(base_url)[:2]
    form.save(
        domain_override=domain,
        use_https=scheme == "https",
        subject_template_name="accounts/email/password_reset_subject.txt",
        email_template_name="accounts/email/password_reset.txt",
        extra_email_context={
            "base_url": base_url,
            "timeout_hours": settings.PASSWORD_RESET_TIMEOUT // 3600,
        },
    )
