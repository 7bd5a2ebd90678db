"""Step 3: KYB. The legal entity form, then the wait for the provider's decision (polled),
and the correction and resubmission after a rejection."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods
from django_htmx.http import reswap, retarget

from apps.core.errors import DomainError, TransitionRefused
from apps.merchants.access import merchant_required
from apps.merchants.forms_onboarding import KybForm
from apps.merchants.selectors.kyb import merchant_kyb_page
from apps.merchants.services.kyb import (
    KYB_ALREADY_APPROVED,
    KYB_BEING_VERIFIED,
    merchant_kyb_details_submit,
)

TEMPLATE = "merchants/kyb.html"
KYB_SUBMITTED = "Thank you: we are verifying your business (usually minutes)."


def _render(request, page, *, form=None, notice="", notice_level="", status=200):
    context = {
        "page": page,
        "merchant": page.merchant,
        "form": form if form is not None else (KybForm(merchant=page.merchant)),
        "notice": notice,
        "notice_level": notice_level,
    }
    if not request.htmx:
        return render(request, TEMPLATE, context, status=status)
    response = render(request, f"{TEMPLATE}#kyb", context, status=status)
    if status >= 400:
        retarget(response, "#kyb")
        reswap(response, "outerHTML")
    return response


@merchant_required
@require_http_methods(["GET", "POST"])
def kyb(request):
    """/kyb/. GET shows the form, the wait or the result (htmx polls while waiting). POST
    saves and submits: 422 with field errors and nothing saved on bad input; 409 when the
    details can no longer change."""
    page = merchant_kyb_page(merchant=request.merchant)
    if request.method == "GET":
        return _render(request, page)

    if not page.editable:
        message = (
            KYB_ALREADY_APPROVED
            if page.merchant.kyb_status == "approved"
            else KYB_BEING_VERIFIED
        )
        return _render(request, page, notice=message, notice_level="error", status=409)

    form = KybForm(request.POST, merchant=page.merchant)
    if not form.is_valid():
        return _render(request, page, form=form, status=422)
    details = form.details()
    try:
        merchant_kyb_details_submit(
            merchant=page.merchant, actor=request.user, ein=details.pop("ein"), **details
        )
    except DomainError as exc:
        form.add_error("ein" if exc.code == "ein_taken" else None, exc.message)
        status = 409 if isinstance(exc, TransitionRefused) else 422
        # The service may have changed the instance before refusing: show what is stored.
        page = merchant_kyb_page(merchant=request.merchant)
        form.merchant = page.merchant
        return _render(request, page, form=form, status=status)

    if not request.htmx:
        messages.success(request, KYB_SUBMITTED)
        return redirect("merchants:kyb")
    page = merchant_kyb_page(merchant=request.merchant)
    return _render(request, page, notice=KYB_SUBMITTED, notice_level="success")
