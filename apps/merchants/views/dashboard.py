"""The merchant dashboard: the ten steps, the next action for the cohort, and the call
request of the assisted and managed cohorts."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import reswap, retarget

from apps.core.errors import DomainError
from apps.merchants.access import merchant_required
from apps.merchants.selectors.dashboard import merchant_dashboard
from apps.merchants.services import accounts

TEMPLATE = "merchants/dashboard.html"
CALL_REQUESTED = "Thank you: your account executive will call you soon."


@merchant_required
@require_GET
def dashboard(request):
    """/dashboard/. The htmx poll (every 5 s while something waits on us) gets the journey
    partial only."""
    context = {"dashboard": merchant_dashboard(merchant=request.merchant)}
    if request.htmx:
        return render(request, f"{TEMPLATE}#journey", context)
    return render(request, TEMPLATE, context)


@merchant_required
@require_POST
def call_request(request):
    """The "Request a call" button: queued once for the AE; asking again says so."""
    try:
        accounts.merchant_call_request(merchant=request.merchant, actor=request.user)
    except DomainError as exc:
        refusal = exc.message
    else:
        refusal = ""

    if not request.htmx:
        if refusal:
            messages.error(request, refusal)
        else:
            messages.success(request, CALL_REQUESTED)
        return redirect("merchants:dashboard")
    context = {
        "dashboard": merchant_dashboard(merchant=request.merchant),
        "call_message": refusal or CALL_REQUESTED,
        "call_level": "error" if refusal else "success",
    }
    response = render(request, f"{TEMPLATE}#call", context, status=422 if refusal else 200)
    if refusal:
        retarget(response, "#call")
        reswap(response, "outerHTML")
    return response
