"""Recovery of the integrations' background work (apps/core/recovery.py): inbound webhooks
whose processing task was lost, syncs an ops user sent again whose push task was lost, and
outbox events left unpublished. Registered at startup (IntegrationsConfig.ready)."""

from datetime import timedelta

from django.db import transaction
from django.db.models import Count, Min, QuerySet
from django.utils import timezone

from apps.core.recovery import (
    Stuck,
    StuckKind,
    claims_release,
    claims_take,
    enqueue_each,
    stuck_kind_register,
)
from apps.integrations.inbox import PROCESS_TASK
from apps.integrations.models import (
    ExternalSystemSync,
    IntegrationEvent,
    SyncStatus,
    WebhookEvent,
    WebhookStatus,
)

# A webhook is processed seconds after it is stored; one still "received" after this lost
# its task (or the worker died in it: the transaction rolled back to "received").
WEBHOOK_STUCK_AFTER = timedelta(minutes=5)
# A sync sent again by ops is pending until its push task runs, seconds later.
SYNC_STUCK_AFTER = timedelta(minutes=5)
# The outbox sweep's own threshold for the console (selectors.STUCK_AFTER says the same).
EVENT_STUCK_AFTER = timedelta(minutes=5)
SWEEP_LIMIT = 500

WEBHOOKS = "webhooks"
SYNCS = "syncs-pending"
EVENTS = "outbox-events"
PUSH_TASK = "apps.integrations.tasks.sync_push_now"


def _figures(rows: QuerySet, field: str) -> Stuck:
    figures = rows.aggregate(count=Count("pk"), oldest=Min(field))
    return Stuck(count=figures["count"], oldest=figures["oldest"])


# --- Webhooks ---------------------------------------------------------------------------------


def webhooks_stuck_rows() -> QuerySet[WebhookEvent]:
    cutoff = timezone.now() - WEBHOOK_STUCK_AFTER
    return WebhookEvent.objects.filter(status=WebhookStatus.RECEIVED, received_at__lte=cutoff)


def webhooks_stuck() -> Stuck:
    return _figures(webhooks_stuck_rows(), "received_at")


def webhooks_sweep(*, force: bool = False, limit: int = SWEEP_LIMIT) -> int:
    """Queue again the processing of webhooks received more than WEBHOOK_STUCK_AFTER ago and
    still not processed, oldest first; each at most once per claim interval (doubling), so
    a backlog is not multiplied. Processing itself runs once (webhook_process locks the row
    and processes only a received or failed event). Returns how many were queued."""
    stuck = webhooks_stuck_rows()
    claims_release(kind=WEBHOOKS, still_stuck=stuck.values("pk"))
    with transaction.atomic():
        ids = list(
            stuck.select_for_update(skip_locked=True)
            .order_by("received_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )
        taken = claims_take(
            kind=WEBHOOKS, object_ids=ids, interval=WEBHOOK_STUCK_AFTER, force=force
        )
    return enqueue_each(PROCESS_TASK, taken)


# --- Syncs sent again by ops ------------------------------------------------------------------


def syncs_stuck_rows() -> QuerySet[ExternalSystemSync]:
    """Pending syncs with an event to push: committed "pending" only between an ops retry
    (sync_retry_now) and its push task; a push starts it in the same transaction."""
    cutoff = timezone.now() - SYNC_STUCK_AFTER
    return ExternalSystemSync.objects.filter(
        sync_status=SyncStatus.PENDING, updated_at__lte=cutoff, last_event__isnull=False
    )


def syncs_stuck() -> Stuck:
    return _figures(syncs_stuck_rows(), "updated_at")


def syncs_sweep(*, force: bool = False, limit: int = SWEEP_LIMIT) -> int:
    """Queue again the push of syncs left pending (their task was lost). Returns how many."""
    stuck = syncs_stuck_rows()
    claims_release(kind=SYNCS, still_stuck=stuck.values("pk"))
    with transaction.atomic():
        ids = list(
            stuck.select_for_update(skip_locked=True)
            .order_by("updated_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )
        taken = claims_take(kind=SYNCS, object_ids=ids, interval=SYNC_STUCK_AFTER, force=force)
    return enqueue_each(PUSH_TASK, taken)


# --- Outbox events (swept by the outbox sweep; shown here with the others) --------------------


def events_stuck() -> Stuck:
    cutoff = timezone.now() - EVENT_STUCK_AFTER
    return _figures(
        IntegrationEvent.objects.filter(published=False, occurred_at__lte=cutoff), "occurred_at"
    )


def events_sweep(*, force: bool = False) -> int:
    """The outbox sweep, as it is (apps/integrations/tasks.py events_sweep)."""
    from apps.integrations import tasks

    return tasks.events_sweep() or 0


stuck_kind_register(
    StuckKind(
        key=WEBHOOKS,
        label="Webhooks received but not processed",
        stuck="apps.integrations.recovery.webhooks_stuck",
        sweep="apps.integrations.recovery.webhooks_sweep",
        job="webhooks-sweep",
        explains="Queues the processing of each webhook received over "
        f"{int(WEBHOOK_STUCK_AFTER.total_seconds() // 60)} minutes ago and still waiting.",
    )
)
stuck_kind_register(
    StuckKind(
        key=SYNCS,
        label="Syncs sent again but not pushed",
        stuck="apps.integrations.recovery.syncs_stuck",
        sweep="apps.integrations.recovery.syncs_sweep",
        job="syncs-pending-sweep",
        explains="Queues the push of each sync left pending after a retry.",
    )
)
stuck_kind_register(
    StuckKind(
        key=EVENTS,
        label="Outbox events not published",
        stuck="apps.integrations.recovery.events_stuck",
        sweep="apps.integrations.recovery.events_sweep",
        job="outbox-sweep",
        explains="Runs the outbox sweep: delivers again every event left unpublished.",
    )
)
