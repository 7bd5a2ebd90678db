"""What staff do from the merchant hub, each through the domain apps' own services, in one
transaction, refused (nothing changed) with a message a user can act on:

- `merchant_note_add`: a note on one of the merchant's open queue items or alerts (the note
  lives where the work is: routing's `assignment_add_note`, progress' `alert_note_add`);
- `merchant_intervention_raise`: put the merchant in the IC intervention queue with a reason
  (routing's `merchant_route_to_ic`);
- `merchant_intervention_resolve`: the IC closes the intervention: the open IC item is taken
  (if waiting), its contact recorded and resolved with the note; the alerts that raised it
  are resolved with the same words and the steps' intervention flags cleared;
- `merchant_call_back_request`: ask the merchant's account executive to call back (merchants'
  `merchant_call_request`: the lead goes to its cohort's AE queue).

Who may do what is `ACTION_ROLES` (superusers may do everything); the services called check
their own rules on top (only the holder works a held item, only ICs work IC queues...).
"""

import uuid

from django.db import transaction

from apps.accounts import roles
from apps.core.errors import ActionForbidden, DomainError
from apps.merchants.models import Merchant
from apps.merchants.services.accounts import merchant_call_request
from apps.progress.models import OPEN_ALERT_STATUSES, StallAlert
from apps.progress.services import alert_note_add, alert_resolve, step_intervention_clear
from apps.routing.models import (
    OPEN_ASSIGNMENT_STATUSES,
    AssignmentStatus,
    QueueAssignment,
    QueueType,
)
from apps.routing.services.assignments import assignment_record_contact, assignment_resolve
from apps.routing.services.claims import assignment_assign
from apps.routing.services.notes import assignment_add_note
from apps.routing.services.routing import merchant_route_to_ic

NOTE = "note"
INTERVENTION_RAISE = "intervention_raise"
INTERVENTION_RESOLVE = "intervention_resolve"
CALL_BACK = "call_back"

ACTION_ROLES = {
    NOTE: (roles.AE, roles.IC, roles.COMPLIANCE, roles.OPS),
    INTERVENTION_RAISE: (roles.AE, roles.IC, roles.OPS),
    INTERVENTION_RESOLVE: (roles.IC,),
    CALL_BACK: (roles.AE, roles.IC, roles.OPS),
}
ACTIONS = (NOTE, INTERVENTION_RAISE, INTERVENTION_RESOLVE, CALL_BACK)
ACTION_NAMES = {
    NOTE: "add a note",
    INTERVENTION_RAISE: "raise an IC intervention",
    INTERVENTION_RESOLVE: "resolve an IC intervention",
    CALL_BACK: "request a call back",
}
# Alerts are worked by these roles (the alerts inbox's).
ALERT_ROLES = (roles.AE, roles.IC, roles.OPS)

NOT_YOUR_ACTION = "Your role cannot {action} here."
NOTE_TARGET_UNKNOWN = (
    "Choose where the note goes: one of this merchant's open queue items or alerts."
)
NOTE_REQUIRED = "Write the note first: it cannot be empty."
NOTE_TOO_LONG = "Keep the note under {limit} characters."
NOTE_MAX_LENGTH = 2000
REASON_REQUIRED = "Say why the merchant needs an implementation consultant."
REASON_TOO_LONG = "Keep the reason under {limit} characters."
INTERVENTION_ALREADY_OPEN = (
    "This merchant already has an open IC intervention: work that one (or resolve it first)."
)
INTERVENTION_UNAVAILABLE = "No IC queue takes interventions right now: try again later."
NO_INTERVENTION = "This merchant has no open IC intervention to resolve."
RESOLUTION_REQUIRED = "Say what was done to resolve the intervention."
CALL_BACK_REASON = "{who} asked the account executive to call the merchant back: {why}"
CALL_BACK_WHY_REQUIRED = "Say why the merchant should be called back."


def action_allowed(user, action: str, role_names: set[str]) -> bool:
    if not user.is_active:
        return False
    return user.is_superuser or bool(role_names & set(ACTION_ROLES[action]))


def _check_allowed(user, action: str, role_names: set[str]) -> None:
    if not action_allowed(user, action, role_names):
        raise ActionForbidden(
            NOT_YOUR_ACTION.format(action=ACTION_NAMES[action]), code="wrong_role"
        )


def _text(value: str, *, required: str, limit: int, too_long: str) -> str:
    text = (value or "").strip()
    if not text:
        raise DomainError(required, code="required")
    if len(text) > limit:
        raise DomainError(too_long.format(limit=limit), code="too_long")
    return text


