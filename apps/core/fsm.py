"""The one way a service performs a state transition (STYLE.md "State machines").

    transition_apply(merchant, "kyb_approve", actor=user, change_reason="kyb_approve: ...")

checks that the transition is allowed from the current state, that its guards hold and
that the actor may perform it, then calls it, records who and why for the history table,
and saves. A refusal raises a DomainError whose message says what is wrong in the
domain's words; nothing is written.
"""

from collections.abc import Callable

from django.db import transaction
from django_fsm import ConcurrentTransition, can_proceed, has_transition_perm

from apps.core.errors import ActionForbidden, TransitionRefused


def guard(message: str) -> Callable:
    """Mark a transition condition with the message shown when it does not hold."""

    def decorate(condition: Callable) -> Callable:
        condition.message = message
        return condition

    return decorate


def _meta(method):
    return method._django_fsm


def unmet_conditions(instance, transition_name: str) -> list[str]:
    method = getattr(instance, transition_name)
    meta = _meta(method)
    state = meta.field.get_state(instance)
    transition = meta.get_transition(state)
    if transition is None:
        return []
    return [
        getattr(condition, "message", condition.__name__)
        for condition in transition.conditions
        if not condition(instance)
    ]


def transition_label(method) -> str:
    """The human words for a transition ("approve KYB"), from its custom={"label": ...}."""
    for transition in _meta(method).transitions.values():
        if transition.custom.get("label"):
            return transition.custom["label"]
    return method.__name__.replace("_", " ")


def transition_apply(instance, transition_name: str, *, actor, change_reason: str, **kwargs):
    """Perform `transition_name` on `instance` and save it. `actor=None` means the system
    (a provider decision, a scheduled sweep): permission checks apply to people only."""
    method = getattr(instance, transition_name)
    meta = _meta(method)
    state = meta.field.get_state(instance)
    label = transition_label(method)
    noun = instance._meta.verbose_name
    if not can_proceed(method, check_conditions=False):
        field = meta.field
        state_label = dict(field.flatchoices).get(state, state)
        raise TransitionRefused(
            f"This {noun}'s {field.verbose_name} is “{state_label}”: it cannot {label} now.",
            code="transition_not_allowed",
        )
    unmet = unmet_conditions(instance, transition_name)
    if unmet:
        raise TransitionRefused(" ".join(unmet), code="guard_failed")
    if actor is not None and not has_transition_perm(method, actor):
        raise ActionForbidden(
            f"You do not have permission to {label} this {noun}.", code="permission_denied"
        )
    result = method(**kwargs)
    save_tracked(instance, actor=actor, reason=change_reason)
    return result


def available_transitions(instance, field_name: str) -> list[str]:
    """Names of the transitions allowed now from the instance's current state."""
    getter = getattr(instance, f"get_available_{field_name}_transitions")
    return [t.name for t in getter()]


CHANGED_MEANWHILE = "This {noun} was changed by someone else in the meantime. Reload and try again."


def save_tracked(instance, *, actor, reason: str, update_fields=None):
    """Save a change to a history-tracked row, with who and why. A state-machine row whose
    state changed in the database since it was read (a double click, two people at once)
    is not saved: TransitionRefused "concurrent_transition" says so, never a 500."""
    instance._history_user = actor
    instance._change_reason = reason
    try:
        # Its own savepoint: a refused save leaves the caller's transaction usable.
        with transaction.atomic():
            instance.save(update_fields=update_fields)
    except ConcurrentTransition as exc:
        noun = instance._meta.verbose_name
        raise TransitionRefused(
            CHANGED_MEANWHILE.format(noun=noun), code="concurrent_transition"
        ) from exc
