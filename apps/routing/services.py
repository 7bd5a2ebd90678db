"""Routing use cases: which queue a lead goes to, who takes it, and its SLA clock.

Contracts a caller relies on (DESIGN.md rules 6-7):

- `lead_route` puts an assisted or managed lead in one AE queue (never a second open AE item
  for the same lead), the high-priority queue when its GTV estimate is at least $2M or it has
  10+ locations; a full queue (`max_queue_size` items waiting) overflows to the next active
  queue of the same type by `overflow_rank`. A self-serve lead goes to no queue, and one that
  became self-serve has its open AE item withdrawn.
- Auto-assign (`assignment_auto_assign`) gives a waiting item to the eligible agent with the
  fewest open items, ties to the longest idle. It runs after commit: when an item is queued
  in an auto-assign queue, when an item is released (to another agent than the one who let
  it go), and when an agent finishes an item (resolve, escalate, withdraw) — then the top
  waiting item of that queue type gets the freed slot. Nothing else moves items around.
- `assignment_claim_next` is race-free: the top waiting item is locked with
  `SELECT ... FOR UPDATE SKIP LOCKED`, so two agents never get the same item and a claim never
  waits behind another; `None` means nothing is waiting.
- Only the agent holding an item works it (contact, start, resolve, release, reassign,
  escalate, notes); superusers may act for anyone.
- The SLA clock runs from `queued_at` to `sla_due_at`. The deadline is inclusive: contact at
  exactly `sla_due_at` is on time, and an item is breached only once the clock is strictly past
  it. The sweep marks a breach once and raises one `sla_breach` alert.
"""

import logging
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, F, Max, Q
from django.utils import timezone
from django_q.tasks import async_task

from apps.accounts import roles
from apps.core.errors import ActionForbidden, DomainError
from apps.core.fsm import save_tracked
from apps.integrations.outbox import transition_perform
from apps.routing.models import (
    OPEN_ASSIGNMENT_STATUSES,
    AssignmentNote,
    AssignmentStatus,
    QueueAssignment,
    QueueType,
    RoutingQueue,
)

logger = logging.getLogger("apps.routing")

REASON_REQUIRED = "Give a reason: the next person reads it."
AGENT_INACTIVE = "That agent's account is inactive."
NOTE_REQUIRED = "Write the note first: it cannot be empty."
NOT_YOUR_ITEM = (
    "Another agent holds this item: only they can work it (they can release or reassign it)."
)
AT_CAPACITY = (
    "You already hold as many open items as your limit allows: "
    "resolve or release one before taking another."
)
AGENT_AT_CAPACITY = "That agent already holds as many open items as their limit allows."
WRONG_ROLE = "Only {people} work the {queue} queue."
QUEUE_INACTIVE = "The {queue} queue is closed: nothing can be claimed from it."

# Items an agent holds: they count against `User.max_open_assignments`.
HELD_STATUSES = [
    AssignmentStatus.ASSIGNED,
    AssignmentStatus.CONTACTED,
    AssignmentStatus.IN_PROGRESS,
]
# Who works each type of queue (and may be given its items).
QUEUE_ROLE = {
    QueueType.AE: roles.AE,
    QueueType.IC: roles.IC,
    QueueType.COMPLIANCE: roles.COMPLIANCE,
}
QUEUE_PEOPLE = {
    QueueType.AE: "account executives",
    QueueType.IC: "implementation consultants",
    QueueType.COMPLIANCE: "compliance reviewers",
}

# Routing of leads (DESIGN.md rule 6).
HIGH_PRIORITY_QUEUE = "ae_high_priority"
STANDARD_QUEUE = "ae_standard"
IC_INTERVENTION_QUEUE = "ic_intervention"
HIGH_PRIORITY_GTV = Decimal("2000000")
HIGH_PRIORITY_LOCATIONS = 10
AE_COHORTS = ("assisted", "managed")
SELF_SERVE_REASON = "the lead is self-serve now: no account executive needed"

AUTO_ASSIGN_TASK = "apps.routing.tasks.assignment_auto_assign"
FILL_FREED_SLOT_TASK = "apps.routing.tasks.queue_fill_freed_slot"


# --- who may work what ----------------------------------------------------------------------


def _queue_label(queue: RoutingQueue) -> str:
    return queue.queue_name or queue.code


def agent_works_queue_type(agent, queue_type: str) -> bool:
    """True for a superuser or a member of the role group that works this queue type."""
    if agent.is_superuser:
        return True
    role = QUEUE_ROLE.get(queue_type)
    return role is not None and agent.groups.filter(name=role).exists()


