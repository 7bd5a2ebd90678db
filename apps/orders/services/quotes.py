"""Quotes (steps 4-5): a selection priced for the live preview (quote_price), an order built
and its quote generated (order_quote_create, replacing the merchant's open quotes), the
merchant accepting it (order_accept), an AE's quote emailed (order_quote_notify). The money
rules are apps.orders.pricing's."""

from dataclasses import replace

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.errors import ActionForbidden, DomainError, TransitionRefused
from apps.core.fsm import save_tracked
from apps.integrations.outbox import event_emit
from apps.orders import pricing, selectors
from apps.orders.models.catalog import ItemType
from apps.orders.models.order import Order, OrderItem
from apps.orders.models.payment import PaymentStatus
from apps.orders.services.journey import _journey_quote_recorded
from apps.orders.services.transitions import (
    order_cancel,
    order_generate_quote,
    order_request_payment,
)

STEP_3_REQUIRED = "Finish business verification (KYB, step 3) before choosing your software."
NO_REGISTERED_STATE = "Enter the business's registered address (KYB) before building a quote."
NO_TAX_RATE = "We have no sales tax rate for “{state}”: check the state of the address."
UNKNOWN_SHIP_TO = "Hardware can ship only to one of the business's locations."
BUILD_FORBIDDEN = "You do not have permission to build quotes on a merchant's behalf."


ORDER_NUMBER_ATTEMPTS = 5


def order_number_next(*, year: int | None = None) -> str:
    """The next human-readable order number of the year, ORD-<year>-<6 digits>: one more than
    the highest so far. Two quotes saved at the same instant can compute the same number; the
    unique index then refuses the second, which takes the next (order_build retries)."""
    year = year or timezone.localdate().year
    prefix = f"ORD-{year}-"
    last = (
        Order.objects.filter(order_number__startswith=prefix)
        .order_by("-order_number")
        .values_list("order_number", flat=True)
        .first()
    )
    number = int(last.removeprefix(prefix)) + 1 if last and last[len(prefix) :].isdigit() else 1
    return f"{prefix}{number:06d}"


def _order_insert(order: Order, *, actor) -> Order:
    """Save a new order under the next free number (retrying when another took it)."""
    for attempt in range(ORDER_NUMBER_ATTEMPTS):
        order.order_number = order_number_next()
        try:
            with transaction.atomic():
                save_tracked(order, actor=actor, reason="order_build")
        except IntegrityError as exc:
            if "order_number" not in str(exc) or attempt == ORDER_NUMBER_ATTEMPTS - 1:
                raise
            continue
        return order
    raise AssertionError("unreachable")


def quote_tax_rate(*, state: str, country: str = "US"):
    if not (state or "").strip():
        raise DomainError(NO_REGISTERED_STATE, code="no_billing_state")
    rate = selectors.tax_rate_get(state=state, country=country or "US")
    if rate is None:
        raise DomainError(NO_TAX_RATE.format(state=state), code="no_tax_rate")
    return rate


def quote_price(*, merchant, selection: pricing.Selection) -> pricing.Quote:
    """Price a selection for `merchant` without saving anything (the live preview): its
    cohort's services added, the tax rate of its registered state."""
    from apps.leads.models import Cohort

    if merchant.cohort == Cohort.MANAGED and pricing.IC_SETUP_SKU not in selection.services:
        selection = replace(selection, services=(*selection.services, pricing.IC_SETUP_SKU))
    ship_to = {key for key, _label in selectors.ship_to_choices(merchant=merchant)}
    if selection.buys_hardware and set(selection.hardware) - ship_to:
        raise DomainError(UNKNOWN_SHIP_TO, code="unknown_ship_to")
    rate = quote_tax_rate(
        state=merchant.registered_state, country=merchant.registered_country or "US"
    )
    try:
        return pricing.price_quote(selection, selectors.product_catalog(), rate)
    except pricing.PricingError as exc:
        raise DomainError(exc.message, code="invalid_selection") from exc


def _item_description(line: pricing.Line, location) -> str:
    parts = ["Monthly" if line.is_monthly else "One-time"]
    if line.item_type == ItemType.HARDWARE:
        parts.append(f"ships to {location}" if location else "ships to the registered address")
    if line.discount_note:
        parts.append(line.discount_note)
    return " · ".join(parts)


