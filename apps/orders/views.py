"""Order pages. Merchants: the quote builder (steps 4-5) with its live preview, accepting a
quote, the checkout (step 6), their orders and each order's progress (saga and shipment
tracking, polled while something moves). AEs: the order list and detail, and the quote
builder on a merchant's behalf. Views parse input, call one service and render."""

import uuid

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget

from apps.accounts import roles
from apps.core.errors import DomainError
from apps.core.pagination import paginate
from apps.core.permissions import role_required
from apps.leads.models import Cohort
from apps.merchants.access import merchant_required
from apps.merchants.models import Merchant
from apps.orders import pricing, selectors
from apps.orders.forms import CheckoutForm, QuoteForm
from apps.orders.models import Order
from apps.orders.models.order import PAID_AND_LATER, OrderStatus
from apps.orders.saga import steps as saga_steps
from apps.orders.saga.compensation import WHAT_NEXT
from apps.orders.services import quotes
from apps.orders.services.checkout import BILLING_FIELDS, order_checkout

QUOTE_TEMPLATE = "orders/quote.html"
ORDER_TEMPLATE = "orders/order_detail.html"
STAFF_PAGE_SIZE = 50

AE_BUILDS_QUOTES = (
    "Your account executive prepares your quote: it appears here for you to review and accept."
)
QUOTE_SAVED = "Quote {number} saved. Review it and accept it to go to checkout."
QUOTE_SENT = "Quote {number} sent to {merchant}."
PAID = "Payment received: thank you. Your accounts are being set up."
ACCEPT_FIRST = "Accept the quote before paying."
NOT_PAYABLE_NOW = "This order is not waiting for payment."
REFUND_WHAT_NEXT = WHAT_NEXT


def kyb_url() -> str:
    """Where the merchant completes KYB (step 3)."""
    try:
        return reverse("merchants:kyb")
    except NoReverseMatch:  # the KYB page is not mounted (e.g. a partial deployment)
        return reverse("accounts:home")


CORRECT_CHOICES = "Correct the highlighted choices to see the quote."


def _form_problems(form) -> list[str]:
    """The form's errors as sentences for the preview (the form itself is not re-sent)."""
    problems = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        for error in errors:
            if error == pricing.NO_HARDWARE_CHOSEN or not label:
                problems.append(error)
            else:
                problems.append(f"{label}: {error}")
    return problems


def _htmx_error(response, target: str):
    retarget(response, target)
    reswap(response, "outerHTML")
    return response


# --- Quote builder (shared by merchants and AEs) ----------------------------------------------


def _quote_form(merchant, data=None) -> QuoteForm:
    initial = {"locations": max(1, merchant.locations.count())}
    return QuoteForm(
        data,
        initial=initial,
        catalog=selectors.product_catalog(),
        ship_to=selectors.ship_to_choices(merchant=merchant),
    )


def _price(merchant, form):
    """(quote, error) for a bound form: nothing is saved."""
    if not form.is_valid():
        return None, None
    try:
        return quotes.quote_price(merchant=merchant, selection=form.selection()), None
    except DomainError as exc:
        return None, exc.message


def _preview(request, merchant):
    form = _quote_form(merchant, request.POST)
    quote, error = _price(merchant, form)
    context = {"form": form, "quote": quote, "error": error, "merchant": merchant}
    if quote is not None:
        return render(request, f"{QUOTE_TEMPLATE}#quote_preview", context)
    if error is None:
        context["error"] = " ".join(_form_problems(form)) or CORRECT_CHOICES
    response = render(request, f"{QUOTE_TEMPLATE}#quote_preview", context, status=422)
    return _htmx_error(response, "#quote-preview")


def _builder(request, merchant, *, created_by, action_url, preview_url, extra):
    """GET: the empty builder. POST action=preview: the builder with the priced quote (the
    no-JavaScript preview). POST action=save: the quote is saved (one service call)."""
    form = _quote_form(merchant, request.POST if request.method == "POST" else None)
    quote, error = (None, None)
    if request.method == "POST":
        quote, error = _price(merchant, form)
        if quote is not None and request.POST.get("action") == "save":
            try:
                order = quotes.order_quote_create(
                    merchant=merchant,
                    selection=form.selection(),
                    actor=request.user,
                    created_by=created_by,
                )
            except DomainError as exc:
                error = exc.message
            else:
                return order
    context = {
        "form": form,
        "quote": quote,
        "error": error,
        "merchant": merchant,
        "action_url": action_url,
        "preview_url": preview_url,
        **extra,
    }
    failed = request.method == "POST" and (quote is None or error)
    return render(request, QUOTE_TEMPLATE, context, status=422 if failed else 200)


