"""The auto-assign policy (DESIGN.md rule 6): who gets a waiting item without claiming it.

`assignment_auto_assign` gives a waiting item to the eligible agent with the fewest open
items, ties to the longest idle. It runs after commit: when an item is queued in an auto-assign
queue, when an item is released (to another agent than the one who let it go), and when an
agent finishes an item (resolve, escalate, withdraw) — then the top waiting item of that queue
type gets the freed slot (`queue_fill_freed_slot`). Nothing else moves items around.
"""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, F, Max, Min, Q
from django.utils import timezone
from django_q.tasks import async_task

from apps.core.errors import DomainError
from apps.routing.models import (
    HELD_STATUSES,
    QUEUE_ROLE,
    AssignmentStatus,
    QueueAssignment,
    RoutingQueue,
)
from apps.routing.services.checks import AGENT_AT_CAPACITY, _lock_agent_under_capacity
from apps.routing.services.claims import assignment_assign

# django-q2 task names (apps/routing/tasks.py): enqueued after commit by the use cases above.
AUTO_ASSIGN_TASK = "apps.routing.tasks.assignment_auto_assign"
FILL_FREED_SLOT_TASK = "apps.routing.tasks.queue_fill_freed_slot"


def eligible_agent(queue: RoutingQueue, *, exclude_agent_id=None):
    """The agent an item of `queue` goes to, or None: active, in the queue type's role group,
    holding fewer open items than their limit; the fewest open items first, then the longest
    idle (oldest latest assigned_at, never assigned first), then by id for a stable answer.
    One query, whatever the number of agents."""
    role = QUEUE_ROLE.get(queue.queue_type)
    if role is None:
        return None
    agents = (
        get_user_model()
        .objects.filter(is_active=True, groups__name=role)
        .annotate(
            open_items=Count(
                "queue_assignments",
                filter=Q(queue_assignments__status__in=HELD_STATUSES),
                distinct=True,
            ),
            last_assigned_at=Max("queue_assignments__assigned_at"),
        )
        .filter(open_items__lt=F("max_open_assignments"))
        .order_by("open_items", F("last_assigned_at").asc(nulls_first=True), "pk")
    )
    if exclude_agent_id is not None:
        agents = agents.exclude(pk=exclude_agent_id)
    return agents.first()


def _auto_assign_locked(item: QueueAssignment, *, exclude_agent_id=None) -> QueueAssignment:
    """Give a locked, queued item to the eligible agent, if any. A concurrent assignment may
    fill the chosen agent first: then the next one is tried (their row lock decides)."""
    for _attempt in range(3):
        agent = eligible_agent(item.queue, exclude_agent_id=exclude_agent_id)
        if agent is None:
            return item
        try:
            with transaction.atomic():
                _lock_agent_under_capacity(agent, AGENT_AT_CAPACITY)
                return assignment_assign(assignment=item, agent=agent, actor=None, auto=True)
        except DomainError as exc:
            if exc.code != "at_capacity":
                raise
    return item


def assignment_auto_assign(*, assignment: QueueAssignment, exclude_agent=None) -> QueueAssignment:
    """Offer a waiting item of an auto-assign queue to the eligible agent (see
    `eligible_agent`); with nobody eligible it stays queued for a claim. An item already
    taken, or locked by a claim in flight, is left alone. Returns the item as it is now."""
    with transaction.atomic():
        item = (
            QueueAssignment.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("queue")
            .filter(pk=assignment.pk, status=AssignmentStatus.QUEUED)
            .first()
        )
        if item is None or not item.queue.auto_assign or not item.queue.is_active:
            return QueueAssignment.objects.select_related("queue").get(pk=assignment.pk)
        return _auto_assign_locked(
            item, exclude_agent_id=exclude_agent.pk if exclude_agent is not None else None
        )


def _waiting_for_auto_assign(queued_before=None):
    """Items waiting in an active auto-assign queue (queued before `queued_before`, if given)."""
    items = QueueAssignment.objects.filter(
        status=AssignmentStatus.QUEUED, queue__auto_assign=True, queue__is_active=True
    )
    if queued_before is not None:
        items = items.filter(queued_at__lte=queued_before)
    return items


def queue_fill_freed_slot(*, queue_type: str, queued_before=None) -> QueueAssignment | None:
    """An agent of `queue_type` finished an item: offer the top waiting item of that type's
    auto-assign queues (by overflow_rank, then priority, then age) to the eligible agent.
    `queued_before`: only items waiting since then (the sweep). Returns the item assigned,
    or None (nothing waiting, or nobody eligible)."""
    with transaction.atomic():
        item = (
            _waiting_for_auto_assign(queued_before)
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("queue")
            .filter(queue__queue_type=queue_type)
            .order_by("queue__overflow_rank", "-priority", "queued_at", "pk")
            .first()
        )
        if item is None:
            return None
        item = _auto_assign_locked(item)
        return item if item.status == AssignmentStatus.ASSIGNED else None


# --- Recovery (apps/core/recovery.py) --------------------------------------------------------
# The auto-assign tasks carry only ids: one lost (a worker killed, a failure acknowledged)
# leaves its item waiting although an agent has room. Auto-assign runs within seconds, so an
# item waiting longer than this in an auto-assign queue is offered again by the sweep.
AUTO_ASSIGN_GRACE = timedelta(minutes=5)
SWEEP_LIMIT = 200


def waiting_for_auto_assign_stuck():
    """(count, oldest queued_at) of the items waiting past the grace period: one query."""
    cutoff = timezone.now() - AUTO_ASSIGN_GRACE
    return _waiting_for_auto_assign(cutoff).aggregate(count=Count("pk"), oldest=Min("queued_at"))


def assignments_auto_assign_sweep(*, force: bool = False, limit: int = SWEEP_LIMIT) -> int:
    """Offer every item waiting past AUTO_ASSIGN_GRACE in an auto-assign queue to an eligible
    agent, top item first per queue type, until nobody of that type has room: the work done
    is bounded by the free slots, not by the length of the queues. Idempotent by the state
    itself: only a queued item is assigned, under its row lock (a queued task finding it
    assigned does nothing). `force` changes nothing (there are no claims). Returns how many
    items were assigned."""
    cutoff = timezone.now() - AUTO_ASSIGN_GRACE
    queue_types = list(
        _waiting_for_auto_assign(cutoff)
        .order_by()
        .values_list("queue__queue_type", flat=True)
        .distinct()
    )
    assigned = 0
    for queue_type in queue_types:
        while assigned < limit:
            if queue_fill_freed_slot(queue_type=queue_type, queued_before=cutoff) is None:
                break
            assigned += 1
    return assigned


def _after_capacity_freed(queue: RoutingQueue) -> None:
    queue_type = queue.queue_type
    transaction.on_commit(lambda: async_task(FILL_FREED_SLOT_TASK, queue_type))