def _check_role(agent, queue: RoutingQueue) -> None:
    if not agent_works_queue_type(agent, queue.queue_type):
        raise ActionForbidden(
            WRONG_ROLE.format(people=QUEUE_PEOPLE[queue.queue_type], queue=_queue_label(queue)),
            code="wrong_role",
        )


def _check_holder(assignment: QueueAssignment, actor) -> None:
    """Refuse when someone other than the actor holds the item (a system actor passes)."""
    if actor is None or actor.is_superuser:
        return
    if assignment.assigned_to_id is not None and assignment.assigned_to_id != actor.pk:
        raise ActionForbidden(NOT_YOUR_ITEM, code="not_your_item")


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(REASON_REQUIRED, code="reason_required")
    return reason


def agent_open_count(agent) -> int:
    return QueueAssignment.objects.filter(assigned_to=agent, status__in=HELD_STATUSES).count()


def _lock_agent_under_capacity(agent, message: str):
    """Lock the agent's row (so two assignments to one agent are counted one after the other)
    and refuse when they already hold their limit. Call inside a transaction."""
    locked = get_user_model().objects.select_for_update().get(pk=agent.pk)
    if agent_open_count(locked) >= locked.max_open_assignments:
        raise DomainError(message, code="at_capacity")
    return locked


# --- enqueue and routing --------------------------------------------------------------------


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
    the item is offered to an agent once this transaction commits."""
    now = timezone.now()
    assignment = QueueAssignment(
        queue=queue,
        lead=lead,
        merchant=merchant,
        priority=priority,
        reason=reason,
        queued_at=now,
        sla_due_at=now + timedelta(minutes=queue.sla_minutes) if queue.sla_minutes else None,
    )
    with transaction.atomic():
        save_tracked(assignment, actor=actor, reason=f"assignment_enqueue: {reason or queue.code}")
        from apps.integrations.outbox import event_emit

        event_emit(
            event_type="assignment.queued",
            aggregate=assignment,
            payload={"queue": queue.code, "priority": priority},
        )
        if queue.auto_assign:
            assignment_id = str(assignment.pk)
            transaction.on_commit(lambda: async_task(AUTO_ASSIGN_TASK, assignment_id))
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
    from apps.integrations.outbox import event_emit
    from apps.leads.models import OPEN_LEAD_STATUSES, Lead

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
    from apps.integrations.outbox import event_emit

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


# --- auto-assign ----------------------------------------------------------------------------


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


def queue_fill_freed_slot(*, queue_type: str) -> QueueAssignment | None:
    """An agent of `queue_type` finished an item: offer the top waiting item of that type's
    auto-assign queues (by overflow_rank, then priority, then age) to the eligible agent.
    Returns the item assigned, or None."""
    with transaction.atomic():
        item = (
            QueueAssignment.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("queue")
            .filter(
                status=AssignmentStatus.QUEUED,
                queue__queue_type=queue_type,
                queue__auto_assign=True,
                queue__is_active=True,
            )
            .order_by("queue__overflow_rank", "-priority", "queued_at", "pk")
            .first()
        )
        if item is None:
            return None
        item = _auto_assign_locked(item)
        return item if item.status == AssignmentStatus.ASSIGNED else None


def _after_capacity_freed(queue: RoutingQueue) -> None:
    queue_type = queue.queue_type
    transaction.on_commit(lambda: async_task(FILL_FREED_SLOT_TASK, queue_type))


# --- claim and transitions ------------------------------------------------------------------


def _set_agent(assignment: QueueAssignment, agent) -> None:
    if not agent.is_active:
        raise DomainError(AGENT_INACTIVE, code="agent_inactive")
    assignment.assigned_to = agent
    assignment.assigned_at = timezone.now()


def _lead_owner_follows(assignment: QueueAssignment, agent, actor) -> None:
    """An AE who takes a lead from an AE queue becomes the lead's account executive."""
    if assignment.queue.queue_type != QueueType.AE or assignment.lead_id is None:
        return
    if not agent.groups.filter(name=roles.AE).exists():
        return
    from apps.leads.services import lead_assign_ae

    lead_assign_ae(
        lead=assignment.lead, ae=agent, actor=actor, reason=f"took it from {assignment.queue.code}"
    )


