from django.db import transaction

from apps.core.errors import DomainError
from apps.core.fsm import save_tracked
from apps.core.services import transition_perform
from apps.leads.models import Lead

CLOSE_REASON_REQUIRED = "Say why the lead is closed."


def lead_mark_contacted(*, lead: Lead, actor, reason: str = "first contact") -> Lead:
    return transition_perform(
        lead,
        "mark_contacted",
        actor=actor,
        reason=f"lead_mark_contacted: {reason}",
        event_type="lead.contacted",
    )


def lead_qualify(*, lead: Lead, actor=None, reason: str = "KYB approved") -> Lead:
    return transition_perform(
        lead, "qualify", actor=actor, reason=f"lead_qualify: {reason}", event_type="lead.qualified"
    )


def lead_convert(*, lead: Lead, actor=None, reason: str = "first order paid") -> Lead:
    return transition_perform(
        lead, "convert", actor=actor, reason=f"lead_convert: {reason}", event_type="lead.converted"
    )


def _close(lead: Lead, transition: str, event_type: str, *, actor, reason: str) -> Lead:
    if not reason.strip():
        raise DomainError(CLOSE_REASON_REQUIRED, code="reason_required")
    return transition_perform(
        lead,
        transition,
        actor=actor,
        reason=f"lead_{transition}: {reason}",
        event_type=event_type,
        params={"reason": reason},
    )


def lead_disqualify(*, lead: Lead, actor, reason: str) -> Lead:
    return _close(lead, "disqualify", "lead.disqualified", actor=actor, reason=reason)


def lead_mark_lost(*, lead: Lead, actor, reason: str) -> Lead:
    return _close(lead, "mark_lost", "lead.lost", actor=actor, reason=reason)


# --- Create and edit ------------------------------------------------------------------------

# Fields anyone with the right to edit a lead may change here; status and cohort have their
# own use cases (transitions, profiling, override).
EDITABLE_FIELDS = frozenset(
    {
        "external_lead_id",
        "crm_lead_id",
        "email",
        "phone",
        "first_name",
        "last_name",
        "business_name",
        "business_category",
        "business_type",
        "annual_revenue_estimate",
        "number_of_locations",
        "country_code",
        "region",
        "language_code",
        "timezone",
        "source",
        "campaign_id",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "referrer",
    }
)


def _check_fields(fields: dict) -> None:
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise DomainError(f"These lead fields cannot be set here: {', '.join(sorted(unknown))}.")


def lead_create(*, actor=None, **fields) -> Lead:
    """A new lead (lead.created goes to the CRM through the outbox)."""
    from apps.integrations.services import event_emit

    _check_fields(fields)
    lead = Lead(**fields)
    lead.email = lead.email.strip().lower()
    lead.full_clean(exclude=["status"])
    with transaction.atomic():
        save_tracked(lead, actor=actor, reason="lead_create")
        event_emit(event_type="lead.created", aggregate=lead)
    return lead


def lead_update(*, lead: Lead, actor=None, reason: str = "edited", **fields) -> Lead:
    """Change a lead's details; emits lead.updated with the changed field names, or nothing
    when no value actually changed."""
    from apps.integrations.services import event_emit

    _check_fields(fields)
    changed = [name for name, value in fields.items() if getattr(lead, name) != value]
    if not changed:
        return lead
    for name in changed:
        setattr(lead, name, fields[name])
    lead.full_clean(exclude=["status"])
    with transaction.atomic():
        save_tracked(lead, actor=actor, reason=f"lead_update: {reason}")
        event_emit(event_type="lead.updated", aggregate=lead, payload={"changed": changed})
    return lead


def lead_assign_ae(*, lead: Lead, ae, actor=None, reason: str) -> Lead:
    """Make `ae` the lead's account executive (an AE claim, or the CRM owner changing)."""
    from apps.accounts.roles import AE
    from apps.integrations.services import event_emit

    if ae is not None and not ae.groups.filter(name=AE).exists():
        raise DomainError(f"{ae.email} is not an account executive.", code="not_an_ae")
    if lead.assigned_ae_id == (ae.pk if ae else None):
        return lead
    lead.assigned_ae = ae
    with transaction.atomic():
        save_tracked(lead, actor=actor, reason=f"lead_assign_ae: {reason}")
        event_emit(
            event_type="lead.owner_changed",
            aggregate=lead,
            payload={"ae_email": ae.email if ae else None, "why": reason},
        )
    return lead
