"""Step 7: the business's representatives and owners, their identity checks (KYC) and the
activation of payments. The list polls while a check is under way; SSNs and dates of birth
are never shown again once entered (masked last four, "on file")."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRefresh

from apps.core.errors import TransitionRefused
from apps.merchants.access import merchant_required, owned_or_404
from apps.merchants.forms_setup import PII_RETYPE, PersonForm
from apps.merchants.models import MerchantPerson
from apps.merchants.selectors.bank import bank_account_current
from apps.merchants.selectors.kyc import kyc_overview
from apps.merchants.selectors.steps import (
    DATA_IMPORT_STEP,
    HARDWARE_SETUP_STEP,
    KYC_STEP,
    step_page_url,
)
from apps.merchants.services.kyc import (
    PERSON_LOCKED,
    merchant_kyc_submit,
    person_add,
    person_remove,
    person_update,
)
from apps.merchants.views.setup import (
    call_service,
    done_response,
    fresh_merchant,
    gate_context,
    page_response,
    refusal_status,
)

TEMPLATE = "merchants/kyc.html"
EDIT_TEMPLATE = "merchants/kyc_person_form.html"
PERSON_ADDED = "{name} was added. Add everyone else, then submit for verification."
PERSON_SAVED = "{name}'s details were saved."
PERSON_REMOVED = "{name} was removed."
KYC_SUBMITTED = "Sent for verification: {names}. The result shows here, usually in minutes."
POLL_SECONDS = 3


def _context(request, *, form=None, error: str = "", notice: str = "") -> dict:
    merchant = fresh_merchant(request)
    context = {"merchant": merchant, "error": error, "notice": notice}
    context.update(gate_context(merchant, KYC_STEP))
    if context["locked"]:
        return context
    overview = kyc_overview(merchant=merchant)
    can_change = not merchant.payments_activated
    # Everyone passed KYC; payments wait for the provider's account (created through the
    # outbox): a state waiting on us, polled like a check.
    opening_account = (
        can_change
        and bool(overview.persons)
        and all(person.kyc_status == "approved" for person in overview.persons)
    )
    context.update(
        overview=overview,
        can_change=can_change,
        can_submit=can_change and bool(overview.to_submit),
        opening_account=opening_account,
        polling=bool(overview.waiting) or opening_account,
        poll_seconds=POLL_SECONDS,
        form=form if form is not None else PersonForm(merchant=merchant),
        pii_retype=PII_RETYPE if form is not None and form.errors else "",
        bank_url=reverse("merchants:bank_account"),
        bank=bank_account_current(merchant=merchant),
        data_import_url=step_page_url(DATA_IMPORT_STEP),
        hardware_url=step_page_url(HARDWARE_SETUP_STEP),
    )
    return context


def _page(request, *, status: int = 200, **context):
    return page_response(
        request, TEMPLATE, _context(request, **context), main="kyc_main", status=status
    )


@merchant_required
@require_GET
def kyc(request):
    """/kyc/: the persons and their checks, the add form, "Submit for verification"."""
    return _page(request)


@merchant_required
@require_GET
def kyc_status(request):
    """What the page polls while a check is under way: the persons' list and status."""
    if not request.htmx:
        return redirect("merchants:kyc")
    context = _context(request)
    if not context.get("polling"):
        # The wait is over: reload the whole page, whose other parts (the add form, the
        # next steps) depend on the outcome. The reloaded page does not poll.
        return HttpResponseClientRefresh()
    return render(request, f"{TEMPLATE}#kyc_status", context)


@merchant_required
@require_POST
def kyc_person_add(request):
    form = PersonForm(request.POST, merchant=request.merchant)
    if not form.is_valid():
        return _page(request, form=form, status=422)
    fields = form.person_fields()
    refusal = call_service(
        lambda: person_add(merchant=request.merchant, actor=request.user, **fields)
    )
    if isinstance(refusal, TransitionRefused):  # not the input: the state refuses
        return _page(request, error=refusal.message, status=409)
    if refusal is not None:
        form.add_error(None, refusal.message)
        return _page(request, form=form, status=422)
    name = f"{fields['first_name']} {fields['last_name']}"
    return done_response(
        request,
        url_name="merchants:kyc",
        notice=PERSON_ADDED.format(name=name),
        rerender=lambda message: _page(request, notice=message),
    )


def _edit_page(request, person, *, form=None, error: str = "", status: int = 200):
    context = {
        "person": person,
        "form": form if form is not None else PersonForm(merchant=request.merchant, person=person),
        "editable": person.kyc_status in ("pending", "rejected"),
        "error": error,
        "pii_retype": PII_RETYPE if form is not None and form.errors else "",
    }
    return render(request, EDIT_TEMPLATE, context, status=status)


@merchant_required
@require_http_methods(["GET", "POST"])
def kyc_person_edit(request, person_id):
    """Correct a person not yet checked, or rejected (then submitted again). A person whose
    check is under way or passed is refused (409)."""
    person = owned_or_404(MerchantPerson, request, pk=person_id)
    locked = PERSON_LOCKED.format(name=person)
    if person.kyc_status not in ("pending", "rejected"):
        return _edit_page(request, person, error=locked, status=409)
    if request.method == "GET":
        return _edit_page(request, person)
    form = PersonForm(request.POST, merchant=request.merchant, person=person)
    if not form.is_valid():
        return _edit_page(request, person, form=form, status=422)
    refusal = call_service(
        lambda: person_update(person=person, actor=request.user, **form.person_fields())
    )
    if isinstance(refusal, TransitionRefused):
        return _edit_page(request, person, form=form, error=refusal.message, status=409)
    if refusal is not None:
        form.add_error(None, refusal.message)
        return _edit_page(request, person, form=form, status=422)
    messages.success(request, PERSON_SAVED.format(name=person))
    return redirect("merchants:kyc")


@merchant_required
@require_POST
def kyc_person_remove(request, person_id):
    person = owned_or_404(MerchantPerson, request, pk=person_id)
    name = str(person)
    refusal = call_service(lambda: person_remove(person=person, actor=request.user))
    if refusal is not None:
        return _page(request, error=refusal.message, status=refusal_status(refusal))
    return done_response(
        request,
        url_name="merchants:kyc",
        notice=PERSON_REMOVED.format(name=name),
        rerender=lambda message: _page(request, notice=message),
    )


@merchant_required
@require_POST
def kyc_submit(request):
    """Every person not checked yet goes to the payments provider (through the outbox)."""
    sent = []

    def submit():
        sent.extend(merchant_kyc_submit(merchant=request.merchant, actor=request.user))

    refusal = call_service(submit)
    if refusal is not None:
        return _page(request, error=refusal.message, status=refusal_status(refusal))
    notice = KYC_SUBMITTED.format(names=", ".join(str(person) for person in sent))
    return done_response(
        request,
        url_name="merchants:kyc",
        notice=notice,
        rerender=lambda message: _page(request, notice=message),
    )
