"""Step 2: account creation and email verification."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget

from apps.core.errors import DomainError
from apps.core.links import request_base_url
from apps.leads.links import lead_from_account_link
from apps.merchants.access import merchant_required
from apps.merchants.forms_onboarding import AccountCreateForm
from apps.merchants.models import Merchant
from apps.merchants.selectors.dashboard import merchant_dashboard
from apps.merchants.services import accounts

CREATE_TEMPLATE = "merchants/account_create.html"
VERIFY_TEMPLATE = "merchants/account_verify.html"
DASHBOARD_TEMPLATE = "merchants/dashboard.html"

LEAD_LINK_INVALID = (
    "This sign-up link is not valid or has expired. Enter your email address below to continue."
)
SIGNED_IN_ELSEWHERE = (
    "You are signed in as {email}, which is not a merchant account. Sign out to create one."
)
ACCOUNT_CREATED = "Your account is ready. We sent you an email to confirm your address."
ACCOUNT_READY = "Your account is ready: let's verify your business."
EMAIL_VERIFIED = "Your email address is verified."
VERIFICATION_SENT = "We sent a new confirmation link to {email}. It is valid for 3 days."
AUTH_BACKEND = "django.contrib.auth.backends.ModelBackend"

# Which form field a refusal of the account services is about.
_ERROR_FIELDS = {
    "weak_password": "password1",
    "legal_name_required": "legal_business_name",
    "email_has_account": "email",
    "lead_has_account": "email",
}


@require_http_methods(["GET", "POST"])
def account_create(request):
    """/account/create/[?lead=<signed lead id>]: password and legal name (and the email
    when there is no valid link). Created → signed in → the dashboard."""
    if request.user.is_authenticated:
        if Merchant.objects.filter(user=request.user).exists():
            return redirect("merchants:dashboard")
        context = {"refusal": SIGNED_IN_ELSEWHERE.format(email=request.user.email)}
        return render(request, CREATE_TEMPLATE, context, status=409)

    token = request.GET.get("lead", "")
    lead = lead_from_account_link(token) if token else None
    link_error = LEAD_LINK_INVALID if token and lead is None else ""
    if lead is not None and Merchant.objects.filter(lead=lead).exists():
        # An old account link of a business that has its account now: no dead end, sign in
        # and continue where it left off.
        messages.info(request, accounts.LEAD_HAS_ACCOUNT_SIGN_IN)
        return redirect_to_login(reverse("merchants:dashboard"))

    form = AccountCreateForm(request.POST or None, lead=lead)
    status = 400 if link_error else 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                if lead is not None:
                    merchant = accounts.merchant_account_create(
                        lead=lead,
                        password=data["password1"],
                        legal_business_name=data["legal_business_name"],
                        base_url=request_base_url(request),
                        email_proven=True,  # the link was emailed to the lead's address
                    )
                else:
                    merchant = accounts.merchant_signup(
                        email=data["email"],
                        password=data["password1"],
                        legal_business_name=data["legal_business_name"],
                        base_url=request_base_url(request),
                    )
            except accounts.AccountLinkSent as exc:
                return render(request, CREATE_TEMPLATE, {"link_sent": exc.message})
            except DomainError as exc:
                field = _ERROR_FIELDS.get(exc.code)
                form.add_error(field if field in form.fields else None, exc.message)
                status = 409 if exc.code in ("lead_has_account", "email_has_account") else 422
            else:
                login(request, merchant.user, backend=AUTH_BACKEND)
                verified = merchant.user.email_verified_at is not None
                messages.success(request, ACCOUNT_READY if verified else ACCOUNT_CREATED)
                return redirect("merchants:dashboard")
        else:
            status = 422
    context = {"form": form, "lead": lead, "token": token if lead else "", "link_error": link_error}
    return render(request, CREATE_TEMPLATE, context, status=status)


@require_GET
def account_verify(request, token: str):
    """/account/verify/<token>/: the link in the verification email."""
    try:
        user = accounts.merchant_email_verify(token=token)
    except DomainError as exc:
        return render(request, VERIFY_TEMPLATE, {"error": exc.message}, status=400)
    return render(request, VERIFY_TEMPLATE, {"verified_email": user.email})


@merchant_required
@require_POST
def account_verify_resend(request):
    """The dashboard banner's "send the link again"."""
    merchant = request.merchant
    try:
        accounts.merchant_verification_email_send(
            merchant=merchant, actor=request.user, base_url=request_base_url(request)
        )
    except DomainError as exc:
        refusal, notice = exc.message, ""
    else:
        refusal, notice = "", VERIFICATION_SENT.format(email=merchant.user.email)

    if not request.htmx:
        if refusal:
            messages.error(request, refusal)
        else:
            messages.success(request, notice)
        return redirect("merchants:dashboard")
    context = {
        "dashboard": merchant_dashboard(merchant=merchant),
        "banner_message": refusal or notice,
        "banner_level": "error" if refusal else "success",
    }
    response = render(
        request, f"{DASHBOARD_TEMPLATE}#verify_banner", context, status=422 if refusal else 200
    )
    if refusal:
        retarget(response, "#verify-banner")
        reswap(response, "outerHTML")
    return response
