"""Which queue a lead or merchant goes to (DESIGN.md rule 6), and `assignment_enqueue`.

`lead_route` puts an assisted or managed lead in one AE queue (never a second open AE item
for the same lead), the high-priority queue when its GTV estimate is at least $2M or it has
10+ locations; a full queue (`max_queue_size` items waiting) overflows to the next active
queue of the same type by `overflow_rank`. A self-serve lead goes to no queue, and one that
became self-serve has its open AE item withdrawn. An item's SLA clock starts when it is queued.
"""

import logging
from decimal import Decimal

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from apps.core.fsm import save_tracked
from apps.integrations.outbox import event_emit
from apps.leads.models import OPEN_LEAD_STATUSES, Lead
from apps.routing.models import (
    OPEN_ASSIGNMENT_STATUSES,
    AssignmentStatus,
    QueueAssignment,
    QueueType,
    RoutingQueue,
)
from apps.routing.services.assignments import assignment_withdraw
from apps.routing.services.checks import _require_reason

logger = logging.getLogger("apps.routing")

# Routing of leads (DESIGN.md rule 6).
HIGH_PRIORITY_QUEUE = "ae_high_priority"
STANDARD_QUEUE = "ae_standard"
IC_INTERVENTION_QUEUE = "ic_intervention"
HIGH_PRIORITY_GTV = Decimal("2000000")
HIGH_PRIORITY_LOCATIONS = 10
AE_COHORTS = ("assisted", "managed")
SELF_SERVE_REASON = "the lead is self-serve now: no account executive needed"


def assignment_enqueue(
    *,
    queue: RoutingQueue,
    lead=None,
    merchant=None,
    priority: int = 0,
    reason: str = "",
    actor=None,
) -> QueueAssignment:
    """Put a lead or merchant in a queue; its SLA clock starts now. In an auto-assign queue
    the item is offered to an agent by the outbox handler of its assignment.queued event
    (routing/handlers.py): in the dispatcher's batches, and found again by the outbox sweep
    if that delivery is lost."""
    now = timezone.now()
    warn_at, due_at = queue.sla_deadlines(now)  # business time when the queue has a calendar
    assignment = QueueAssignment(
        queue=queue,
        lead=lead,
        merchant=merchant,
        priority=priority,
        reason=reason,
        queued_at=now,
        sla_due_at=due_at,
        sla_warn_at=warn_at,
    )
    with transaction.atomic():
        save_tracked(assignment, actor=actor, reason=f"assignment_enqueue: {reason or queue.code}")
        event_emit(
            event_type="assignment.queued",
            aggregate=assignment,
            payload={"queue": queue.code, "priority": priority},
        )
    return assignment


def lead_is_high_priority(lead) -> bool:
    """GTV estimate of $2M or more, or 10+ locations (spec "Routing Decision Factors")."""
    gtv = lead.annual_revenue_estimate or Decimal(0)
    return gtv >= HIGH_PRIORITY_GTV or (lead.number_of_locations or 0) >= HIGH_PRIORITY_LOCATIONS


