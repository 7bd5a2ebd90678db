"""The SLA sweep (DESIGN.md rule 7): marks each overdue, uncontacted item breached, once.

The SLA clock runs from `queued_at` to `sla_due_at`. The deadline is inclusive
(`apps.routing.models.sla_is_breached`): contact at exactly `sla_due_at` is on time, and an
item is breached only once the clock is strictly past it. Each breach the sweep marks runs the
callbacks registered with `apps.routing.hooks.on_sla_breach` (progress raises one `sla_breach`
alert) in the transaction that marks it.
"""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from apps.core.fsm import save_tracked
from apps.integrations.outbox import event_emit
from apps.routing import hooks
from apps.routing.models import OPEN_ASSIGNMENT_STATUSES, QueueAssignment, sla_is_breached


def _mark_breached(assignment: QueueAssignment, *, now: datetime, actor, why: str) -> None:
    assignment.sla_breached = True
    assignment.sla_breached_at = now
    save_tracked(
        assignment,
        actor=actor,
        reason=f"assignment_sla_breach: {why}",
        update_fields=["sla_breached", "sla_breached_at", "updated_at"],
    )
    event_emit(
        event_type="assignment.sla_breached",
        aggregate=assignment,
        payload={
            "queue": assignment.queue.code,
            "sla_due_at": assignment.sla_due_at.isoformat(),
            "why": why,
        },
    )


def assignment_mark_sla_breached(*, assignment_id, now: datetime | None = None):
    """Mark one overdue, uncontacted open item breached and run the SLA-breach callbacks
    (apps.routing.hooks: progress raises its sla_breach alert) in the same transaction.
    Idempotent: the row is locked and re-read, and an item already breached, contacted,
    closed or not yet due is left alone. Returns the item marked, or None when nothing was due."""
    now = now or timezone.now()
    with transaction.atomic():
        item = (
            QueueAssignment.objects.select_for_update(of=("self",))
            .select_related("queue")
            .filter(pk=assignment_id)
            .first()
        )
        if (
            item is None
            or item.sla_breached
            or item.first_contact_at is not None
            or item.status not in OPEN_ASSIGNMENT_STATUSES
            or not sla_is_breached(item.sla_due_at, now)
        ):
            return None
        minutes = item.queue.sla_minutes
        _mark_breached(item, now=now, actor=None, why=f"not contacted within {minutes} minutes")
        hooks.sla_breach_notify(assignment=item)
        return item


def assignments_sla_sweep(*, now: datetime | None = None) -> int:
    """The scheduled SLA sweep: one query finds the open, uncontacted items strictly past
    their deadline and not yet breached; each is marked once with its alert. Running it
    again finds nothing new. Returns how many were marked."""
    now = now or timezone.now()
    due = list(
        QueueAssignment.objects.filter(
            status__in=OPEN_ASSIGNMENT_STATUSES,
            first_contact_at__isnull=True,
            sla_breached=False,
            sla_due_at__lt=now,
        )
        .order_by("sla_due_at", "pk")
        .values_list("pk", flat=True)
    )
    marked = 0
    for assignment_id in due:
        if assignment_mark_sla_breached(assignment_id=assignment_id, now=now) is not None:
            marked += 1
    return marked
