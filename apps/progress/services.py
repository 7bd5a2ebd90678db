"""Progress writes: each merchant's step progress (create, start, complete, block, fail, retry,
skip, keeping `merchant.current_step` in step), the work on stall alerts (claim, resolve,
dismiss, notes), and the alerts other apps' events raise (an SLA breach, a failed delivery).
The stall sweep and its follow-ups live in apps/progress/sweeps/.
"""

import logging

from django.db import transaction
from django.utils import timezone

from apps.core.db import history_insert, rows_insert
from apps.core.errors import DomainError, TransitionRefused
from apps.core.fsm import save_tracked
from apps.integrations.outbox import event_build, event_emit, events_emit, transition_perform
from apps.progress.models import (
    DONE_STEP_STATUSES,
    OPEN_ALERT_STATUSES,
    AlertStatus,
    AlertType,
    JourneyStep,
    MerchantStepProgress,
    Severity,
    StallAlert,
)
from apps.routing.models import OPEN_ASSIGNMENT_STATUSES, QueueAssignment, RoutingQueue
from apps.routing.services.routing import assignment_enqueue

REASON_REQUIRED = "Give a reason."
ACTION_REQUIRED = "Say what was done to resolve it."
ALERT_HELD_BY_OTHER = "{holder} has claimed this alert: only they can work on it."
NOTE_REQUIRED = "Write the note first."
NOTE_TOO_LONG = "Keep the note under {limit} characters."
NOTE_ON_CLOSED_ALERT = "This alert is closed: notes go on open alerts only."
NOTE_MAX_LENGTH = 2000


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


def step_undo(*, progress: MerchantStepProgress, actor=None, error: str) -> MerchantStepProgress:
    """Reopen a completed step whose outcome was undone; `error` is what the merchant reads."""
    return _step(
        progress, "undo", actor=actor, reason=error, event="step.undone", params={"error": error}
    )


def step_skip(*, progress: MerchantStepProgress, actor=None) -> MerchantStepProgress:
    return _step(progress, "skip", actor=actor, reason="", event="step.skipped")


def step_intervention_clear(*, merchant, actor, reason: str) -> int:
    """The intervention on `merchant` is over: its steps flagged `intervention_required`
    are unflagged (each save tracked with who and why). Returns how many were."""
    flagged = list(
        MerchantStepProgress.objects.select_for_update().filter(
            merchant=merchant, intervention_required=True
        )
    )
    with transaction.atomic():
        for progress in flagged:
            progress.intervention_required = False
            save_tracked(
                progress,
                actor=actor,
                reason=f"step_intervention_clear: {reason}",
                update_fields=["intervention_required", "updated_at"],
            )
    return len(flagged)


# --- Stall alerts -----------------------------------------------------------------------------


def _check_not_held_by_other(alert: StallAlert, person) -> None:
    """A claimed alert belongs to its holder: someone else may not claim, resolve or dismiss
    it (superusers and the system, person None, may; so may anyone once the holder's account
    is inactive)."""
    holder_id = alert.assigned_to_id
    if person is None or holder_id is None or holder_id == person.pk or person.is_superuser:
        return
    holder = alert.assigned_to
    if holder.is_active:
        raise TransitionRefused(
            ALERT_HELD_BY_OTHER.format(holder=holder.email), code="claimed_by_other"
        )


def alert_claim(*, alert: StallAlert, agent, actor) -> StallAlert:
    if actor is None or not actor.is_superuser:
        _check_not_held_by_other(alert, agent)
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
    _check_not_held_by_other(alert, actor)
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
    _check_not_held_by_other(alert, actor)
    return transition_perform(
        alert,
        "dismiss",
        actor=actor,
        reason=f"alert_dismiss: {reason}",
        event_type="alert.dismissed",
        params={"reason": reason},
    )


def alert_note_add(*, alert: StallAlert, actor, body: str) -> StallAlert:
    """Append a note to an open alert (anyone working alerts may, not only its holder). The
    row is locked so two notes written at once are both kept; returns the saved row."""
    body = (body or "").strip()
    if not body:
        raise DomainError(NOTE_REQUIRED, code="note_required")
    if len(body) > NOTE_MAX_LENGTH:
        raise DomainError(NOTE_TOO_LONG.format(limit=NOTE_MAX_LENGTH), code="note_too_long")
    with transaction.atomic():
        locked = StallAlert.objects.select_for_update().get(pk=alert.pk)
        if locked.alert_status not in OPEN_ALERT_STATUSES:
            raise TransitionRefused(NOTE_ON_CLOSED_ALERT, code="alert_closed")
        locked.notes = [
            *locked.notes,
            {
                "at": timezone.now().isoformat(),
                "author_id": str(actor.pk) if actor is not None else None,
                "author": actor.email if actor is not None else "system",
                "body": body,
            },
        ]
        save_tracked(
            locked,
            actor=actor,
            reason=f"alert_note_add: {body[:200]}",
            update_fields=["notes", "updated_at"],
        )
    alert.notes = locked.notes
    return locked


