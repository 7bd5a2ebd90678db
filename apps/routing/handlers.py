"""Outbox handlers of the routing app (registered on import by RoutingConfig.ready()).
Delivery is at least once: each handler re-reads the lead and is idempotent."""

from apps.integrations import registry
from apps.leads.models import Lead
from apps.routing.models import QueueAssignment
from apps.routing.services.auto_assign import assignment_auto_assign
from apps.routing.services.routing import lead_route


def _actor(event):
    """Who caused the event (an AE overriding a cohort), for the history; None: the system."""
    from django.contrib.auth import get_user_model

    actor_id = (event.event_payload or {}).get("actor_id")
    if not actor_id:
        return None
    return get_user_model().objects.filter(pk=actor_id).first()


@registry.handles("lead.profiled")
@registry.handles("lead.cohort_changed")
def route_profiled_lead(event) -> None:
    """A lead was profiled or its cohort changed: put it in (or take it out of) an AE queue."""
    lead = Lead.objects.filter(pk=event.aggregate_id).first()
    if lead is None:
        return
    lead_route(lead=lead, actor=_actor(event))


@registry.handles("assignment.queued")
def auto_assign_queued(event) -> None:
    """An item queued in an auto-assign queue is offered to an agent (one outbox delivery in
    the dispatcher's batch rather than a broker task per item; idempotent: an item already
    taken is left alone)."""
    item = QueueAssignment.objects.select_related("queue").filter(pk=event.aggregate_id).first()
    if item is None or not item.queue.auto_assign:
        return
    assignment_auto_assign(assignment=item)
