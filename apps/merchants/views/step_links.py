"""/continue/<token>/: the link in every email to a merchant, back into a step.

Signed in as that merchant → the step. Signed out → sign in, then the step. Signed in as
someone else → told so (403), nothing shown. Expired → said so, with a button that emails a
fresh link to the merchant's own address (the same page whatever happens, so it tells
nobody else anything). Forged or unknown → 400."""

from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from apps.core.links import request_base_url
from apps.merchants.selectors.dashboard import merchant_dashboard
from apps.merchants.services.step_links import (
    EXPIRED,
    INVALID,
    merchant_step_link_resend,
    step_link_open,
)

TEMPLATE = "merchants/step_link.html"
LINK_INVALID = "This link is not valid. Sign in to continue your onboarding."
LINK_EXPIRED = "This link has expired: links in our emails work for a limited time."
LINK_OTHER_ACCOUNT = (
    "This link belongs to another account. Sign out, then open the link again and sign in "
    "with the address it was sent to."
)
FRESH_LINK_SENT = (
    "We sent a fresh link to the email address of the account. It can take a minute to arrive."
)


def _where_it_leads(link) -> str:
    if link.path:
        return link.path
    current = merchant_dashboard(merchant=link.merchant).current
    return current.url if current and current.url else "/dashboard/"


@require_http_methods(["GET", "POST"])
def step_link(request, token: str):
    link = step_link_open(token)
    if link.status == INVALID:
        return render(request, TEMPLATE, {"message": LINK_INVALID, "invalid": True}, status=400)
    if link.status == EXPIRED:
        context = {"message": LINK_EXPIRED, "expired": True, "token": token}
        if request.method == "POST":
            merchant_step_link_resend(
                merchant=link.merchant, path=link.path, base_url=request_base_url(request)
            )
            context.update(sent=FRESH_LINK_SENT)
        return render(request, TEMPLATE, context, status=410)
    if request.method == "POST":
        return redirect(request.path)
    target = _where_it_leads(link)
    if not request.user.is_authenticated:
        return redirect_to_login(target)
    if link.merchant.user_id != request.user.pk:
        return render(request, TEMPLATE, {"message": LINK_OTHER_ACCOUNT}, status=403)
    return redirect(target)