def assignment_assign(
    *, assignment: QueueAssignment, agent, actor, auto: bool = False
) -> QueueAssignment:
    """Give a queued item to an agent (a claim when agent is the actor, auto-assign when the
    actor is None). The agent must work this type of queue and be under their limit."""
    previous = (assignment.assigned_to, assignment.assigned_at, assignment.auto_assigned)
    if not agent.is_active:
        raise DomainError(AGENT_INACTIVE, code="agent_inactive")
    _check_role(agent, assignment.queue)
    try:
        with transaction.atomic():
            _lock_agent_under_capacity(agent, AT_CAPACITY if agent == actor else AGENT_AT_CAPACITY)
            _set_agent(assignment, agent)
            assignment.auto_assigned = auto
            transition_perform(
                assignment,
                "assign",
                actor=actor,
                reason=f"assignment_assign: {'auto' if auto else 'claimed'} to {agent.email}",
                event_type="assignment.assigned",
                payload={"agent_id": str(agent.pk), "auto": auto},
            )
            _lead_owner_follows(assignment, agent, actor)
    except DomainError:
        assignment.assigned_to, assignment.assigned_at, assignment.auto_assigned = previous
        raise
    return assignment


def assignment_claim_next(*, queue: RoutingQueue, actor) -> QueueAssignment | None:
    """The actor takes the top waiting item of `queue` (highest priority, then oldest).
    Race-free: rows locked by another claim in flight are skipped, never waited for, so
    concurrent claims each get a different item or None. None: nothing is waiting.
    Refused (nothing changes) when the actor does not work this queue, lacks the permission,
    or already holds their limit of open items."""
    if not queue.is_active:
        raise DomainError(QUEUE_INACTIVE.format(queue=_queue_label(queue)), code="queue_inactive")
    if not actor.is_active:
        raise DomainError(AGENT_INACTIVE, code="agent_inactive")
    _check_role(actor, queue)
    if not actor.has_perm("routing.work_queue"):
        raise ActionForbidden(
            "You do not have permission to claim queue items.", code="permission_denied"
        )
    with transaction.atomic():
        _lock_agent_under_capacity(actor, AT_CAPACITY)
        item = (
            QueueAssignment.objects.select_for_update(skip_locked=True)
            .filter(queue=queue, status=AssignmentStatus.QUEUED)
            .order_by("-priority", "queued_at", "pk")
            .first()
        )
        if item is None:
            return None
        item.queue = queue
        assignment_assign(assignment=item, agent=actor, actor=actor)
    return item


def assignment_reassign(
    *, assignment: QueueAssignment, agent, actor, reason: str
) -> QueueAssignment:
    """The holder hands the item to another agent of the same role, with a reason."""
    reason = _require_reason(reason)
    _check_holder(assignment, actor)
    previous = (assignment.assigned_to, assignment.assigned_at, assignment.reason)
    if not agent.is_active:
        raise DomainError(AGENT_INACTIVE, code="agent_inactive")
    try:
        with transaction.atomic():
            if assignment.status == AssignmentStatus.ASSIGNED:
                _check_role(agent, assignment.queue)
                _lock_agent_under_capacity(agent, AGENT_AT_CAPACITY)
            _set_agent(assignment, agent)
            assignment.reason = reason
            transition_perform(
                assignment,
                "reassign",
                actor=actor,
                reason=f"assignment_reassign: {reason}",
                event_type="assignment.reassigned",
                payload={"agent_id": str(agent.pk)},
            )
            _lead_owner_follows(assignment, agent, actor)
    except DomainError:
        assignment.assigned_to, assignment.assigned_at, assignment.reason = previous
        raise
    return assignment


def assignment_release(*, assignment: QueueAssignment, actor, reason: str) -> QueueAssignment:
    """The holder gives the item back to the queue, with a reason; its SLA clock keeps running
    from the time it was queued. In an auto-assign queue it is then offered to another agent
    (never straight back to the one who released it)."""
    reason = _require_reason(reason)
    _check_holder(assignment, actor)
    previous = (assignment.assigned_to, assignment.assigned_at, assignment.reason)
    releaser = assignment.assigned_to
    assignment.assigned_to = None
    assignment.assigned_at = None
    assignment.reason = reason
    try:
        with transaction.atomic():
            transition_perform(
                assignment,
                "release",
                actor=actor,
                reason=f"assignment_release: {reason}",
                event_type="assignment.released",
            )
            if assignment.queue.auto_assign:
                item_id = str(assignment.pk)
                releaser_id = str(releaser.pk) if releaser is not None else None
                transaction.on_commit(
                    lambda: async_task(AUTO_ASSIGN_TASK, item_id, releaser_id)
                )
    except DomainError:
        assignment.assigned_to, assignment.assigned_at, assignment.reason = previous
        raise
    return assignment


