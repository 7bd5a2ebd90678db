"""An agent takes a waiting item: `assignment_claim_next` (the top one), `assignment_claim`
(the one they chose) or `assignment_assign`.

`assignment_claim_next` is race-free: the top waiting item is locked with
`SELECT ... FOR UPDATE SKIP LOCKED`, so two agents never get the same item and a claim never
waits behind another; `None` means nothing is waiting. An AE who takes a lead from an AE queue
becomes the lead's account executive.
"""

from django.db import transaction
from django.utils import timezone

from apps.accounts import roles
from apps.core.errors import ActionForbidden, DomainError, TransitionRefused
from apps.integrations.outbox import transition_perform
from apps.leads.services import lead_assign_ae
from apps.routing.models import (
    HELD_STATUSES,
    AssignmentStatus,
    QueueAssignment,
    QueueType,
    RoutingQueue,
)
from apps.routing.services.checks import (
    AGENT_AT_CAPACITY,
    AGENT_INACTIVE,
    AT_CAPACITY,
    _check_role,
    _lock_agent_under_capacity,
    _queue_label,
)

QUEUE_INACTIVE = "The {queue} queue is closed: nothing can be claimed from it."
ALREADY_TAKEN = "{holder} already took this item: choose another one, or claim next."
NOT_WAITING = "This item is {status}: only a waiting item can be claimed."
BEING_TAKEN = "Someone is taking this item right now: choose another one."


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


def _check_claimer(queue: RoutingQueue, actor) -> None:
    if not queue.is_active:
        raise DomainError(QUEUE_INACTIVE.format(queue=_queue_label(queue)), code="queue_inactive")
    if not actor.is_active:
        raise DomainError(AGENT_INACTIVE, code="agent_inactive")
    _check_role(actor, queue)
    if not actor.has_perm("routing.work_queue"):
        raise ActionForbidden(
            "You do not have permission to claim queue items.", code="permission_denied"
        )


def assignment_claim_next(*, queue: RoutingQueue, actor) -> QueueAssignment | None:
    """The actor takes the top waiting item of `queue` (highest priority, then oldest).
    Race-free: rows locked by another claim in flight are skipped, never waited for, so
    concurrent claims each get a different item or None. None: nothing is waiting.
    Refused (nothing changes) when the actor does not work this queue, lacks the permission,
    or already holds their limit of open items."""
    _check_claimer(queue, actor)
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


def assignment_claim(*, assignment: QueueAssignment, actor) -> QueueAssignment:
    """The actor takes the waiting item they chose. Race-free like claim-next: the row is
    locked without waiting (a claim in flight on it is refused, never waited for) and re-read,
    so an item someone else took a moment ago is refused with who has it. Refused too (nothing
    changes) when it is closed or escalated, when the actor does not work this queue or lacks
    the permission, or holds their limit of open items. Returns the item, now theirs."""
    queue = assignment.queue
    _check_claimer(queue, actor)
    with transaction.atomic():
        item = (
            QueueAssignment.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("assigned_to")
            .filter(pk=assignment.pk)
            .first()
        )
        if item is None:
            raise TransitionRefused(BEING_TAKEN, code="being_taken")
        if item.status != AssignmentStatus.QUEUED:
            if item.status in HELD_STATUSES and item.assigned_to is not None:
                holder = "You" if item.assigned_to == actor else item.assigned_to.get_full_name()
                message = ALREADY_TAKEN.format(holder=holder or item.assigned_to.email)
                raise TransitionRefused(message, code="already_taken")
            status = item.get_status_display().lower()
            raise TransitionRefused(NOT_WAITING.format(status=status), code="not_waiting")
        _lock_agent_under_capacity(actor, AT_CAPACITY)
        item.queue = queue
        assignment_assign(assignment=item, agent=actor, actor=actor)
    return item
