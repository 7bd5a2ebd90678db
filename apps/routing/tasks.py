"""django-q2 entry points: take ids, re-read the rows, call one service; safe to run twice."""

from apps.routing.models import QueueAssignment
from apps.routing.services import auto_assign, sla


def sla_sweep():
    """Scheduled every 5 minutes as "sla-sweep" (apps/demo/reference.py)."""
    return sla.assignments_sla_sweep()


def assignment_auto_assign(assignment_id: str, exclude_agent_id: str | None = None):
    from django.contrib.auth import get_user_model

    assignment = QueueAssignment.objects.filter(pk=assignment_id).first()
    if assignment is None:
        return None
    exclude = (
        get_user_model().objects.filter(pk=exclude_agent_id).first() if exclude_agent_id else None
    )
    item = auto_assign.assignment_auto_assign(assignment=assignment, exclude_agent=exclude)
    return item.status


def queue_fill_freed_slot(queue_type: str):
    item = auto_assign.queue_fill_freed_slot(queue_type=queue_type)
    return str(item.pk) if item else None


def auto_assign_sweep():
    """Scheduled "auto-assign-sweep": items whose auto-assign task was lost."""
    from apps.core.recovery import recovery_run

    return recovery_run(key="auto-assign").recovered
