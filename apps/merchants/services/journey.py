"""The merchant's journey as a whole: completed (the merchant goes live), blocked by staff
with a reason, abandoned after a quiet spell and resumed. Each is one transition with its
history reason and outbox event; the callers (go-live, the stall sweep, staff) decide when."""

from apps.core.errors import DomainError
from apps.integrations.outbox import transition_perform
from apps.merchants.models import Merchant


def merchant_journey_complete(*, merchant: Merchant, actor=None) -> Merchant:
    return transition_perform(
        merchant,
        "journey_complete",
        actor=actor,
        reason="merchant_journey_complete",
        event_type="merchant.journey_completed",
    )


def merchant_journey_block(*, merchant: Merchant, actor, reason: str) -> Merchant:
    if not reason.strip():
        raise DomainError("Say what blocks the journey.", code="reason_required")
    return transition_perform(
        merchant,
        "journey_block",
        actor=actor,
        reason=f"merchant_journey_block: {reason}",
        event_type="merchant.blocked",
        params={"reason": reason},
    )


def merchant_journey_abandon(*, merchant: Merchant, actor=None, reason: str = "") -> Merchant:
    return transition_perform(
        merchant,
        "journey_abandon",
        actor=actor,
        reason=f"merchant_journey_abandon: {reason or 'no activity'}",
        event_type="merchant.abandoned",
    )


def merchant_journey_resume(*, merchant: Merchant, actor=None, reason: str = "") -> Merchant:
    return transition_perform(
        merchant,
        "journey_resume",
        actor=actor,
        reason=f"merchant_journey_resume: {reason or 'activity again'}",
        event_type="merchant.resumed",
    )
