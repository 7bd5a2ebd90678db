from apps.core.errors import DomainError
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
