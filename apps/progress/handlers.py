"""Outbox handlers of the progress app (registered at app start by ProgressConfig.ready).

Each is idempotent: delivery is at least once, and each re-reads the rows and does nothing
when the work is done already (see apps/progress/sweeps.py for what each follow-up does).
"""

from apps.integrations import registry
from apps.progress import sweeps
from apps.progress.models import AlertType, MerchantStepProgress


@registry.handles(sweeps.ALERT_RAISED)
def on_alert_raised(event) -> None:
    # alert.raised is also emitted for SLA breaches and failed deliveries: not ours to follow.
    alert_type = (event.event_payload or {}).get("alert_type")
    if alert_type == AlertType.STALLED:
        sweeps.stall_follow_up(alert_id=event.aggregate_id)
    elif alert_type == AlertType.ABANDONED:
        sweeps.abandonment_follow_up(alert_id=event.aggregate_id)


@registry.handles(sweeps.MERCHANT_LOST)
def on_merchant_lost(event) -> None:
    sweeps.lead_lost_follow_up(
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
        sweeps.alerts_resolve_moved_on(merchant_id=merchant_id)


registry.handles("merchant.step_completed")(on_step_done)
registry.handles("step.skipped")(on_step_done)