def order_build(*, merchant, selection: pricing.Selection, actor, created_by=None) -> Order:
    """A draft order with its lines and amounts priced from `selection` (apps.orders.pricing).
    `created_by`: the AE building it on the merchant's behalf (then is_self_serve is False).
    A managed merchant's order always carries the paid IC setup (SVC-SETUP-IC)."""
    if created_by is not None and not created_by.has_perm("orders.add_order"):
        raise ActionForbidden(BUILD_FORBIDDEN, code="permission_denied")
    quote = quote_price(merchant=merchant, selection=selection)
    products = selectors.product_by_sku(line.sku for line in quote.lines)
    locations = {str(location.pk): location for location in merchant.locations.all()}
    with transaction.atomic():
        order = Order(
            merchant=merchant,
            lead=merchant.lead,
            subtotal=quote.subtotal,
            discount_amount=quote.discount,
            tax_amount=quote.tax,
            total_amount=quote.total,
            created_by=created_by,
            is_self_serve=created_by is None,
            billing_address_line1=merchant.registered_address_line1,
            billing_address_line2=merchant.registered_address_line2,
            billing_city=merchant.registered_city,
            billing_state=merchant.registered_state.strip().upper(),
            billing_postal_code=merchant.registered_postal_code,
            billing_country=merchant.registered_country or "US",
        )
        _order_insert(order, actor=actor)
        for line in quote.lines:
            location = locations.get(line.location_key or "")
            item = OrderItem(
                order=order,
                product=products.get(line.sku),
                location=location,
                item_type=line.item_type,
                product_sku=line.sku,
                product_name=line.name,
                description=_item_description(line, location),
                quantity=line.quantity,
                unit_price=line.unit_price,
                discount_amount=line.discount,
                line_total=line.line_total,
            )
            save_tracked(item, actor=actor, reason="order_build")
        event_emit(
            event_type="order.created",
            aggregate=order,
            payload={
                "order_number": order.order_number,
                "total": str(order.total_amount),
                "is_self_serve": order.is_self_serve,
            },
        )
    return order


def _replaceable_quotes(merchant) -> list[Order]:
    """Open quotes a new quote replaces: never one with money in flight or taken."""
    money_moving = [PaymentStatus.PENDING, PaymentStatus.AUTHORIZED, PaymentStatus.CAPTURED]
    return list(
        Order.objects.select_for_update()
        .filter(merchant=merchant, status__in=selectors.OPEN_QUOTE_STATUSES)
        .exclude(payments__status__in=money_moving)
        .order_by("created_at")
    )


def order_quote_create(*, merchant, selection: pricing.Selection, actor, created_by=None) -> Order:
    """Save a quote: the order is built and its quote generated, in one transaction. The
    merchant's earlier open quotes are cancelled (replaced). Built by the merchant, it
    completes steps 4 and 5; an AE's quote does so when the merchant accepts it."""
    if created_by is None and not selectors.quote_step_startable(merchant=merchant):
        raise TransitionRefused(STEP_3_REQUIRED, code="kyb_step_required")
    with transaction.atomic():
        replaced = _replaceable_quotes(merchant)
        order = order_build(
            merchant=merchant, selection=selection, actor=actor, created_by=created_by
        )
        order_generate_quote(order=order, actor=actor)
        for old in replaced:
            order_cancel(order=old, actor=actor, reason=f"Replaced by quote {order.order_number}.")
        if created_by is None:
            _journey_quote_recorded(order=order, actor=actor)
    return order


def order_accept(*, order: Order, actor) -> Order:
    """The merchant accepts the quote and goes to payment: steps 4 and 5 are done, and the
    KYB gate (rule 1) holds an order with hardware until KYB is approved."""
    if not selectors.quote_step_startable(merchant=order.merchant):
        raise TransitionRefused(STEP_3_REQUIRED, code="kyb_step_required")
    with transaction.atomic():
        order_request_payment(order=order, actor=actor)
        _journey_quote_recorded(order=order, actor=actor)
    return order


def order_quote_notify(*, order_id, idempotency_key: str) -> None:
    """Email the merchant that their AE's quote is ready to review and accept, with a step
    link (absolute, signed, expiring) to the quote's accept page."""
    from django.urls import reverse

    from apps.merchants.emails import QUOTE_READY_OUTCOME, merchant_outcome_email_send

    order = (
        Order.objects.select_related("merchant", "merchant__user", "merchant__lead", "created_by")
        .filter(pk=order_id)
        .first()
    )
    if order is None or order.is_self_serve:
        return
    author = order.created_by.get_full_name() if order.created_by else ""
    merchant_outcome_email_send(
        merchant=order.merchant,
        outcome=QUOTE_READY_OUTCOME,
        idempotency_key=idempotency_key,
        path=reverse("orders:quote_accept", args=[order.order_number]),
        author=author or "Your account executive",
        order_number=order.order_number,
        total=f"{order.total_amount} {order.currency}",
    )