def _open_items(merchant: Merchant):
    return QueueAssignment.objects.filter(
        merchant_id=merchant.pk, status__in=OPEN_ASSIGNMENT_STATUSES
    ) | QueueAssignment.objects.filter(
        lead_id=merchant.lead_id, status__in=OPEN_ASSIGNMENT_STATUSES
    )


def _open_ic_item(merchant: Merchant, *, lock: bool = False) -> QueueAssignment | None:
    items = _open_items(merchant).filter(queue__queue_type=QueueType.IC)
    if lock:
        items = QueueAssignment.objects.select_for_update(of=("self",)).filter(
            pk__in=list(items.values_list("pk", flat=True))
        )
    return items.select_related("queue", "lead", "assigned_to").order_by("queued_at", "pk").first()


def merchant_note_add(*, merchant: Merchant, actor, role_names: set[str], target: str, body: str):
    """`target` is "item:<id>" or "alert:<id>", one of the merchant's open ones."""
    _check_allowed(actor, NOTE, role_names)
    body = _text(
        body,
        required=NOTE_REQUIRED,
        limit=NOTE_MAX_LENGTH,
        too_long=NOTE_TOO_LONG,
    )
    kind, _, object_id = (target or "").partition(":")
    try:
        object_id = uuid.UUID(object_id)
    except ValueError:
        raise DomainError(NOTE_TARGET_UNKNOWN, code="unknown_target") from None
    if kind == "item":
        item = _open_items(merchant).select_related("queue", "assigned_to").filter(pk=object_id)
        item = item.first()
        if item is not None:
            return assignment_add_note(assignment=item, actor=actor, body=body)
    elif kind == "alert":
        alert = StallAlert.objects.filter(
            pk=object_id, merchant=merchant, alert_status__in=OPEN_ALERT_STATUSES
        ).first()
        if alert is not None:
            if not (actor.is_superuser or role_names & set(ALERT_ROLES)):
                raise ActionForbidden(
                    NOT_YOUR_ACTION.format(action="note an alert"), code="wrong_role"
                )
            return alert_note_add(alert=alert, actor=actor, body=body)
    raise DomainError(NOTE_TARGET_UNKNOWN, code="unknown_target")


def merchant_intervention_raise(*, merchant: Merchant, actor, role_names: set[str], reason: str):
    _check_allowed(actor, INTERVENTION_RAISE, role_names)
    reason = _text(reason, required=REASON_REQUIRED, limit=1000, too_long=REASON_TOO_LONG)
    with transaction.atomic():
        if _open_ic_item(merchant, lock=True) is not None:
            raise DomainError(INTERVENTION_ALREADY_OPEN, code="already_open")
        item = merchant_route_to_ic(
            merchant=merchant, reason=f"{reason} (raised by {actor.email})", actor=actor
        )
        if item is None:
            raise DomainError(INTERVENTION_UNAVAILABLE, code="no_ic_queue")
    return item


def merchant_intervention_resolve(
    *, merchant: Merchant, actor, role_names: set[str], note: str
) -> QueueAssignment:
    _check_allowed(actor, INTERVENTION_RESOLVE, role_names)
    note = _text(note, required=RESOLUTION_REQUIRED, limit=NOTE_MAX_LENGTH, too_long=NOTE_TOO_LONG)
    with transaction.atomic():
        item = _open_ic_item(merchant, lock=True)
        if item is None:
            raise DomainError(NO_INTERVENTION, code="no_intervention")
        if item.status == AssignmentStatus.QUEUED:
            assignment_assign(assignment=item, agent=actor, actor=actor)
        if item.status == AssignmentStatus.ASSIGNED:
            assignment_record_contact(assignment=item, actor=actor)
        assignment_resolve(assignment=item, actor=actor, note=note)
        alerts = StallAlert.objects.filter(
            queue_assignment=item, alert_status__in=OPEN_ALERT_STATUSES
        ).select_related("assigned_to")
        for alert in alerts:
            alert_resolve(alert=alert, actor=actor, action=note)
        step_intervention_clear(merchant=merchant, actor=actor, reason=note[:200])
    return item


def merchant_call_back_request(
    *, merchant: Merchant, actor, role_names: set[str], why: str
) -> QueueAssignment:
    _check_allowed(actor, CALL_BACK, role_names)
    why = _text(why, required=CALL_BACK_WHY_REQUIRED, limit=1000, too_long=REASON_TOO_LONG)
    return merchant_call_request(
        merchant=merchant,
        actor=actor,
        reason=CALL_BACK_REASON.format(who=actor.email, why=why),
    )
