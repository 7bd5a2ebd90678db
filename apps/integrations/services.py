from datetime import timedelta

from django.utils import timezone

from apps.core.errors import ActionForbidden, TransitionRefused
from apps.integrations import dispatch
from apps.integrations.models import ExternalSystemSync, IntegrationEvent, WebhookEvent
from apps.integrations.outbox import transition_perform


def event_deliver(*, event_id) -> IntegrationEvent | None:
    """Deliver one event now if it is due (the dispatcher's claim: never while another
    dispatcher holds it). Returns the event when it is published (now or before), None when
    its delivery failed; an event held elsewhere is returned unpublished."""
    events = dispatch.events_claim(limit=1, event_ids=[event_id])
    if not events:
        return IntegrationEvent.objects.filter(pk=event_id).first()
    published = dispatch.events_deliver(events)
    return published[0] if published else None


def events_sweep_unpublished(*, older_than: timedelta = timedelta(minutes=1)) -> int:
    """The scheduled outbox sweep: if events have been due for over `older_than` (their
    dispatch request was lost, their retry time came, their dispatcher died), request one
    dispatch; nothing is enqueued per event, so a backlog is never multiplied. Returns how
    many such events there are (up to 500)."""
    ids = list(
        dispatch.events_due(older_than=older_than)
        .order_by("available_at")
        .values_list("pk", flat=True)[:500]
    )
    if ids:
        dispatch.dispatch_request(ids)
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


RETRY_FORBIDDEN = "You do not have permission to retry syncs."
RETRY_NOTHING_TO_SEND = (
    "This sync is “{status}”: it cannot queue again now. Only a failed or conflicting sync "
    "is retried."
)


def _retry_permission_check(actor) -> None:
    if actor is not None and not actor.has_perm("integrations.retry_sync"):
        raise ActionForbidden(RETRY_FORBIDDEN)


def sync_requeue(*, sync: ExternalSystemSync, actor, reason: str = "") -> ExternalSystemSync:
    """A new change to send, or an ops user asked for a retry."""
    _retry_permission_check(actor)
    return transition_perform(
        sync, "requeue", actor=actor, reason=f"sync_requeue: {reason or 'retry'}"
    )


def sync_retry_request(*, sync: ExternalSystemSync, actor, reason: str = "") -> ExternalSystemSync:
    """A person's retry (the ops pages, the admin, the retry_sync command): back to pending,
    for a failed or conflicting sync only. Any other state is refused with nothing written:
    a synced sync has nothing to send (a new change requeues it by itself), a pending or
    in-progress one is being sent already."""
    _retry_permission_check(actor)
    if not sync.needs_a_person:
        raise TransitionRefused(
            RETRY_NOTHING_TO_SEND.format(status=sync.get_sync_status_display()),
            code="nothing_to_retry",
        )
    return sync_requeue(sync=sync, actor=actor, reason=reason)


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
