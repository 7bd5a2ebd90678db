"""Staff workspace views: thin, the figures come from apps.staff.selectors, the actions go
through apps.staff.services (which call the domain apps' services).

The merchant hub's actions are plain POST forms (they work without JavaScript): done, a
redirect back to the hub with the message; refused, the hub again with the refusal at the
action, 422 for a form or rule refusal, 403 when the role may not, 409 when the item changed
state meanwhile. Nothing changes on a refusal.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from apps.accounts import roles
from apps.core.errors import ActionForbidden, DomainError
from apps.core.permissions import role_required, user_has_role
from apps.routing.selectors import user_role_names
from apps.routing.services.checks import agent_works_queue_type
from apps.staff import forms, services
from apps.staff.selectors import home as home_selectors
from apps.staff.selectors import merchant as merchant_selectors

HOME = "staff/home.html"
MERCHANT = "staff/merchant.html"

DONE = {
    services.NOTE: "Note added.",
    services.INTERVENTION_RAISE: "IC intervention raised: the merchant waits in {queue}.",
    services.INTERVENTION_RESOLVE: "IC intervention resolved.",
    services.CALL_BACK: "Call back requested: the lead waits in {queue}.",
}
ACTIONS = {
    services.NOTE: (
        forms.NoteForm,
        lambda m, u, r, d: services.merchant_note_add(
            merchant=m, actor=u, role_names=r, target=d["target"], body=d["body"]
        ),
    ),
    services.INTERVENTION_RAISE: (
        forms.InterventionRaiseForm,
        lambda m, u, r, d: services.merchant_intervention_raise(
            merchant=m, actor=u, role_names=r, reason=d["reason"]
        ),
    ),
    services.INTERVENTION_RESOLVE: (
        forms.InterventionResolveForm,
        lambda m, u, r, d: services.merchant_intervention_resolve(
            merchant=m, actor=u, role_names=r, note=d["note"]
        ),
    ),
    services.CALL_BACK: (
        forms.CallBackForm,
        lambda m, u, r, d: services.merchant_call_back_request(
            merchant=m, actor=u, role_names=r, why=d["why"]
        ),
    ),
}


@role_required(*roles.STAFF_ROLES)
@require_GET
def home(request):
    sections = home_selectors.staff_home(user=request.user)
    return render(request, HOME, {"home": sections, "roles": roles})


def _merchant_or_404(merchant_id):
    merchant = merchant_selectors.merchant_hub_get(merchant_id=merchant_id)
    if merchant is None:
        raise Http404("No such merchant.")
    return merchant


def _note_targets(user, hub, role_names: set[str]) -> list[tuple[str, str]]:
    """Where this user may leave a note: open queue items of queues they work (waiting, or
    held by them), and open alerts when they work alerts."""
    targets = []
    for item in hub.open_items:
        held_by_other = item.assigned_to_id not in (None, user.pk) and not user.is_superuser
        if agent_works_queue_type(user, item.queue.queue_type) and not held_by_other:
            targets.append((f"item:{item.pk}", f"{item.queue.queue_name} item"))
    if user.is_superuser or role_names & set(services.ALERT_ROLES):
        for alert in hub.alerts:
            step = f", step {alert.step_id}" if alert.step_id else ""
            targets.append((f"alert:{alert.pk}", f"{alert.get_alert_type_display()} alert{step}"))
    return targets


def _hub_context(request, merchant, *, refused_action: str = "", refusal: str = "", form=None):
    user = request.user
    role_names = user_role_names(user)
    hub = merchant_selectors.merchant_hub(merchant=merchant)
    allowed = {
        action: services.action_allowed(user, action, role_names) for action in services.ACTIONS
    }
    return {
        "hub": hub,
        "merchant": merchant,
        "lead": merchant.lead,
        "allowed": allowed,
        "note_targets": _note_targets(user, hub, role_names) if allowed[services.NOTE] else [],
        "can_audit": user.is_superuser or roles.COMPLIANCE in role_names,
        # The rule of integrations:sync_retry itself (role_required(roles.OPS)).
        "can_retry_syncs": user_has_role(user, roles.OPS),
        "refused_action": refused_action,
        "refusal": refusal,
        "form": form,
        "actions": services,
    }


@role_required(*roles.STAFF_ROLES)
@require_GET
def merchant_detail(request, merchant_id):
    merchant = _merchant_or_404(merchant_id)
    return render(request, MERCHANT, _hub_context(request, merchant))


@role_required(*roles.STAFF_ROLES)
@require_POST
def merchant_action(request, merchant_id, action):
    if action not in ACTIONS:
        raise Http404("No such action.")
    merchant = _merchant_or_404(merchant_id)
    role_names = user_role_names(request.user)
    if not services.action_allowed(request.user, action, role_names):
        raise PermissionDenied(
            services.NOT_YOUR_ACTION.format(action=services.ACTION_NAMES[action])
        )
    form_class, perform = ACTIONS[action]
    form = form_class(request.POST)
    if not form.is_valid():
        return _refused(request, merchant, action, forms.first_error(form), 422, form)
    try:
        result = perform(merchant, request.user, role_names, form.cleaned_data)
    except ActionForbidden as exc:
        return _refused(request, merchant, action, exc.message, 403, form)
    except DomainError as exc:
        status = 422 if exc.status_code == 400 else exc.status_code
        return _refused(request, merchant, action, exc.message, status, form)
    queue = getattr(getattr(result, "queue", None), "queue_name", "")
    messages.success(request, DONE[action].format(queue=queue))
    return redirect("staff:merchant", merchant_id=merchant.pk)


def _refused(request, merchant, action: str, message: str, status: int, form):
    context = _hub_context(request, merchant, refused_action=action, refusal=message, form=form)
    return render(request, MERCHANT, context, status=status)