def alerts_raise_sla_breach(*, assignments: list) -> list[StallAlert]:
    """One sla_breach alert per queue item (DESIGN.md rule 7), about its lead or merchant, for
    a set of items the SLA sweep just marked breached (each with its queue loaded): one SELECT
    skips the items that have their alert already, then one INSERT each for the alerts, their
    history rows ("+", the reason) and their outbox events (alert.raised). Registered in
    ProgressConfig.ready() as routing's SLA-breach callback (apps.routing.hooks): it runs in
    the transaction that marks the items. Returns the alerts raised."""
    if not assignments:
        return []
    has_alert = set(
        StallAlert.objects.filter(
            queue_assignment_id__in=[item.pk for item in assignments],
            alert_type=AlertType.SLA_BREACH,
        ).values_list("queue_assignment_id", flat=True)
    )
    now = timezone.now()
    alerts, events = [], []
    for item in assignments:
        if item.pk in has_alert:
            continue
        has_alert.add(item.pk)
        queue = item.queue
        alert = StallAlert(
            queue_assignment=item,
            lead_id=item.lead_id,
            merchant_id=item.merchant_id,
            alert_type=AlertType.SLA_BREACH,
            severity=Severity.HIGH,
            stall_detected_at=now,
            current_status=item.status,
            last_activity_at=item.queued_at,
        )
        alert._history_user = None
        alert._change_reason = (
            f"alert_raise_sla_breach: {queue.code}, not contacted within "
            f"{queue.sla_minutes} minutes"
        )
        alerts.append(alert)
        events.append(
            event_build(
                event_type="alert.raised",
                aggregate=alert,
                payload={
                    "alert_type": AlertType.SLA_BREACH,
                    "severity": alert.severity,
                    "queue": queue.code,
                    "assignment_id": str(item.pk),
                    "lead_id": str(item.lead_id) if item.lead_id else None,
                    "merchant_id": str(item.merchant_id) if item.merchant_id else None,
                },
            )
        )
    if alerts:
        rows_insert(StallAlert, alerts)
        history_insert(StallAlert, alerts, history_type="+", when=now)
        events_emit(events)
    return alerts


def alert_raise_sla_breach(*, assignment) -> StallAlert:
    """The sla_breach alert of one queue item: raised (alerts_raise_sla_breach) unless it
    exists, in which case the existing one is returned. Idempotent."""
    raised = alerts_raise_sla_breach(assignments=[assignment])
    if raised:
        return raised[0]
    return StallAlert.objects.get(queue_assignment=assignment, alert_type=AlertType.SLA_BREACH)


# --- Delivery failures (orders: hardware shipments) -----------------------------------------

DELIVERY_QUEUE = "ic_onboarding"
HARDWARE_STEP = 5


def alert_raise_delivery_failed(*, shipment) -> StallAlert:
    """A hardware shipment could not be delivered: an open `delivery_failed` alert on the
    hardware step for the merchant, routed to the IC onboarding queue (the merchant is
    queued there once; an open assignment is reused). Idempotent: while an alert of this
    kind is open for the merchant, it is returned instead of a second one."""
    merchant = shipment.merchant
    step = JourneyStep.objects.filter(pk=HARDWARE_STEP).first()
    with transaction.atomic():
        existing = (
            StallAlert.objects.select_for_update()
            .filter(
                merchant=merchant,
                step=step,
                alert_type=AlertType.DELIVERY_FAILED,
                alert_status__in=[AlertStatus.OPEN, AlertStatus.ASSIGNED, AlertStatus.IN_PROGRESS],
            )
            .first()
        )
        if existing is not None:
            return existing
        queue = RoutingQueue.objects.filter(code=DELIVERY_QUEUE, is_active=True).first()
        assignment = None
        if queue is None:
            logging.getLogger(__name__).warning(
                "No active %s queue: delivery failure alert for %s is not routed.",
                DELIVERY_QUEUE,
                merchant.pk,
            )
        else:
            assignment = QueueAssignment.objects.filter(
                queue=queue,
                merchant=merchant,
                lead__isnull=True,
                status__in=OPEN_ASSIGNMENT_STATUSES,
            ).first() or assignment_enqueue(
                queue=queue,
                merchant=merchant,
                reason=f"Hardware delivery failed (tracking {shipment.tracking_number})",
            )
        alert = StallAlert(
            merchant=merchant,
            lead=merchant.lead,
            queue_assignment=assignment,
            step=step,
            alert_type=AlertType.DELIVERY_FAILED,
            severity=Severity.HIGH,
            current_status=shipment.shipment_status,
            last_activity_at=timezone.now(),
        )
        save_tracked(
            alert,
            actor=None,
            reason=f"alert_raise_delivery_failed: {shipment.failure_reason or 'not delivered'}",
        )
        event_emit(
            event_type="alert.raised",
            aggregate=alert,
            payload={
                "alert_type": AlertType.DELIVERY_FAILED,
                "merchant_id": str(merchant.pk),
                "shipment_id": str(shipment.pk),
                "tracking_number": shipment.tracking_number,
                "queue": DELIVERY_QUEUE if assignment else None,
            },
        )
    return alert
