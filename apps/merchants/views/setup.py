"""Steps 9 and 10: hardware setup (a checklist) and final configuration with "Go live";
plus what every guided-setup page (steps 7-10 and the bank account) answers alike.

Every page is one template whose main section is a partial: htmx requests get the partial
(a refusal or a form error comes back as 409/422, retargeted at the section, which the page
lets htmx swap), plain requests the whole page; a plain POST that works redirects back with
a message. A page whose step cannot start yet says which steps come first and links them.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import reswap, retarget

from apps.core.errors import ActionForbidden, DomainError, TransitionRefused
from apps.merchants.access import merchant_required
from apps.merchants.forms_setup import ChecklistItemForm, FinalConfigForm
from apps.merchants.models import Merchant
from apps.merchants.selectors.bank import bank_account_current
from apps.merchants.selectors.setup import (
    HARDWARE_CHECKLIST,
    final_config_choices,
    hardware_checklist,
    hardware_ordered,
    hardware_setup_available,
)
from apps.merchants.selectors.steps import (
    FINAL_CONFIG_STEP,
    HARDWARE_SETUP_STEP,
    merchant_step,
    required_steps_missing,
    step_gate,
    step_page_url,
)
from apps.merchants.selectors.steps import (
    page_url as step_page_url_named,
)
from apps.merchants.services import setup, steps

HARDWARE_TEMPLATE = "merchants/hardware_setup.html"
FINAL_TEMPLATE = "merchants/final_config.html"
# The go-live form's checkbox: going live without a verified bank account, payouts held.
CONFIRM_PAYOUTS_HELD = "confirm_payouts_held"
ITEM_DONE = "“{label}” done."
ITEM_UNDONE = "“{label}” marked as not done."
HARDWARE_DONE = "Hardware set up: step 9 is complete."
NO_HARDWARE_DONE = "No hardware to set up: step 9 is complete."
CONFIG_SAVED = "Your choices are saved."
LIVE = "Congratulations, your business is live!"
BAD_CHOICE = "That choice is not one of the options."


# --- What every setup page does ---------------------------------------------------------------


def fresh_merchant(request) -> Merchant:
    """The merchant as stored now (request.merchant was read before the service ran)."""
    return Merchant.objects.select_related("lead").get(pk=request.merchant.pk)


def page_response(request, template: str, context: dict, *, main: str, status: int = 200):
    """The whole page, or for htmx its main partial (id == main with "_" as "-")."""
    if not request.htmx:
        return render(request, template, context, status=status)
    response = render(request, f"{template}#{main}", context, status=status)
    if status >= 400:
        retarget(response, "#" + main.replace("_", "-"))
        reswap(response, "outerHTML")
    return response


def refusal_status(exc: DomainError) -> int:
    """409 when the state refuses (a step locked, a check under way), 422 for bad input."""
    return 409 if isinstance(exc, TransitionRefused) else 422


def call_service(call):
    """Run a service; a missing permission is a 403, other refusals are returned."""
    try:
        call()
    except ActionForbidden as exc:
        raise PermissionDenied(exc.message) from exc
    except DomainError as exc:
        return exc
    return None


def done_response(request, *, url_name: str, notice: str, rerender):
    """A POST that worked: a redirect with the message, or for htmx the fresh partial."""
    if request.htmx:
        return rerender(notice)
    messages.success(request, notice)
    return redirect(url_name)


def gate_context(merchant: Merchant, step_id: int) -> dict:
    gate = step_gate(merchant=merchant, step_id=step_id)
    return {
        "gate": gate,
        "locked": not gate.open,
        "locked_message": "" if gate.open else steps.step_locked_message(gate),
    }


# --- Step 9: hardware setup -------------------------------------------------------------------


def _hardware_context(request, *, error: str = "", notice: str = "") -> dict:
    merchant = fresh_merchant(request)
    context = {"merchant": merchant, "error": error, "notice": notice}
    context.update(gate_context(merchant, HARDWARE_SETUP_STEP))
    available = hardware_setup_available(merchant)
    context["available"] = available
    if context["locked"] or not available:
        context["locked"] = True
        context["locked_message"] = context["locked_message"] or available.reason
        return context
    progress = context["gate"].progress
    context["checklist"] = hardware_checklist(progress)
    context["software_only"] = hardware_ordered(merchant=merchant) is False
    context["done"] = context["gate"].done
    context["next_url"] = step_page_url(FINAL_CONFIG_STEP)
    return context


def _hardware_page(request, *, status: int = 200, **context):
    return page_response(
        request,
        HARDWARE_TEMPLATE,
        _hardware_context(request, **context),
        main="hardware_main",
        status=status,
    )


@merchant_required
@require_http_methods(["GET"])
def hardware_setup(request):
    """/hardware-setup/: the checklist, or why it is not open yet."""
    return _hardware_page(request)


@merchant_required
@require_POST
def hardware_setup_item(request, item: str):
    """Tick or untick one checklist item (POST done=1|0); the last one completes step 9."""
    labels = dict(HARDWARE_CHECKLIST)
    form = ChecklistItemForm(request.POST)
    if item not in labels or not form.is_valid():
        return _hardware_page(
            request,
            error=setup.HARDWARE_ITEM_UNKNOWN if item not in labels else BAD_CHOICE,
            status=422,
        )
    done = form.cleaned_data["done"]
    refusal = call_service(
        lambda: setup.hardware_setup_item_set(
            merchant=request.merchant, item=item, done=done, actor=request.user
        )
    )
    if refusal is not None:
        return _hardware_page(request, error=refusal.message, status=refusal_status(refusal))
    notice = (ITEM_DONE if done else ITEM_UNDONE).format(label=labels[item])
    if step_gate(merchant=request.merchant, step_id=HARDWARE_SETUP_STEP).done:
        notice = HARDWARE_DONE
    return done_response(
        request,
        url_name="merchants:hardware_setup",
        notice=notice,
        rerender=lambda message: _hardware_page(request, notice=message),
    )


@merchant_required
@require_POST
def hardware_setup_no_hardware(request):
    """A software-only merchant completes step 9: nothing to set up."""
    refusal = call_service(
        lambda: setup.hardware_setup_complete_without_hardware(
            merchant=request.merchant, actor=request.user
        )
    )
    if refusal is not None:
        return _hardware_page(request, error=refusal.message, status=refusal_status(refusal))
    return done_response(
        request,
        url_name="merchants:hardware_setup",
        notice=NO_HARDWARE_DONE,
        rerender=lambda message: _hardware_page(request, notice=message),
    )


# --- Step 10: final configuration and going live ----------------------------------------------


def _final_context(request, *, form=None, error: str = "", notice: str = "") -> dict:
    merchant = fresh_merchant(request)
    context = {"merchant": merchant, "error": error, "notice": notice}
    context.update(gate_context(merchant, FINAL_CONFIG_STEP))
    if context["locked"]:
        return context
    context["form"] = form or FinalConfigForm(
        initial={"integrations": final_config_choices(context["gate"].progress)}
    )
    context["bank"] = bank_account_current(merchant=merchant)
    context["bank_url"] = step_page_url_named("merchants:bank_account")
    context["missing"] = [
        (merchant_step(step.id, fallback=step.step_name), step_page_url(step.id))
        for step in required_steps_missing(merchant=merchant)
    ]
    return context


def _final_page(request, *, status: int = 200, **context):
    return page_response(
        request,
        FINAL_TEMPLATE,
        _final_context(request, **context),
        main="final_main",
        status=status,
    )


@merchant_required
@require_http_methods(["GET", "POST"])
def final_config(request):
    """/final-config/: GET the integrations and "Go live"; POST saves the integrations."""
    if request.method == "GET":
        return _final_page(request)
    form = FinalConfigForm(request.POST)
    if not form.is_valid():
        return _final_page(request, form=form, error=BAD_CHOICE, status=422)
    refusal = call_service(
        lambda: setup.final_config_save(
            merchant=request.merchant,
            integrations=form.cleaned_data["integrations"],
            actor=request.user,
        )
    )
    if refusal is not None:
        return _final_page(request, error=refusal.message, status=refusal_status(refusal))
    return done_response(
        request,
        url_name="merchants:final_config",
        notice=CONFIG_SAVED,
        rerender=lambda message: _final_page(request, notice=message),
    )


@merchant_required
@require_POST
def go_live(request):
    """Every required step done → the merchant is active (and its lead converted)."""
    refusal = call_service(
        lambda: setup.merchant_go_live(
            merchant=request.merchant,
            actor=request.user,
            payouts_held_confirmed=request.POST.get(CONFIRM_PAYOUTS_HELD) == "yes",
        )
    )
    if refusal is not None:
        return _final_page(request, error=refusal.message, status=refusal_status(refusal))
    return done_response(
        request,
        url_name="merchants:final_config",
        notice=LIVE,
        rerender=lambda message: _final_page(request, notice=message),
    )
