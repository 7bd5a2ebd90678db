from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from apps.core.errors import DomainError
from apps.core.fsm import save_tracked
from apps.core.services import transition_perform
from apps.routing.models import QueueAssignment, RoutingQueue

REASON_REQUIRED = "Give a reason: the next person reads it."
AGENT_INACTIVE = "That agent's account is inactive."


def assignment_enqueue(
    *,
    queue: RoutingQueue,
    lead=None,
    merchant=None,
    priority: int = 0,
    reason: str = "",
    actor=None,
) -> QueueAssignment:
    """Put a lead or merchant in a queue; its SLA clock starts now."""
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
        from apps.integrations.services import event_emit

        event_emit(
            event_type="assignment.queued",
            aggregate=assignment,
            payload={"queue": queue.code, "priority": priority},
        )
    return assignment


def _set_agent(assignment: QueueAssignment, agent) -> None:
    if not agent.is_active:
        raise DomainError(AGENT_INACTIVE, code="agent_inactive")
    assignment.assigned_to = agent
    assignment.assigned_at = timezone.now()


def assignment_assign(
    *, assignment: QueueAssignment, agent, actor, auto: bool = False
) -> QueueAssignment:
    """Give a queued item to an agent (a claim when agent is the actor)."""
    previous = (assignment.assigned_to, assignment.assigned_at, assignment.auto_assigned)
    _set_agent(assignment, agent)
    assignment.auto_assigned = auto
    try:
        return transition_perform(
            assignment,
            "assign",
            actor=actor,
            reason=f"assignment_assign: {'auto' if auto else 'claimed'} to {agent.email}",
            event_type="assignment.assigned",
            payload={"agent_id": str(agent.pk), "auto": auto},
        )
    except DomainError:
        assignment.assigned_to, assignment.assigned_at, assignment.auto_assigned = previous
        raise


def assignment_reassign(
    *, assignment: QueueAssignment, agent, actor, reason: str
) -> QueueAssignment:
    if not reason.strip():
        raise DomainError(REASON_REQUIRED, code="reason_required")
    previous = (assignment.assigned_to, assignment.assigned_at)
    _set_agent(assignment, agent)
    assignment.reason = reason
    try:
        return transition_perform(
            assignment,
            "reassign",
            actor=actor,
            reason=f"assignment_reassign: {reason}",
            event_type="assignment.reassigned",
            payload={"agent_id": str(agent.pk)},
        )
    except DomainError:
        assignment.assigned_to, assignment.assigned_at = previous
        raise


def assignment_release(*, assignment: QueueAssignment, actor, reason: str) -> QueueAssignment:
    if not reason.strip():
        raise DomainError(REASON_REQUIRED, code="reason_required")
    assignment.assigned_to = None
    assignment.assigned_at = None
    assignment.reason = reason
    return transition_perform(
        assignment,
        "release",
        actor=actor,
        reason=f"assignment_release: {reason}",
        event_type="assignment.released",
    )


def assignment_record_contact(*, assignment: QueueAssignment, actor) -> QueueAssignment:
    """First contact stops the SLA clock; the lead becomes contacted."""
    from apps.leads.models import LeadStatus
    from apps.leads.services import lead_mark_contacted

    with transaction.atomic():
        assignment.first_contact_at = timezone.now()
        transition_perform(
            assignment,
            "record_contact",
            actor=actor,
            reason="assignment_record_contact",
            event_type="assignment.contacted",
        )
        lead = assignment.lead
        if lead is not None and lead.status == LeadStatus.NEW:
            lead_mark_contacted(lead=lead, actor=actor, reason=f"via {assignment.queue.code}")
    return assignment


def assignment_start_work(*, assignment: QueueAssignment, actor) -> QueueAssignment:
    return transition_perform(assignment, "start_work", actor=actor, reason="assignment_start_work")


def assignment_resolve(*, assignment: QueueAssignment, actor, note: str = "") -> QueueAssignment:
    assignment.resolved_at = timezone.now()
    return transition_perform(
        assignment,
        "resolve",
        actor=actor,
        reason=f"assignment_resolve: {note or 'done'}",
        event_type="assignment.resolved",
    )


def assignment_escalate(*, assignment: QueueAssignment, actor, reason: str) -> QueueAssignment:
    if not reason.strip():
        raise DomainError(REASON_REQUIRED, code="reason_required")
    assignment.reason = reason
    return transition_perform(
        assignment,
        "escalate",
        actor=actor,
        reason=f"assignment_escalate: {reason}",
        event_type="assignment.escalated",
        payload={"why": reason},
    )
