"""Read queries for the integration pages and commands. Each list is one query whatever its
length (no related rows are read per row) with an explicit order, so a page of it costs the
same with three rows or three thousand."""

from collections import defaultdict
from collections.abc import Iterable
from datetime import timedelta

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from apps.integrations import owners
from apps.integrations.models import (
    ATTENTION_STATUSES,
    ExternalSystemSync,
    IntegrationEvent,
    SyncStatus,
    WebhookEvent,
    WebhookStatus,
)

# An unpublished event older than this was not delivered by its on-commit enqueue nor by the
# sweep that runs each minute: something keeps failing.
STUCK_AFTER = timedelta(minutes=5)
WEBHOOK_PROBLEM_WINDOW = timedelta(days=7)

_SYNC_ROW_FIELDS = (
    "id",
    "entity_type",
    "entity_id",
    "external_system",
    "external_entity_id",
    "sync_status",
    "retry_count",
    "max_retries",
    "next_retry_at",
    "last_error",
    "last_error_at",
    "conflict_fields",
    "updated_at",
)


def sync_get(*, sync_id) -> ExternalSystemSync | None:
    """The whole row (services need every field to transition it), or None."""
    return ExternalSystemSync.objects.filter(pk=sync_id).first()


def sync_attention_list(
    *,
    system: str | None = None,
    status: str | None = None,
    exhausted_only: bool = False,
) -> QuerySet[ExternalSystemSync]:
    """Failed and conflicting syncs, most recently changed first. `status` narrows to one of
    them; `exhausted_only` keeps the failed syncs whose automatic retries are used up
    (retry_count reached max_retries), which only a person can send again."""
    statuses = [status] if status else list(ATTENTION_STATUSES)
    syncs = ExternalSystemSync.objects.filter(sync_status__in=statuses)
    if system:
        syncs = syncs.filter(external_system=system)
    if exhausted_only:
        syncs = syncs.filter(sync_status=SyncStatus.FAILED, retry_count__gte=F("max_retries"))
    return syncs.only(*_SYNC_ROW_FIELDS).order_by("-updated_at", "pk")


def event_stuck_list(*, older_than: timedelta = STUCK_AFTER) -> QuerySet[IntegrationEvent]:
    """Outbox events still unpublished after `older_than`, oldest first."""
    cutoff = timezone.now() - older_than
    return (
        IntegrationEvent.objects.filter(published=False, occurred_at__lte=cutoff)
        .only(
            "id",
            "event_type",
            "aggregate_type",
            "aggregate_id",
            "publish_attempts",
            "last_publish_error",
            "occurred_at",
        )
        .order_by("occurred_at", "pk")
    )


def webhook_problem_list(
    *, within: timedelta = WEBHOOK_PROBLEM_WINDOW, waiting_after: timedelta = STUCK_AFTER
) -> QuerySet[WebhookEvent]:
    """Inbound webhooks that failed in their handlers or were rejected (bad signature) in the
    last `within`, and those still waiting to be processed `waiting_after` they arrived
    (their task was lost: the webhook sweep queues them again), newest first."""
    now = timezone.now()
    return (
        WebhookEvent.objects.filter(
            Q(
                status__in=[WebhookStatus.FAILED, WebhookStatus.REJECTED],
                received_at__gte=now - within,
            )
            | Q(status=WebhookStatus.RECEIVED, received_at__lte=now - waiting_after)
        )
        .only(
            "id",
            "provider",
            "external_id",
            "event_type",
            "status",
            "signature_valid",
            "received_at",
            "source_ip",
            "body_size",
            "body_sha256",
            "attempts",
            "error",
        )
        .order_by("-received_at", "pk")
    )


def syncs_with_owners(syncs: Iterable[ExternalSystemSync]) -> list[ExternalSystemSync]:
    """`syncs` as a list, each with `owner`: the SyncOwner (merchant id and name) of the
    entity it sends, or None. One query per entity type among them, whatever their number."""
    syncs = list(syncs)
    ids_by_type: dict[str, set] = defaultdict(set)
    for sync in syncs:
        ids_by_type[sync.entity_type].add(sync.entity_id)
    found = {
        entity_type: owners.owners_of(entity_type, ids) for entity_type, ids in ids_by_type.items()
    }
    for sync in syncs:
        sync.owner = found[sync.entity_type].get(sync.entity_id)
    return syncs
