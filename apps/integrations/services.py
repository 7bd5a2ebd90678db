from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from apps.integrations import registry
from apps.integrations.models import ExternalSystemSync, IntegrationEvent, WebhookEvent
from apps.integrations.outbox import enqueue_delivery, transition_perform


def event_deliver(*, event_id) -> IntegrationEvent | None:
    """Run the event's handlers and mark it published. Safe to call twice: the row is
    locked and a published event is left alone."""
    with transaction.atomic():
        event = IntegrationEvent.objects.select_for_update().filter(pk=event_id).first()
        if event is None or event.published:
            return event
        event.publish_attempts += 1
        try:
            for handler in registry.handlers_for(event.event_type):
                handler(event)
        except Exception as exc:
            # Keep the attempt count and the error; the sweep delivers it again later.
            transaction.set_rollback(True)
            error = f"{type(exc).__name__}: {exc}"
        else:
            event.published = True
            event.published_at = timezone.now()
            event.last_publish_error = ""
            event.save(
                update_fields=[
                    "published",
                    "published_at",
                    "publish_attempts",
                    "last_publish_error",
                ]
            )
            return event
    IntegrationEvent.objects.filter(pk=event_id).update(
        publish_attempts=event.publish_attempts, last_publish_error=error[:2000]
    )
    return None


def events_sweep_unpublished(*, older_than: timedelta = timedelta(minutes=1)) -> int:
    """Enqueue again every event still unpublished after `older_than` (its on-commit
    enqueue was lost, or its handler failed). Returns how many were enqueued."""
    cutoff = timezone.now() - older_than
    ids = list(
        IntegrationEvent.objects.filter(published=False, occurred_at__lte=cutoff)
        .order_by("occurred_at")
        .values_list("pk", flat=True)[:500]
    )
    for event_id in ids:
        enqueue_delivery(event_id)
    return len(ids)


def events_purge_published(*, older_than: timedelta = timedelta(days=90)) -> int:
    """Retention (spec: events 90 days): delete published events older than that."""
    cutoff = timezone.now() - older_than
    deleted, _ = IntegrationEvent.objects.filter(published=True, occurred_at__lt=cutoff).delete()
    return deleted


# --- ExternalSystemSync ----------------------------------------------------------------------


def sync_start(*, sync: ExternalSystemSync, actor=None) -> ExternalSystemSync:
    return transition_perform(sync, "start", actor=actor, reason="sync_start")


def sync_succeed(
    *, sync: ExternalSystemSync, external_entity_id: str = "", actor=None
) -> ExternalSystemSync:
    return transition_perform(
        sync,
        "succeed",
        actor=actor,
        reason="sync_succeed",
        event_type="sync.completed",
        params={"external_entity_id": external_entity_id},
    )


def sync_fail(
    *,
    sync: ExternalSystemSync,
    error: str,
    next_retry_at=None,
    permanent: bool = False,
    actor=None,
) -> ExternalSystemSync:
    """Record a failed push. `permanent`: no automatic retry will help (retry count set to
    the maximum); otherwise the sweep retries at next_retry_at."""
    return transition_perform(
        sync,
        "fail",
        actor=actor,
        reason=f"sync_fail: {error}"[:255],
        event_type="sync.failed",
        payload={"error": error, "permanent": permanent},
        params={"error": error, "next_retry_at": next_retry_at, "permanent": permanent},
    )


def sync_flag_conflict(*, sync: ExternalSystemSync, detail: str, actor=None) -> ExternalSystemSync:
    return transition_perform(
        sync,
        "flag_conflict",
        actor=actor,
        reason="sync_flag_conflict",
        event_type="conflict.detected",
        payload={"detail": detail},
        params={"detail": detail},
    )


def sync_requeue(*, sync: ExternalSystemSync, actor, reason: str = "") -> ExternalSystemSync:
    """A new change to send, or an ops user asked for a retry."""
    if actor is not None and not actor.has_perm("integrations.retry_sync"):
        from apps.core.errors import ActionForbidden

        raise ActionForbidden("You do not have permission to retry syncs.")
    return transition_perform(
        sync, "requeue", actor=actor, reason=f"sync_requeue: {reason or 'retry'}"
    )


# --- WebhookEvent ----------------------------------------------------------------------------


def webhook_start_processing(*, webhook: WebhookEvent) -> WebhookEvent:
    return transition_perform(webhook, "start_processing", actor=None, reason="webhook_process")


def webhook_mark_processed(*, webhook: WebhookEvent, ignored_reason: str = "") -> WebhookEvent:
    return transition_perform(
        webhook,
        "mark_processed",
        actor=None,
        reason=f"webhook_ignored: {ignored_reason}"[:255]
        if ignored_reason
        else "webhook_processed",
        params={"ignored_reason": ignored_reason},
    )


def webhook_mark_failed(*, webhook: WebhookEvent, error: str) -> WebhookEvent:
    return transition_perform(
        webhook, "mark_failed", actor=None, reason="webhook_failed", params={"error": error}
    )


def webhook_reject(*, webhook: WebhookEvent, error: str) -> WebhookEvent:
    return transition_perform(
        webhook, "reject", actor=None, reason="webhook_rejected", params={"error": error}
    )
