"""What the holder does with an item: contact, start, resolve, release, reassign, escalate,
and what routing does when a lead no longer needs its queue: withdraw.

Only the agent holding an item works it; superusers may act for anyone. A refused transition
leaves the item in memory as it was. Finishing an item (resolve, escalate, withdraw) offers
the freed slot to the next waiting item after commit (apps.routing.services.auto_assign).
"""

from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from apps.core.errors import DomainError
from apps.integrations.outbox import transition_perform
from apps.leads.models import LeadStatus
from apps.leads.services import lead_mark_contacted
from apps.routing.models import HELD_STATUSES, AssignmentStatus, QueueAssignment, sla_is_breached
from apps.routing.services.auto_assign import AUTO_ASSIGN_TASK, _after_capacity_freed
from apps.routing.services.checks import (
    AGENT_AT_CAPACITY,
    AGENT_INACTIVE,
    _check_holder,
    _check_role,
    _lock_agent_under_capacity,
    _require_reason,
)
from apps.routing.services.claims import _lead_owner_follows, _set_agent
from apps.routing.services.sla import _mark_breached


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
                transaction.on_commit(lambda: async_task(AUTO_ASSIGN_TASK, item_id, releaser_id))
    except DomainError:
        assignment.assigned_to, assignment.assigned_at, assignment.reason = previous
        raise
    return assignment


def assignment_record_contact(*, assignment: QueueAssignment, actor) -> QueueAssignment:
    """First contact stops the SLA clock; the lead becomes contacted. Contact after the
    deadline marks the item breached (once) but raises no alert: the alert exists to get the
    lead contacted, which has now happened."""
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
