"""The refusals every routing use case shares, and their messages (tests and forms import them).

Who may work what: the agent must be in the queue type's role group (`agent_works_queue_type`),
only the holder works a held item (superusers and the system may act for anyone), an agent
never holds more than `max_open_assignments` open items, and a hand-off needs a reason.
"""

from django.contrib.auth import get_user_model

from apps.core.errors import ActionForbidden, DomainError
from apps.routing.models import HELD_STATUSES, QUEUE_ROLE, QueueAssignment, QueueType, RoutingQueue

REASON_REQUIRED = "Give a reason: the next person reads it."
AGENT_INACTIVE = "That agent's account is inactive."
NOT_YOUR_ITEM = (
    "Another agent holds this item: only they can work it (they can release or reassign it)."
)
AT_CAPACITY = (
    "You already hold as many open items as your limit allows: "
    "resolve or release one before taking another."
)
AGENT_AT_CAPACITY = "That agent already holds as many open items as their limit allows."
WRONG_ROLE = "Only {people} work the {queue} queue."

QUEUE_PEOPLE = {
    QueueType.AE: "account executives",
    QueueType.IC: "implementation consultants",
    QueueType.COMPLIANCE: "compliance reviewers",
}


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
