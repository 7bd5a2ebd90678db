"""The outbox: a domain event recorded in the transaction of the change it describes, and
`transition_perform`, the shape every state-changing use case shares (STYLE.md "State
machines"): transition, history who/why, save and its event, in one transaction.

Every domain app writes through here; this module imports no domain app."""

from django.db import transaction
from django.utils import timezone

from apps.core.db import row_values, rows_insert
from apps.core.fsm import transition_apply
from apps.integrations.dispatch import dispatch_request
from apps.integrations.models import IntegrationEvent


def enqueue_delivery(event_id) -> None:
    """Have a committed event delivered: a dispatch is requested (at most one waits at a
    time, see dispatch.py), never one task per event."""
    dispatch_request([event_id])


def event_build(
    *,
    event_type: str,
    aggregate,
    payload: dict | None = None,
    correlation_id=None,
    causation_id=None,
) -> IntegrationEvent:
    """The outbox row of one domain event, not saved (event_emit saves one, events_emit many)."""
    return IntegrationEvent(
        event_type=event_type,
        aggregate_type=aggregate._meta.model_name,
        aggregate_id=aggregate.pk,
        event_payload=payload or {},
        correlation_id=correlation_id,
        causation_id=causation_id,
        partition_key=str(aggregate.pk),
    )


def event_values(*, event_type: str, aggregate_type: str, aggregate_id, payload: dict) -> dict:
    """The outbox row of one domain event as a row_values dict, for events_emit: what
    event_build makes, without a model instance (the sweeps' thousands of events)."""
    moment = timezone.now()
    return row_values(
        IntegrationEvent,
        now=moment,
        occurred_at=moment,
        available_at=moment,  # deliverable at once
        event_type=event_type,
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        event_payload=payload,
        partition_key=str(aggregate_id),
    )


def event_emit(
    *,
    event_type: str,
    aggregate,
    payload: dict | None = None,
    correlation_id=None,
    causation_id=None,
) -> IntegrationEvent:
    """Record a domain event in the caller's transaction (the outbox); its delivery is
    enqueued only once that transaction commits, so a rollback sends nothing."""
    event = event_build(
        event_type=event_type,
        aggregate=aggregate,
        payload=payload,
        correlation_id=correlation_id,
        causation_id=causation_id,
    )
    event.save(force_insert=True)
    # robust: the change is committed whatever happens to the request (broker away, database
    # blip); an event nobody dispatched is picked up by the outbox sweep, never a 500.
    transaction.on_commit(lambda: enqueue_delivery(event.pk), robust=True)
    return event


def events_enqueue(event_ids: list) -> None:
    """Have many committed events delivered: one dispatch request for the set (the
    dispatcher claims them in batches), never one task per event or chunk."""
    dispatch_request(list(event_ids))


def events_emit(events: list) -> list:
    """Record many events (built with event_build or event_values) with one INSERT (COPY) in
    the caller's transaction: the set-based sweeps' outbox. After commit one dispatch is
    requested (the outbox sweep delivers any event nobody dispatched)."""
    if not events:
        return events
    rows_insert(IntegrationEvent, events)  # one COPY on PostgreSQL
    ids = [event["id"] if isinstance(event, dict) else event.pk for event in events]
    transaction.on_commit(lambda: events_enqueue(ids), robust=True)
    return events


def state_field_value(instance, transition_name: str):
    method = getattr(instance, transition_name)
    return method._django_fsm.field.get_state(instance)


def transition_perform(
    instance,
    transition_name: str,
    *,
    actor,
    reason: str,
    event_type: str | None = None,
    payload: dict | None = None,
    params: dict | None = None,
):
    """In one transaction: perform the transition (checks, history who/why, save) and record
    its event in the outbox, delivered after commit. `params` are the transition method's
    arguments. Returns the instance."""
    with transaction.atomic():
        before = state_field_value(instance, transition_name)
        transition_apply(
            instance, transition_name, actor=actor, change_reason=reason, **(params or {})
        )
        if event_type:
            event_emit(
                event_type=event_type,
                aggregate=instance,
                payload={
                    "from": str(before),
                    "to": str(state_field_value(instance, transition_name)),
                    "reason": reason,
                    "actor_id": str(actor.pk) if actor is not None else None,
                    **(payload or {}),
                },
            )
    return instance
