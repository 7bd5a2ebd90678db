from django.db import transaction

from apps.core.errors import DomainError
from apps.core.fsm import save_tracked
from apps.core.services import transition_perform
from apps.progress.models import (
    DONE_STEP_STATUSES,
    JourneyStep,
    MerchantStepProgress,
    StallAlert,
)

REASON_REQUIRED = "Give a reason."
ACTION_REQUIRED = "Say what was done to resolve it."


def merchant_progress_create(*, merchant, actor=None) -> list[MerchantStepProgress]:
    """One progress row per journey step for a new merchant (idempotent)."""
    existing = set(merchant.step_progress.values_list("step_id", flat=True))
    rows = [
        MerchantStepProgress(merchant=merchant, step=step)
        for step in JourneyStep.objects.exclude(pk__in=existing)
    ]
    with transaction.atomic():
        for row in rows:
            save_tracked(row, actor=actor, reason="merchant_progress_create")
    return rows


def merchant_current_step_refresh(*, merchant, actor=None) -> int:
    """current_step is the first step (in journey order) not completed or skipped."""
    pending = (
        merchant.step_progress.exclude(status__in=DONE_STEP_STATUSES)
        .order_by("step__display_order")
        .values_list("step_id", flat=True)
        .first()
    )
    step = pending or 10
    if merchant.current_step != step:
        merchant.current_step = step
        save_tracked(
            merchant,
            actor=actor,
            reason=f"merchant_current_step_refresh: step {step}",
            update_fields=["current_step", "updated_at"],
        )
    return step


def _step(progress, transition: str, *, actor, reason: str, event: str | None, params=None):
    with transaction.atomic():
        transition_perform(
            progress,
            transition,
            actor=actor,
            reason=f"step_{transition}: step {progress.step_id}"
            + (f": {reason}" if reason else ""),
            event_type=event,
            payload={"step": progress.step_id},
            params=params,
        )
        merchant_current_step_refresh(merchant=progress.merchant, actor=actor)
    return progress


def step_start(*, progress: MerchantStepProgress, actor=None) -> MerchantStepProgress:
    return _step(progress, "start", actor=actor, reason="", event="step.started")


def step_complete(*, progress: MerchantStepProgress, actor=None) -> MerchantStepProgress:
    return _step(progress, "complete", actor=actor, reason="", event="merchant.step_completed")


def step_block(*, progress: MerchantStepProgress, actor=None, reason: str) -> MerchantStepProgress:
    if not reason.strip():
        raise DomainError(REASON_REQUIRED, code="reason_required")
    return _step(
        progress,
        "block",
        actor=actor,
        reason=reason,
        event="step.blocked",
        params={"reason": reason},
    )


def step_unblock(*, progress: MerchantStepProgress, actor=None) -> MerchantStepProgress:
    return _step(progress, "unblock", actor=actor, reason="", event="step.unblocked")


def step_fail(*, progress: MerchantStepProgress, actor=None, error: str) -> MerchantStepProgress:
    return _step(
        progress, "fail", actor=actor, reason=error, event="step.failed", params={"error": error}
    )


def step_retry(*, progress: MerchantStepProgress, actor=None) -> MerchantStepProgress:
    return _step(progress, "retry", actor=actor, reason="", event="step.retried")


def step_skip(*, progress: MerchantStepProgress, actor=None) -> MerchantStepProgress:
    return _step(progress, "skip", actor=actor, reason="", event="step.skipped")


# --- Stall alerts -----------------------------------------------------------------------------


def alert_claim(*, alert: StallAlert, agent, actor) -> StallAlert:
    previous = alert.assigned_to
    alert.assigned_to = agent
    try:
        return transition_perform(alert, "claim", actor=actor, reason=f"alert_claim: {agent.email}")
    except DomainError:
        alert.assigned_to = previous
        raise


def alert_start_work(*, alert: StallAlert, actor) -> StallAlert:
    return transition_perform(alert, "start_work", actor=actor, reason="alert_start_work")


def alert_resolve(*, alert: StallAlert, actor, action: str) -> StallAlert:
    if not action.strip():
        raise DomainError(ACTION_REQUIRED, code="action_required")
    return transition_perform(
        alert,
        "resolve",
        actor=actor,
        reason=f"alert_resolve: {action}",
        event_type="alert.resolved",
        params={"action": action},
    )


def alert_dismiss(*, alert: StallAlert, actor, reason: str) -> StallAlert:
    if not reason.strip():
        raise DomainError(REASON_REQUIRED, code="reason_required")
    return transition_perform(
        alert,
        "dismiss",
        actor=actor,
        reason=f"alert_dismiss: {reason}",
        event_type="alert.dismissed",
        params={"reason": reason},
    )