def assignment_record_contact(*, assignment: QueueAssignment, actor) -> QueueAssignment:
    """First contact stops the SLA clock; the lead becomes contacted. Contact after the
    deadline marks the item breached (once) but raises no alert: the alert exists to get the
    lead contacted, which has now happened."""
    from apps.leads.models import LeadStatus
    from apps.leads.services import lead_mark_contacted

    _check_holder(assignment, actor)
    previous = assignment.first_contact_at
    with transaction.atomic():
        now = timezone.now()
        assignment.first_contact_at = now
        try:
            transition_perform(
                assignment,
                "record_contact",
                actor=actor,
                reason="assignment_record_contact",
                event_type="assignment.contacted",
            )
        except DomainError:
            assignment.first_contact_at = previous
            raise
        if sla_is_breached(assignment.sla_due_at, now) and not assignment.sla_breached:
            _mark_breached(assignment, now=now, actor=actor, why="first contact after the SLA")
        lead = assignment.lead
        if lead is not None and lead.status == LeadStatus.NEW:
            lead_mark_contacted(lead=lead, actor=actor, reason=f"via {assignment.queue.code}")
    return assignment


def assignment_start_work(*, assignment: QueueAssignment, actor) -> QueueAssignment:
    _check_holder(assignment, actor)
    return transition_perform(assignment, "start_work", actor=actor, reason="assignment_start_work")


def assignment_resolve(*, assignment: QueueAssignment, actor, note: str = "") -> QueueAssignment:
    """Done with the item; the freed slot goes to the next waiting item (auto-assign)."""
    _check_holder(assignment, actor)
    previous = assignment.resolved_at
    assignment.resolved_at = timezone.now()
    try:
        with transaction.atomic():
            transition_perform(
                assignment,
                "resolve",
                actor=actor,
                reason=f"assignment_resolve: {note or 'done'}",
                event_type="assignment.resolved",
            )
            _after_capacity_freed(assignment.queue)
    except DomainError:
        assignment.resolved_at = previous
        raise
    return assignment


def assignment_escalate(*, assignment: QueueAssignment, actor, reason: str) -> QueueAssignment:
    """Raise the item to someone more senior, with a reason; it leaves the agent's load."""
    reason = _require_reason(reason)
    _check_holder(assignment, actor)
    previous = assignment.reason
    held = assignment.status in HELD_STATUSES
    assignment.reason = reason
    try:
        with transaction.atomic():
            transition_perform(
                assignment,
                "escalate",
                actor=actor,
                reason=f"assignment_escalate: {reason}",
                event_type="assignment.escalated",
                payload={"why": reason},
            )
            if held:
                _after_capacity_freed(assignment.queue)
    except DomainError:
        assignment.reason = previous
        raise
    return assignment


def assignment_withdraw(*, assignment: QueueAssignment, actor=None, reason: str) -> QueueAssignment:
    """Routing takes an open item back (the lead no longer needs this queue): resolved, marked
    withdrawn, the reason kept on the row and in the history."""
    reason = _require_reason(reason)
    held = assignment.status in HELD_STATUSES
    now = timezone.now()
    previous = (assignment.reason, assignment.resolved_at, assignment.withdrawn_at)
    assignment.reason = reason
    assignment.resolved_at = now
    assignment.withdrawn_at = now
    try:
        with transaction.atomic():
            transition_perform(
                assignment,
                "withdraw",
                actor=actor,
                reason=f"assignment_withdraw: {reason}",
                event_type="assignment.withdrawn",
                payload={"why": reason},
            )
            if held:
                _after_capacity_freed(assignment.queue)
    except DomainError:
        assignment.reason, assignment.resolved_at, assignment.withdrawn_at = previous
        raise
    return assignment


def assignment_add_note(*, assignment: QueueAssignment, actor, body: str) -> AssignmentNote:
    """A note for the next person, by the holder (or, on a waiting item, anyone who works the
    queue). Kept with its author and time; never edited."""
    body = (body or "").strip()
    if not body:
        raise DomainError(NOTE_REQUIRED, code="note_required")
    _check_role(actor, assignment.queue)
    _check_holder(assignment, actor)
    note = AssignmentNote(assignment=assignment, author=actor, body=body)
    save_tracked(note, actor=actor, reason="assignment_add_note")
    return note


# --- SLA ------------------------------------------------------------------------------------


def sla_is_breached(due_at: datetime | None, now: datetime) -> bool:
    """The deadline is inclusive: due at 10:00:00, contact at 10:00:00 is on time and the
    item is breached from any instant after it (the sweep uses `sla_due_at < now`)."""
    return due_at is not None and now > due_at


def _mark_breached(assignment: QueueAssignment, *, now: datetime, actor, why: str) -> None:
    from apps.integrations.outbox import event_emit

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
    """Mark one overdue, uncontacted open item breached and raise its sla_breach alert.
    Idempotent: the row is locked and re-read, and an item already breached, contacted,
    closed or not yet due is left alone. Returns the alert, or None when nothing was due."""
    from apps.progress.services import alert_raise_sla_breach

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
        return alert_raise_sla_breach(assignment=item)


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
