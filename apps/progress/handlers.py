"""Outbox handlers of the progress app (registered at app start by ProgressConfig.ready).

Each is idempotent: delivery is at least once, and each re-reads the rows and does nothing
when the work is done already (apps/progress/sweeps/follow_ups.py says what each one does).
"""

from apps.integrations import registry
from apps.progress.models import AlertType, MerchantStepProgress
from apps.progress.sweeps import follow_ups, stall


@registry.handles(stall.ALERT_RAISED)
def on_alert_raised(event) -> None:
    # alert.raised is also emitted for SLA breaches and failed deliveries: not ours to follow.
    alert_type = (event.event_payload or {}).get("alert_type")
    if alert_type == AlertType.STALLED:
        follow_ups.stall_follow_up(alert_id=event.aggregate_id)
    elif alert_type == AlertType.ABANDONED:
        follow_ups.abandonment_follow_up(alert_id=event.aggregate_id)


@registry.handles(stall.MERCHANT_LOST)
def on_merchant_lost(event) -> None:
    follow_ups.lead_lost_follow_up(
        merchant_id=event.aggregate_id,
        days_inactive=(event.event_payload or {}).get("days_inactive"),
    )


def on_step_done(event) -> None:
    """A step completed or skipped: its alerts resolve now rather than at the next sweep."""
    merchant_id = (
        MerchantStepProgress.objects.filter(pk=event.aggregate_id)
        .values_list("merchant_id", flat=True)
        .first()
    )
    if merchant_id is not None:
        stall.alerts_resolve_moved_on(merchant_id=merchant_id)


registry.handles("merchant.step_completed")(on_step_done)
registry.handles("step.skipped")(on_step_done)