@merchant_required
@require_http_methods(["GET", "POST"])
def quote(request):
    merchant = request.merchant
    context = {
        "merchant": merchant,
        "open_orders": selectors.open_orders_for_merchant(merchant=merchant),
        "kyb_url": kyb_url(),
    }
    if merchant.cohort != Cohort.SELF_SERVE:
        if request.method == "POST":
            raise PermissionDenied(AE_BUILDS_QUOTES)
        return render(request, QUOTE_TEMPLATE, {**context, "ae_builds": AE_BUILDS_QUOTES})
    if not selectors.quote_step_startable(merchant=merchant):
        status = 409 if request.method == "POST" else 200
        return render(
            request,
            QUOTE_TEMPLATE,
            {**context, "blocked": quotes.STEP_3_REQUIRED},
            status=status,
        )
    result = _builder(
        request,
        merchant,
        created_by=None,
        action_url=reverse("orders:quote"),
        preview_url=reverse("orders:quote_preview"),
        extra=context,
    )
    if isinstance(result, Order):
        messages.success(request, QUOTE_SAVED.format(number=result.order_number))
        return redirect("orders:quote_accept", order_number=result.order_number)
    return result


@merchant_required
@require_POST
def quote_preview(request):
    """The live preview (htmx): the priced quote as the choices change; nothing is saved."""
    merchant = request.merchant
    if merchant.cohort != Cohort.SELF_SERVE:
        raise PermissionDenied(AE_BUILDS_QUOTES)
    if not selectors.quote_step_startable(merchant=merchant):
        response = render(
            request,
            f"{QUOTE_TEMPLATE}#quote_preview",
            {"error": quotes.STEP_3_REQUIRED, "merchant": merchant},
            status=409,
        )
        return _htmx_error(response, "#quote-preview")
    return _preview(request, merchant)


def _owned_order(request, order_number: str) -> Order:
    order = (
        selectors.order_detail_queryset()
        .filter(merchant=request.merchant, order_number=order_number)
        .first()
    )
    if order is None:
        raise Http404("No such order.")
    return order


def _order_context(order: Order) -> dict:
    steps = list(order.saga_steps.all())
    return {
        "order": order,
        "needs_kyb": selectors.order_needs_kyb(order),
        "kyb_url": kyb_url(),
        "polling": selectors.order_in_progress(order),
        "saga_steps": [(saga_steps.LABELS.get(step.name, step.name), step) for step in steps],
        "compensated": any(step.name in saga_steps.COMPENSATION for step in steps),
        "what_next": REFUND_WHAT_NEXT,
        "has_hardware": selectors.order_has_hardware(order),
        "latest_payment": next(iter(order.payments.all()), None),
    }


@merchant_required
@require_http_methods(["GET", "POST"])
def quote_accept(request, order_number):
    """Review a quote (the merchant's own or the AE's) and accept it: the order goes to
    payment, unless the KYB gate holds it (the page says so and links to KYB)."""
    order = _owned_order(request, order_number)
    if order.status == OrderStatus.PAYMENT_PENDING:
        return redirect("orders:checkout", order_number=order.order_number)
    context = {
        **_order_context(order),
        "step_blocked": not selectors.quote_step_startable(merchant=request.merchant),
        "step_message": quotes.STEP_3_REQUIRED,
    }
    if request.method == "GET":
        return render(request, "orders/quote_accept.html", context)
    try:
        quotes.order_accept(order=order, actor=request.user)
    except DomainError as exc:
        context.update(_order_context(_owned_order(request, order_number)), error=exc.message)
        return render(request, "orders/quote_accept.html", context, status=exc.status_code)
    return redirect("orders:checkout", order_number=order.order_number)


# --- Checkout (step 6) ------------------------------------------------------------------------


def _checkout_form(order: Order, data=None) -> CheckoutForm:
    initial = {field: getattr(order, field) for field in BILLING_FIELDS}
    initial["attempt"] = uuid.uuid4()
    return CheckoutForm(data, initial=initial, states=selectors.tax_state_choices())


