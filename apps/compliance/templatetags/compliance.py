from django import template

from apps.compliance.reveal import can_reveal as _can_reveal

register = template.Library()


@register.simple_tag
def can_reveal(user) -> bool:
    """{% can_reveal request.user as allowed %}: may this user reveal personal data."""
    return _can_reveal(user)


@register.filter
def reveal_label(subject) -> str:
    """How the reveal include names what it reveals (never a full value)."""
    name = subject._meta.model_name
    if name == "merchant":
        return f"Business: {subject.legal_business_name} (EIN {subject.ein_masked or '—'})"
    if name == "merchantperson":
        return f"Person: {subject.first_name} {subject.last_name} (SSN {subject.ssn_masked or '—'})"
    return f"Bank account: {subject.account_holder_name} {subject.account_number_masked}"


@register.simple_tag
def reveal_reasons() -> list[tuple[str, str]]:
    from apps.compliance.reveal import RevealReason

    return RevealReason.choices
