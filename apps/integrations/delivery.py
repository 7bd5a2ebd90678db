"""Delivering one entity's changes to one external system, exactly once in effect.

Each (entity, system) pair has an ExternalSystemSync row. `sync_push` runs a push function
under that row's lock, with the triggering event's id as the provider's idempotency key:

- success → synced (and the event id is remembered, so a redelivered event does nothing);
- RetryableError → failed with next_retry_at = now + exponential backoff with jitter; the
  scheduled `sync_retry_due` sweep pushes again with the SAME event id, so a provider that
  did the work but whose answer was lost does not do it twice;
- PermanentError → failed with no further automatic retry, visible to ops;
- SyncConflict → conflict: a person decides (never a silent overwrite).

A provider being down therefore never blocks the caller (pushes run in tasks after commit)
and never loses a change (the row stays failed until a retry succeeds).
"""

import random
from collections.abc import Callable
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.fsm import save_tracked
from apps.integrations import services
from apps.integrations.models import (
    ExternalSystemSync,
    IntegrationEvent,
    SyncDirection,
    SyncStatus,
)
from apps.integrations.providers.base import PermanentError, RetryableError

BACKOFF_BASE_SECONDS = 30
BACKOFF_CAP_SECONDS = 3600


class SyncConflict(Exception):
    def __init__(self, fields: list[str], detail: str):
        super().__init__(detail)
        self.fields = fields
        self.detail = detail


# (entity_type, system) -> push(sync, event) -> external id. Registered by each sync module.
_pushers: dict[tuple[str, str], Callable] = {}


def registers_push(entity_type: str, system: str):
    def register(push: Callable) -> Callable:
        _pushers[(entity_type, system)] = push
        return push

    return register


def backoff_delay(retry_count: int, *, rng=random) -> timedelta:
    """30 s, 60 s, 120 s ... capped at an hour, times a jitter in [0.5, 1.5) so a fleet of
    failed syncs does not hammer a recovering provider at the same instant."""
    base = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(retry_count - 1, 0))
    return timedelta(seconds=base * (0.5 + rng.random()))


def _sync_for_update(entity_type: str, entity_id, system: str) -> ExternalSystemSync:
    key = {"entity_type": entity_type, "entity_id": entity_id, "external_system": system}
    sync = ExternalSystemSync.objects.select_for_update().filter(**key).first()
    if sync is not None:
        return sync
    direction = SyncDirection.BIDIRECTIONAL if system == "crm" else SyncDirection.TO_EXTERNAL
    try:
        with transaction.atomic():
            sync = ExternalSystemSync(**key, direction=direction)
            save_tracked(sync, actor=None, reason=f"sync created for {entity_type}")
    except IntegrityError:  # created by a concurrent push a moment ago
        pass
    return ExternalSystemSync.objects.select_for_update().get(**key)


def sync_push(*, entity_type: str, entity_id, system: str, event: IntegrationEvent):
    """Push the entity's current state to `system` for `event` (see module docstring)."""
    push = _pushers[(entity_type, system)]
    with transaction.atomic():
        sync = _sync_for_update(entity_type, entity_id, system)
        if sync.sync_status == SyncStatus.SYNCED and sync.last_event_id == event.pk:
            return sync  # this event was delivered already
        if sync.sync_status == SyncStatus.CONFLICT:
            return sync  # waiting for a person; the newer change is pushed once resolved
        if sync.sync_status == SyncStatus.SYNCED:
            services.sync_requeue(sync=sync, actor=None, reason=f"new change {event.event_type}")
        sync.last_event = event
        services.sync_start(sync=sync)
        try:
            external_id = push(sync, event)
        except RetryableError as exc:
            retries_left = sync.retry_count + 1 < sync.max_retries
            services.sync_fail(
                sync=sync,
                error=exc.message,
                next_retry_at=timezone.now() + backoff_delay(sync.retry_count + 1)
                if retries_left
                else None,
            )
        except PermanentError as exc:
            services.sync_fail(sync=sync, error=f"{exc.message} (permanent)", permanent=True)
        except SyncConflict as conflict:
            sync.conflict_fields = conflict.fields
            services.sync_flag_conflict(sync=sync, detail=conflict.detail)
        else:
            services.sync_succeed(sync=sync, external_entity_id=external_id or "")
    return sync


def sync_retry(*, sync: ExternalSystemSync):
    """Push a failed sync again with the event it failed on (same idempotency key)."""
    event = sync.last_event
    if event is None:
        return sync
    return sync_push(
        entity_type=sync.entity_type,
        entity_id=sync.entity_id,
        system=sync.external_system,
        event=event,
    )


def syncs_retry_due(*, now=None, limit: int = 200) -> int:
    """The scheduled sweep: retry every failed sync whose backoff has elapsed."""
    now = now or timezone.now()
    due = list(
        ExternalSystemSync.objects.filter(
            sync_status=SyncStatus.FAILED, next_retry_at__lte=now
        ).order_by("next_retry_at")[:limit]
    )
    for sync in due:
        sync_retry(sync=sync)
    return len(due)


def sync_retry_now(
    *, sync: ExternalSystemSync, actor, reason: str = "retry requested"
) -> ExternalSystemSync:
    """An ops user's retry of a failed or conflicting sync: back to pending (permission and
    state checked by the service, which refuses anything else), then the push is enqueued
    at once."""
    from django_q.tasks import async_task

    with transaction.atomic():
        services.sync_retry_request(sync=sync, actor=actor, reason=reason)
        transaction.on_commit(
            lambda: async_task("apps.integrations.tasks.sync_push_now", str(sync.pk))
        )
    return sync


def sync_push_pending(*, sync_id) -> ExternalSystemSync | None:
    """Task body for a retry requested by a person: push a pending sync's last event."""
    sync = ExternalSystemSync.objects.filter(pk=sync_id).select_related("last_event").first()
    if sync is None or sync.sync_status != SyncStatus.PENDING:
        return sync
    return sync_retry(sync=sync)
