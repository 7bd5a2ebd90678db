"""The SLA sweep (DESIGN.md rule 7): marks each overdue, uncontacted item breached, once.

The SLA clock runs from `queued_at` to `sla_due_at` (in business time when the queue follows a
BusinessCalendar: apps.routing.calendars). The deadline is inclusive
(`apps.routing.models.sla_is_breached`): contact at exactly `sla_due_at` is on time, and an
item is breached only once the clock is strictly past it.

Set-based, a fixed number of queries whatever the number of items (issue 12: it used to run
~12 queries per item, 8,775 queries and 13 s for 1,146 breaches):

    UPDATE ... SET sla_breached ... WHERE <open, uncontacted, past due, not breached> RETURNING *
    SELECT the queues (a handful of rows)
    INSERT … SELECT the history rows from the table ("~", reason "assignment_sla_breach: not
    contacted within ...": apps.core.db.history_insert)
    INSERT the outbox events (assignment.sla_breached), delivered after commit in chunks
    the callbacks of apps.routing.hooks.on_sla_breach, once with the whole set (progress
    raises one sla_breach alert per item: one SELECT and three INSERTs)

The UPDATE locks the rows it changes and PostgreSQL re-checks its WHERE on a row another
transaction changed meanwhile (a contact recorded at that moment), so two sweeps, or a sweep
and a contact, never mark an item twice.
"""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from apps.core.db import history_insert
from apps.core.fsm import save_tracked
from apps.integrations.outbox import event_build, event_emit, events_emit
from apps.routing import hooks
from apps.routing.models import OPEN_ASSIGNMENT_STATUSES, QueueAssignment, RoutingQueue

BREACHED_EVENT = "assignment.sla_breached"


def _why_late(queue: RoutingQueue) -> str:
    business = " of business hours" if queue.business_calendar_id else ""
    return f"not contacted within {queue.sla_minutes} minutes{business}"


def _breach_payload(assignment: QueueAssignment, *, queue_code: str, why: str) -> dict:
    return {"queue": queue_code, "sla_due_at": assignment.sla_due_at.isoformat(), "why": why}


def _mark_breached(assignment: QueueAssignment, *, now: datetime, actor, why: str) -> None:
    """One item (a first contact recorded after the deadline): flag, history, event."""
    assignment.sla_breached = True
    assignment.sla_breached_at = now
    save_tracked(
        assignment,
        actor=actor,
        reason=f"assignment_sla_breach: {why}",
        update_fields=["sla_breached", "sla_breached_at", "updated_at"],
    )
    event_emit(
        event_type=BREACHED_EVENT,
        aggregate=assignment,
        payload=_breach_payload(assignment, queue_code=assignment.queue.code, why=why),
    )


def _breached_update(now: datetime, assignment_id=None) -> list[QueueAssignment]:
    """Flag every open, uncontacted, not yet breached item strictly past its deadline (or
    only `assignment_id`) with one UPDATE ... RETURNING; the rows come back as instances."""
    table = QueueAssignment._meta.db_table
    columns = ", ".join(f'"{field.column}"' for field in QueueAssignment._meta.concrete_fields)
    statuses = ", ".join(["%s"] * len(OPEN_ASSIGNMENT_STATUSES))
    sql = (
        f'UPDATE "{table}" SET "sla_breached" = %s, "sla_breached_at" = %s, "updated_at" = %s '
        f'WHERE "status" IN ({statuses}) AND "first_contact_at" IS NULL '
        f'AND "sla_breached" = %s AND "sla_due_at" < %s'
    )
    params = [True, now, now, *OPEN_ASSIGNMENT_STATUSES, False, now]
    if assignment_id is not None:
        sql += ' AND "id" = %s'
        params.append(assignment_id)
    sql += f" RETURNING {columns}"
    # raw() turns the returned columns into instances with the fields' converters applied.
    return list(QueueAssignment.objects.raw(sql, params))


def _breaches_mark(*, now: datetime, assignment_id=None) -> list[QueueAssignment]:
    """Mark the due items breached, with their history rows, outbox events and the
    SLA-breach callbacks, in a fixed number of queries. Returns the items marked, each with
    its queue loaded. The caller holds the transaction."""
    items = _breached_update(now, assignment_id)
    if not items:
        return items
    queues = RoutingQueue.objects.in_bulk()
    events = []
    for item in items:
        queue = queues[item.queue_id]
        item.queue = queue
        why = _why_late(queue)
        item._history_user = None  # the system: a scheduled sweep
        item._change_reason = f"assignment_sla_breach: {why}"
        payload = _breach_payload(item, queue_code=queue.code, why=why)
        events.append(event_build(event_type=BREACHED_EVENT, aggregate=item, payload=payload))
    history_insert(QueueAssignment, items, history_type="~", when=now)
    events_emit(events)
    hooks.sla_breaches_notify(assignments=items)
    return items


def assignment_mark_sla_breached(*, assignment_id, now: datetime | None = None):
    """Mark one overdue, uncontacted open item breached and run the SLA-breach callbacks
    (apps.routing.hooks: progress raises its sla_breach alert) in the same transaction.
    Idempotent: an item already breached, contacted, closed or not yet due is left alone.
    Returns the item marked, or None when nothing was due."""
    now = now or timezone.now()
    with transaction.atomic():
        items = _breaches_mark(now=now, assignment_id=assignment_id)
    return items[0] if items else None


def assignments_sla_sweep(*, now: datetime | None = None) -> int:
    """The scheduled SLA sweep: one UPDATE marks the open, uncontacted items strictly past
    their deadline and not yet breached; their history, events and alerts follow in bulk
    (module docstring). Running it again finds nothing new. Returns how many were marked."""
    now = now or timezone.now()
    with transaction.atomic():
        return len(_breaches_mark(now=now))
