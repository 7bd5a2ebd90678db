"""No work silently dropped: the kinds of background work a sweep recovers from the database.

django-q2 runs with `ack_failures`, so a task that fails (a database restart, a killed worker
past its retries) is acknowledged and never run again. Whatever a task carried must therefore
be found again in the database. Each app that enqueues work registers here a `StuckKind`:

- `stuck`: a function returning `Stuck(count, oldest)` — how many items are stuck and since
  when — in one query, for the ops console (/staff/ops/integrations/);
- `sweep`: the function that sends them back to work, `sweep(force=False) -> int`. It is the
  body of a periodic job (apps/core/jobs.py PERIODIC_JOBS) and what "retry now" runs. Sweeps
  are set-based and idempotent: a stuck item is one whose state has not moved for a grace
  period, and an item a sweep re-queued is claimed (`claims_take`), so the next run does not
  queue it again while that work may still be waiting in the broker; `force` (an ops user's
  "retry now") ignores the claims, never the grace period.

Every run is recorded (RecoveryRun): the schedule's, and each "retry now" with who asked.
This module imports no app: kinds are registered by the apps' AppConfig.ready.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.tasks import async_task

from apps.core.errors import ActionForbidden, DomainError
from apps.core.models import RecoveryClaim, RecoveryRun

logger = logging.getLogger(__name__)

RETRY_FORBIDDEN = "Only ops may send stuck work back to the workers."
# Ops operate background jobs through the same permission as the schedules (apps/core/jobs.py).
RETRY_PERMISSION = "django_q.change_schedule"
UNKNOWN_KIND = "There is no stuck work called “{key}”."
CLAIM_BACKOFF_CAP = timedelta(hours=6)


@dataclass(frozen=True)
class Stuck:
    count: int
    oldest: datetime | None

    @property
    def age(self) -> timedelta | None:
        return timezone.now() - self.oldest if self.oldest else None


@dataclass(frozen=True)
class StuckKind:
    key: str  # a slug, in URLs and RecoveryRun.kind
    label: str  # what ops read: "Webhooks received but not processed"
    stuck: str  # dotted path: () -> Stuck
    sweep: str  # dotted path: (*, force: bool = False) -> int
    job: str  # the periodic job (apps/core/jobs.py) that runs the sweep
    explains: str = ""  # what "retry now" does, in one sentence


_kinds: dict[str, StuckKind] = {}


def stuck_kind_register(kind: StuckKind) -> StuckKind:
    _kinds[kind.key] = kind
    return kind


def stuck_kinds() -> list[StuckKind]:
    return list(_kinds.values())


def stuck_kind_get(key: str) -> StuckKind | None:
    return _kinds.get(key)


@dataclass(frozen=True)
class StuckRow:
    kind: StuckKind
    stuck: Stuck
    last_run: RecoveryRun | None


def stuck_summary() -> list[StuckRow]:
    """Each kind with its figures and its last run: two queries per kind (a handful of
    kinds), whatever the number of stuck items."""
    runs = RecoveryRun.objects.select_related("requested_by").order_by("-ran_at")
    return [
        StuckRow(
            kind=kind,
            stuck=import_string(kind.stuck)(),
            last_run=runs.filter(kind=kind.key).first(),
        )
        for kind in stuck_kinds()
    ]


def recovery_run(*, key: str, force: bool = False, actor=None) -> RecoveryRun:
    """Run one kind's sweep now and record the run (who asked, how many were stuck, how many
    went back to work)."""
    kind = stuck_kind_get(key)
    if kind is None:
        raise DomainError(UNKNOWN_KIND.format(key=key), code="unknown_kind")
    before = import_string(kind.stuck)()
    recovered = import_string(kind.sweep)(force=force)
    run = RecoveryRun.objects.create(
        kind=key, requested_by=actor, stuck=before.count, recovered=recovered
    )
    if before.count or recovered:
        logger.info("Recovery %s by %s: %s of %s", key, actor or "schedule", recovered, before)
    return run


def stuck_retry_now(*, key: str, actor) -> RecoveryRun:
    """An ops user's "retry now": the kind's sweep at once, claims ignored, audited."""
    if actor is None or not actor.has_perm(RETRY_PERMISSION):
        raise ActionForbidden(RETRY_FORBIDDEN)
    return recovery_run(key=key, force=True, actor=actor)


# --- Claims -----------------------------------------------------------------------------------


def claim_backoff(base: timedelta, attempts: int) -> timedelta:
    """base, 2×base, 4×base ... capped at CLAIM_BACKOFF_CAP."""
    return min(CLAIM_BACKOFF_CAP, base * 2 ** max(attempts - 1, 0))


def claims_take(*, kind: str, object_ids: list, interval: timedelta, force: bool = False) -> list:
    """Of `object_ids` (items found stuck, in the caller's transaction, locked by it), the
    ones to send back to work now: never claimed, or claimed and due again (or all with
    `force`). Their claims are written: one read, one upsert, whatever the number."""
    if not object_ids:
        return []
    now = timezone.now()
    existing = {
        claim.object_id: claim
        for claim in RecoveryClaim.objects.filter(kind=kind, object_id__in=object_ids)
    }
    taken, rows = [], []
    for object_id in object_ids:
        claim = existing.get(object_id)
        if claim is not None and claim.next_attempt_at > now and not force:
            continue
        attempts = (claim.attempts if claim else 0) + 1
        taken.append(object_id)
        rows.append(
            RecoveryClaim(
                kind=kind,
                object_id=object_id,
                attempts=attempts,
                claimed_at=now,
                next_attempt_at=now + claim_backoff(interval, attempts),
            )
        )
    RecoveryClaim.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["kind", "object_id"],
        update_fields=["attempts", "claimed_at", "next_attempt_at"],
    )
    return taken


def enqueue_each(task: str, object_ids: list) -> int:
    """Queue `task(object_id)` for each claimed item, after the claims committed. An enqueue
    that fails (broker away) is logged and left to the claim's next attempt. Returns how
    many were queued."""
    queued = 0
    for object_id in object_ids:
        try:
            async_task(task, str(object_id))
        except Exception:
            logger.exception("Recovery could not queue %s(%s)", task, object_id)
        else:
            queued += 1
    return queued


def claims_release(*, kind: str, still_stuck: QuerySet) -> int:
    """Forget the claims of items no longer stuck (they moved), so that an item stuck again
    later starts from a first attempt. `still_stuck`: a queryset of the stuck items' ids."""
    with transaction.atomic():
        deleted, _ = (
            RecoveryClaim.objects.filter(kind=kind).exclude(object_id__in=still_stuck).delete()
        )
    return deleted
