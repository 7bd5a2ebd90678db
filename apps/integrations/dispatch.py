"""The outbox dispatcher: due events delivered in batches, by any number of workers at once.

A committed change asks for a dispatch (`dispatch_request`, on commit): at most one dispatch
task is waiting per cache at any moment, however many events are committed, so the broker
holds a handful of tasks rather than one per event, and the outbox sweep cannot multiply a
backlog. A dispatch task (`events_dispatch`) loops: it claims a batch of due events with
`SELECT … FOR UPDATE SKIP LOCKED` and moves their `available_at` to the end of a lease, so
no other dispatcher takes them while it delivers them; when the batch was full it first asks
for one more dispatch, so that idle workers join while a backlog lasts.

Delivering one event runs each of its handlers in its own transaction: no handler holds its
locks while another one (or a remote call of another one) runs, and a handler chosen as a
deadlock victim by PostgreSQL is run again at once (`DEADLOCK_RETRIES`). Lock order, for
every handler: the rows a use case reads for update first (lead, then queues, then items),
the ExternalSystemSync row of a push before the entity row it writes back to
(apps/integrations/delivery.py). A handler registered `latest_only` runs once per aggregate
and batch (registry.py). Published events are marked in one UPDATE per batch. A failed event
keeps its error and waits a backoff before a dispatcher takes it again; an event whose
dispatcher died comes back when its lease ends (`LEASE`, longer than a task may run).
"""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import OperationalError, transaction
from django.db.models import F
from django.utils import timezone

from apps.integrations import registry
from apps.integrations.models import IntegrationEvent

logger = logging.getLogger(__name__)

DISPATCH_TASK = "apps.integrations.tasks.events_dispatch"
BATCH_SIZE = 50
# Longer than a task may run (django-q2 kills it at `timeout`), so a live dispatcher never
# loses its claim to another one.
LEASE = timedelta(seconds=settings.Q_CLUSTER["timeout"] + 30)
# A dispatch task stops taking batches after this, well inside the task timeout, and asks
# for a successor if events are still due.
BUDGET_SECONDS = settings.Q_CLUSTER["timeout"] / 3
REQUEST_KEY = "outbox:dispatch-requested"
# At most one request per cache key this often: the bound on waiting dispatch tasks.
REQUEST_TTL_SECONDS = 1
DEADLOCK_RETRIES = 3
RETRY_BASE_SECONDS = 15
RETRY_CAP_SECONDS = 900
# PostgreSQL's deadlock_detected and serialization_failure: the victim may simply run again.
RETRYABLE_SQLSTATES = {"40P01", "40001"}


def dispatch_request(event_ids: list | None = None) -> None:
    """Ask a worker to dispatch due events. With tasks run inline (Q_SYNC: tests, scripts)
    `event_ids` are delivered at once, in the caller's process."""
    from django_q.conf import Conf
    from django_q.tasks import async_task

    if Conf.SYNC:
        events_dispatch(event_ids=event_ids)
        return
    if cache.add(REQUEST_KEY, 1, REQUEST_TTL_SECONDS):
        async_task(DISPATCH_TASK, task_name="outbox-dispatch")


def events_claim(*, limit: int = BATCH_SIZE, event_ids=None, now=None) -> list[IntegrationEvent]:
    """Take up to `limit` due events (oldest first) for this dispatcher: rows another one is
    claiming right now are skipped, and the claimed ones are not due again before the lease
    ends. Counts the attempt."""
    now = now or timezone.now()
    with transaction.atomic():
        due = IntegrationEvent.objects.select_for_update(skip_locked=True).filter(
            published=False, available_at__lte=now
        )
        if event_ids is not None:
            due = due.filter(pk__in=list(event_ids))
        events = list(due.order_by("available_at")[:limit])
        if events:
            IntegrationEvent.objects.filter(pk__in=[event.pk for event in events]).update(
                available_at=now + LEASE, publish_attempts=F("publish_attempts") + 1
            )
    for event in events:
        event.publish_attempts += 1
    return events


def _is_retryable(exc: OperationalError) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) in RETRYABLE_SQLSTATES


def handler_run(handler, event) -> None:
    """One handler, in its own transaction; a deadlock victim runs again at once."""
    for attempt in range(1, DEADLOCK_RETRIES + 1):
        try:
            with transaction.atomic():
                handler(event)
            return
        except OperationalError as exc:
            if attempt == DEADLOCK_RETRIES or not _is_retryable(exc):
                raise
            logger.info("outbox: %s on %s chosen as deadlock victim, again", event, handler)


def _newest_per_aggregate(events) -> dict:
    """(handler, aggregate) → the newest event of the batch a latest-only handler gets."""
    newest = {}
    for event in events:  # claimed oldest first: the last one seen is the newest
        for handler in registry.handlers_for(event.event_type):
            if registry.is_latest_only(handler):
                newest[(handler, event.aggregate_type, event.aggregate_id)] = event
    return newest


def _retry_delay(attempts: int) -> timedelta:
    return timedelta(seconds=min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2 ** (attempts - 1)))


def events_deliver(events: list[IntegrationEvent]) -> list[IntegrationEvent]:
    """Run the handlers of claimed events and record the outcome; returns those published."""
    newest = _newest_per_aggregate(events)
    published = []
    for event in events:
        try:
            for handler in registry.handlers_for(event.event_type):
                key = (handler, event.aggregate_type, event.aggregate_id)
                if newest.get(key, event) is not event:
                    continue  # a newer event of the aggregate in this batch runs it
                handler_run(handler, event)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            logger.warning("outbox: delivering %s failed: %s", event, error)
            event.last_publish_error = error[:2000]
            IntegrationEvent.objects.filter(pk=event.pk).update(
                last_publish_error=event.last_publish_error,
                available_at=timezone.now() + _retry_delay(event.publish_attempts),
            )
        else:
            published.append(event)
    if published:
        now = timezone.now()
        IntegrationEvent.objects.filter(
            pk__in=[event.pk for event in published], published=False
        ).update(published=True, published_at=now, available_at=now, last_publish_error="")
        for event in published:
            event.published, event.published_at, event.last_publish_error = True, now, ""
    return published


def events_dispatch(*, event_ids=None, budget_seconds: float | None = None) -> int:
    """Deliver due events batch after batch (only `event_ids`, when given) until none is due
    or the budget is spent. Returns how many were published."""
    if event_ids is None:
        cache.delete(REQUEST_KEY)  # changes committed from now on ask for a new dispatch
    deadline = time.monotonic() + (budget_seconds or BUDGET_SECONDS)
    limit = len(event_ids) if event_ids is not None else BATCH_SIZE
    delivered = 0
    while limit:
        events = events_claim(limit=limit, event_ids=event_ids)
        if not events:
            break
        if event_ids is None and len(events) == limit:
            dispatch_request()  # more may be waiting: let another worker join
        delivered += len(events_deliver(events))
        if event_ids is not None:
            break
        if time.monotonic() > deadline:
            dispatch_request()  # a successor goes on where this one stops
            break
    return delivered


def events_due(*, older_than: timedelta, now=None):
    """Unpublished events due for longer than a request could take: their dispatch request
    was lost, their backoff ended, or their dispatcher died and its lease ended."""
    now = now or timezone.now()
    return IntegrationEvent.objects.filter(
        published=False, available_at__lte=now, occurred_at__lte=now - older_than
    )