@merchant_required
@require_http_methods(["GET", "POST"])
def checkout(request, order_number):
    order = _owned_order(request, order_number)
    if order.status == OrderStatus.QUOTE_GENERATED:
        messages.info(request, ACCEPT_FIRST)
        return redirect("orders:quote_accept", order_number=order.order_number)
    if order.status != OrderStatus.PAYMENT_PENDING:
        if request.method == "POST" and order.status not in PAID_AND_LATER:
            messages.error(request, order.status_reason or NOT_PAYABLE_NOW)
        return redirect("orders:order_detail", order_number=order.order_number)
    if request.method == "GET":
        context = {**_order_context(order), "form": _checkout_form(order)}
        return render(request, "orders/checkout.html", context)
    form = _checkout_form(order, request.POST)
    if not form.is_valid():
        if "attempt" in form.errors:
            form = _checkout_form(order, _fresh_attempt(request.POST))
            form.is_valid()
        context = {**_order_context(order), "form": form}
        return render(request, "orders/checkout.html", context, status=422)
    try:
        order_checkout(
            order=order,
            address=form.address(),
            attempt=str(form.cleaned_data["attempt"]),
            actor=request.user,
        )
    except DomainError as exc:
        if exc.code in ("payment_in_progress", "charge_failed", "already_paid", "not_payable"):
            level = messages.info if exc.code == "payment_in_progress" else messages.error
            level(request, exc.message)
            return redirect("orders:order_detail", order_number=order.order_number)
        order = _owned_order(request, order_number)
        retry = _checkout_form(order, _fresh_attempt(request.POST))
        retry.is_valid()
        context = {**_order_context(order), "form": retry, "error": exc.message}
        return render(request, "orders/checkout.html", context, status=exc.status_code)
    messages.success(request, PAID)
    return redirect("orders:order_detail", order_number=order.order_number)


def _fresh_attempt(data):
    """The posted form with a new attempt token: the next press of Pay is a new attempt."""
    data = data.copy()
    data["attempt"] = str(uuid.uuid4())
    return data


# --- The merchant's orders --------------------------------------------------------------------


@merchant_required
@require_GET
def order_list(request):
    orders = selectors.order_list_for_merchant(merchant=request.merchant)
    return render(request, "orders/order_list.html", {"orders": orders})


@merchant_required
@require_GET
def order_detail(request, order_number):
    """The order's progress: payment, provisioning steps and shipment tracking. With htmx
    (the page polls while something moves) only the progress section is rendered."""
    order = _owned_order(request, order_number)
    context = _order_context(order)
    if request.htmx:
        return render(request, f"{ORDER_TEMPLATE}#order_progress", context)
    return render(request, ORDER_TEMPLATE, context)


# --- AE pages ---------------------------------------------------------------------------------


def _search_text(value: str) -> str:
    """What a search box may send to the database: 100 characters (a NUL never gets here:
    apps.core.middleware.RefuseNulMiddleware answers 400 first)."""
    return value[:100]


@role_required(roles.AE, roles.OPS)
@require_GET
def staff_order_list(request):
    search = _search_text(request.GET.get("q", ""))
    status = request.GET.get("status", "")
    if status not in OrderStatus.values:
        status = ""
    merchant_search = _search_text(request.GET.get("merchant", ""))
    return render(
        request,
        "orders/staff_order_list.html",
        {
            "orders": paginate(
                request,
                selectors.order_list_for_staff(search=search, status=status),
                per_page=STAFF_PAGE_SIZE,
            ),
            "search": search,
            "status": status,
            "statuses": OrderStatus.choices,
            "merchant_search": merchant_search,
            "merchants": selectors.merchant_search_for_quotes(search=merchant_search),
            "can_build": request.user.is_superuser
            or request.user.groups.filter(name=roles.AE).exists(),
        },
    )


@role_required(roles.AE, roles.OPS)
@require_GET
def staff_order_detail(request, order_number):
    order = selectors.order_get_for_staff(order_number=order_number)
    if order is None:
        raise Http404("No such order.")
    context = _order_context(order)
    if request.htmx:
        return render(request, "orders/staff_order_detail.html#order_progress", context)
    return render(request, "orders/staff_order_detail.html", context)


@role_required(roles.AE)
@require_http_methods(["GET", "POST"])
def staff_quote_new(request, merchant_id):
    """An AE builds and sends a quote on the merchant's behalf (assisted and managed
    cohorts); the merchant accepts it on their own page."""
    merchant = get_object_or_404(Merchant.objects.select_related("lead"), pk=merchant_id)
    result = _builder(
        request,
        merchant,
        created_by=request.user,
        action_url=reverse("orders:staff_quote_new", args=[merchant.pk]),
        preview_url=reverse("orders:staff_quote_preview", args=[merchant.pk]),
        extra={"staff": True, "managed": merchant.cohort == Cohort.MANAGED},
    )
    if isinstance(result, Order):
        messages.success(
            request,
            QUOTE_SENT.format(number=result.order_number, merchant=merchant.legal_business_name),
        )
        return redirect("orders:staff_order_detail", order_number=result.order_number)
    return result


@role_required(roles.AE)
@require_POST
def staff_quote_preview(request, merchant_id):
    merchant = get_object_or_404(Merchant.objects.select_related("lead"), pk=merchant_id)
    return _preview(request, merchant)
