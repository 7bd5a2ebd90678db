"""The shape every state-changing use case shares (STYLE.md "State machines")."""

from django.db import transaction

from apps.core.fsm import transition_apply


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
    from apps.integrations.services import event_emit

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
