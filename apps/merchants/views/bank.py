"""The payout bank account: enter it, verify it (polled while the provider checks), try
again or replace it after a failure, and see whether payouts are on (DESIGN.md rule 2).
Account and routing numbers are shown masked (last four) once entered."""

from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRefresh

from apps.core.errors import TransitionRefused
from apps.merchants.access import merchant_required, owned_or_404
from apps.merchants.forms_setup import BankAccountForm
from apps.merchants.models import MerchantBankAccount
from apps.merchants.selectors.bank import bank_account_current
from apps.merchants.selectors.steps import KYC_STEP, step_page_url
from apps.merchants.services import bank
from apps.merchants.views.setup import (
    call_service,
    done_response,
    fresh_merchant,
    gate_context,
    page_response,
    refusal_status,
)

TEMPLATE = "merchants/bank_account.html"
ACCOUNT_ADDED = "Bank account saved: we are verifying it now (usually a moment)."
ACCOUNT_REPLACED = (
    "The new bank account replaces the old one: we are verifying it now (usually a moment)."
)
VERIFICATION_STARTED = "Verifying your bank account: this usually takes a moment."
PAYOUTS_ON = "Payouts are on"
PAYOUTS_HELD = "Payouts held until your bank account is verified and every owner passed KYC"
POLL_SECONDS = 3


def _context(request, *, form=None, error: str = "", notice: str = "", replacing=False):
    merchant = fresh_merchant(request)
    context = {"merchant": merchant, "error": error, "notice": notice}
    context.update(gate_context(merchant, KYC_STEP))
    if context["locked"]:
        return context
    account = bank_account_current(merchant=merchant)
    context.update(
        account=account,
        form=form if form is not None else BankAccountForm(),
        # A form sent back with errors stays open (no JavaScript needed to see it).
        replacing=replacing or (form is not None and account is not None),
        payouts_message=PAYOUTS_ON if merchant.payouts_enabled else PAYOUTS_HELD,
        polling=account is not None and account.verification_status == "in_progress",
        poll_seconds=POLL_SECONDS,
        kyc_url=step_page_url(KYC_STEP),
    )
    return context


def _page(request, *, status: int = 200, **context):
    return page_response(
        request, TEMPLATE, _context(request, **context), main="bank_main", status=status
    )


@merchant_required
@require_http_methods(["GET", "POST"])
def bank_account(request):
    """/bank-account/: GET the account and payouts state; POST adds the account, or
    replaces the current one (payouts held again until the new one is verified)."""
    if request.method == "GET":
        return _page(request)
    form = BankAccountForm(request.POST)
    if not form.is_valid():
        return _page(request, form=form, status=422)
    had_account = bank_account_current(merchant=request.merchant) is not None
    refusal = call_service(
        lambda: bank.bank_account_submit(
            merchant=request.merchant, actor=request.user, **form.cleaned_data
        )
    )
    if isinstance(refusal, TransitionRefused):  # not the input: the state refuses
        return _page(request, error=refusal.message, status=409)
    if refusal is not None:
        form.add_error(None, refusal.message)
        return _page(request, form=form, status=422)
    return done_response(
        request,
        url_name="merchants:bank_account",
        notice=ACCOUNT_REPLACED if had_account else ACCOUNT_ADDED,
        rerender=lambda message: _page(request, notice=message),
    )


@merchant_required
@require_GET
def bank_account_status(request):
    """What the page polls while the provider verifies the account."""
    if not request.htmx:
        return redirect("merchants:bank_account")
    context = _context(request)
    if not context.get("polling"):
        # Verified or failed: reload the whole page (its actions depend on the outcome).
        return HttpResponseClientRefresh()
    return render(request, f"{TEMPLATE}#bank_status", context)


@merchant_required
@require_POST
def bank_account_verify(request, account_id):
    """ "Verify", and "Try again" after a failure: the account goes to the provider."""
    account = owned_or_404(MerchantBankAccount, request, pk=account_id)
    refusal = call_service(
        lambda: bank.bank_account_verify(bank_account=account, actor=request.user)
    )
    if refusal is not None:
        return _page(request, error=refusal.message, status=refusal_status(refusal))
    return done_response(
        request,
        url_name="merchants:bank_account",
        notice=VERIFICATION_STARTED,
        rerender=lambda message: _page(request, notice=message),
    )