def lead_priority(lead) -> int:
    """Bigger leads sort first: one point per $10,000 of annual GTV estimate (capped at 1,000,
    i.e. $10M) plus ten points per location (capped at 100 locations). A $2M single-location
    lead scores 210, a $500k lead with 10 locations 150, a $350k single shop 45."""
    gtv = lead.annual_revenue_estimate or Decimal(0)
    locations = lead.number_of_locations or 0
    return min(int(gtv // 10_000), 1_000) + 10 * min(locations, 100)


def _open_assignments(queue_type: str, *, lead=None, merchant=None):
    items = QueueAssignment.objects.filter(
        queue__queue_type=queue_type, status__in=OPEN_ASSIGNMENT_STATUSES
    )
    return items.filter(lead=lead) if lead is not None else items.filter(merchant=merchant)


def _queue_with_room(queue_type: str, start_code: str) -> tuple[RoutingQueue | None, str]:
    """The queue an item of `queue_type` goes to, starting at `start_code` and overflowing by
    overflow_rank; returns (queue, note). The type's queues are locked (in one order, so no
    deadlock) until the caller commits, so two routings never both take the last place.
    "Full" means `max_queue_size` items waiting (queued, not yet taken by an agent)."""
    queues = list(
        RoutingQueue.objects.select_for_update()
        .filter(queue_type=queue_type)
        .order_by("overflow_rank", "code")
    )
    start = next((q for q in queues if q.code == start_code), None)
    active = [q for q in queues if q.is_active]
    candidates = [q for q in active if start is None or q.overflow_rank >= start.overflow_rank]
    if not candidates:
        # The wanted queue and every later one are closed: any open queue of the type.
        candidates = active
    if start is not None and start.is_active:
        candidates.remove(start)
        candidates.insert(0, start)
    if not candidates:
        logger.error(
            "routing: no active %s queue to take an item (wanted %s): nothing enqueued",
            queue_type,
            start_code,
        )
        return None, ""
    waiting = dict(
        QueueAssignment.objects.filter(queue__in=candidates, status=AssignmentStatus.QUEUED)
        .values("queue")
        .annotate(n=Count("pk"))
        .values_list("queue", "n")
    )
    for queue in candidates:
        if queue.max_queue_size is None or waiting.get(queue.pk, 0) < queue.max_queue_size:
            note = "" if queue.code == start_code else f"overflow from {start_code}"
            return queue, note
    last = candidates[-1]
    logger.warning(
        "routing: every active %s queue is full (from %s); %s takes the item over its "
        "max_queue_size of %s",
        queue_type,
        start_code,
        last.code,
        last.max_queue_size,
    )
    return last, f"every {queue_type} queue full: over capacity in {last.code}"


def lead_route(*, lead, actor=None) -> QueueAssignment | None:
    """Route a profiled lead (read fresh and locked, so two deliveries run one after the
    other). Returns its open AE item, or None when it needs none.

    - assisted / managed, lead still open: one AE item. An existing open (or escalated) AE
      item is kept as it is; an item resolved by an agent is not reopened (re-profiling does
      not hand finished work back), while one withdrawn because the lead had become
      self-serve is replaced by a new one.
    - self-serve: no queue; an open AE item is withdrawn with the reason.
    - not profiled yet, or closed (converted, lost, disqualified, deleted): nothing.
    """
    with transaction.atomic():
        lead = Lead.objects.select_for_update().get(pk=lead.pk)
        ae_items = QueueAssignment.objects.filter(lead=lead, queue__queue_type=QueueType.AE)
        if lead.cohort is None:
            return None
        if lead.cohort not in AE_COHORTS:
            for item in ae_items.filter(status__in=OPEN_ASSIGNMENT_STATUSES).select_related(
                "queue"
            ):
                assignment_withdraw(assignment=item, actor=actor, reason=SELF_SERVE_REASON)
            return None
        if lead.deleted_at is not None or lead.status not in OPEN_LEAD_STATUSES:
            return None
        current = ae_items.filter(
            status__in=[*OPEN_ASSIGNMENT_STATUSES, AssignmentStatus.ESCALATED]
        ).first()
        if current is not None:
            return current
        if ae_items.filter(status=AssignmentStatus.RESOLVED, withdrawn_at__isnull=True).exists():
            return None

        high = lead_is_high_priority(lead)
        start = HIGH_PRIORITY_QUEUE if high else STANDARD_QUEUE
        queue, overflow = _queue_with_room(QueueType.AE, start)
        if queue is None:
            return None
        priority = lead_priority(lead)
        why = f"{lead.cohort} lead" + (", high priority" if high else "")
        assignment = assignment_enqueue(
            queue=queue,
            lead=lead,
            priority=priority,
            reason=f"{why}; {overflow}" if overflow else why,
            actor=actor,
        )
        event_emit(
            event_type="lead.routed_to_ae",
            aggregate=lead,
            payload={
                "queue": queue.code,
                "assignment_id": str(assignment.pk),
                "priority": priority,
                "high_priority": high,
                "overflow": overflow,
            },
        )
    return assignment


def merchant_route_to_ic(
    *,
    merchant,
    reason: str,
    queue_code: str = IC_INTERVENTION_QUEUE,
    priority: int = 0,
    actor=None,
) -> QueueAssignment | None:
    """Put a merchant in an IC queue (a stalled self-serve merchant goes to ic_intervention),
    once: an open IC item for the merchant is returned as it is. Overflows like AE routing.
    Emits lead.routed_to_ic on the merchant's lead."""
    reason = _require_reason(reason)
    with transaction.atomic():
        lead = merchant.lead
        current = _open_assignments(QueueType.IC, lead=lead).first()
        if current is not None:
            return current
        queue, overflow = _queue_with_room(QueueType.IC, queue_code)
        if queue is None:
            return None
        assignment = assignment_enqueue(
            queue=queue,
            lead=lead,
            merchant=merchant,
            priority=priority,
            reason=f"{reason}; {overflow}" if overflow else reason,
            actor=actor,
        )
        event_emit(
            event_type="lead.routed_to_ic",
            aggregate=lead,
            payload={
                "queue": queue.code,
                "assignment_id": str(assignment.pk),
                "merchant_id": str(merchant.pk),
                "why": reason,
            },
        )
    return assignment
