import logging
from dataclasses import replace
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.errors import ActionForbidden, DomainError, TransitionRefused
from apps.core.fsm import save_tracked
from apps.integrations.outbox import transition_perform
from apps.orders import pricing, selectors
from apps.orders.models import (
    PAID_AND_LATER,
    FulfillmentStatus,
    HardwareShipment,
    ItemFulfillmentStatus,
    ItemType,
    Order,
    OrderItem,
    OrderPaymentStatus,
    OrderStatus,
    Payment,
    PaymentStatus,
    ShipmentStatus,
)

logger = logging.getLogger(__name__)

REASON_REQUIRED = "Say why: the merchant is told."
KYB_REQUIRED_FOR_HARDWARE = (
    "Business verification (KYB) must be approved before an order with hardware can be paid."
)
STEP_3_REQUIRED = "Finish business verification (KYB, step 3) before choosing your software."
NO_REGISTERED_STATE = "Enter the business's registered address (KYB) before building a quote."
NO_TAX_RATE = "We have no sales tax rate for “{state}”: check the state of the address."
UNKNOWN_SHIP_TO = "Hardware can ship only to one of the business's locations."
BUILD_FORBIDDEN = "You do not have permission to build quotes on a merchant's behalf."
ADDRESS_LOCKED = "The billing address can change only until the order is paid."
NOT_PAYABLE = "This order is not waiting for payment."
ALREADY_PAID = "This order is already paid."
PAYMENT_IN_PROGRESS = (
    "A payment for this order is already being processed: its result shows here in a moment."
)
CARD_DECLINED = "Your card was declined. Nothing was charged. Try another card."
PAYMENT_REFUSED = "The payment was refused ({detail}). Nothing was charged. Try another card."
BILLING_UNAVAILABLE = (
    "We could not reach the payment service. Nothing was charged. Try again in a few minutes."
)
CHARGE_FAILED = (
    "The charge could not be completed ({detail}). Nothing was charged and this order is "
    "cancelled: build a new quote to buy again."
)
# A payment attempt untouched for this long is taken to be abandoned by a crashed request and
# may be resumed (its provider calls reuse their idempotency keys, so nothing happens twice).
PAYMENT_IN_FLIGHT = timedelta(seconds=60)


class PaymentDeclined(DomainError):
    status_code = 402


class PaymentUnavailable(DomainError):
    status_code = 503


def _order(
    order: Order,
    transition: str,
    *,
    actor,
    event: str,
    note: str = "",
    params=None,
    payment: str | None = None,
    fulfillment: str | None = None,
):
    """Perform an order transition; `payment`/`fulfillment` update the mirrored statuses
    in the same save, so the history shows one row for the one use case."""
    if payment and order.payment_status != payment:
        order.mirror_payment_status(value=payment)
    if fulfillment and order.fulfillment_status != fulfillment:
        order.mirror_fulfillment_status(value=fulfillment)
    return transition_perform(
        order,
        transition,
        actor=actor,
        reason=f"order_{transition}" + (f": {note}" if note else ""),
        event_type=event,
        payload={"order_number": order.order_number},
        params=params,
    )


def _mirror_payment(order: Order, status: str) -> None:
    if order.payment_status != status:
        transition_perform(
            order,
            "mirror_payment_status",
            actor=None,
            reason=f"order payment status: {status}",
            params={"value": status},
        )


def order_generate_quote(*, order: Order, actor) -> Order:
    return _order(order, "generate_quote", actor=actor, event="order.quote_generated")


def order_request_payment(*, order: Order, actor) -> Order:
    """Quote accepted. Rule 1: refused for hardware unless the merchant's KYB is approved
    (checked here with the domain's message, then by the transition's guard, then by the
    database trigger orders_kyb_gate)."""
    from apps.merchants.models import CheckStatus

    if order.has_hardware() and order.merchant.kyb_status != CheckStatus.APPROVED:
        raise TransitionRefused(KYB_REQUIRED_FOR_HARDWARE, code="kyb_required")
    return _order(order, "request_payment", actor=actor, event="order.payment_requested")


def order_mark_paid(*, order: Order, actor=None, reference: str = "") -> Order:
    """The payment was captured; the first paid order converts the lead."""
    from apps.leads.models import LeadStatus
    from apps.leads.services import lead_convert

    with transaction.atomic():
        _order(
            order,
            "mark_paid",
            actor=actor,
            event="order.paid",
            params={"reference": reference},
            payment=OrderPaymentStatus.CAPTURED,
        )
        lead = order.merchant.lead
        if lead.status == LeadStatus.QUALIFIED:
            lead_convert(lead=lead, actor=actor, reason=f"order {order.order_number} paid")
    return order


def order_mark_hardware_ordered(*, order: Order, actor=None) -> Order:
    return _order(
        order,
        "mark_hardware_ordered",
        actor=actor,
        event="order.hardware_ordered",
        fulfillment=FulfillmentStatus.PROCESSING,
    )


def order_mark_shipped(*, order: Order, actor=None) -> Order:
    return _order(order, "mark_shipped", actor=actor, event="order.shipped")


def order_mark_delivered(*, order: Order, actor=None) -> Order:
    return _order(order, "mark_delivered", actor=actor, event="order.delivered")


def order_activate(*, order: Order, actor=None) -> Order:
    transition = "activate_software_only" if order.status == OrderStatus.PAID else "activate"
    return _order(
        order,
        transition,
        actor=actor,
        event="order.activated",
        fulfillment=FulfillmentStatus.FULFILLED,
    )


def order_cancel(*, order: Order, actor, reason: str) -> Order:
    if not reason.strip():
        raise DomainError(REASON_REQUIRED, code="reason_required")
    unpaid = order.payment_status == OrderPaymentStatus.PENDING
    return _order(
        order,
        "cancel",
        actor=actor,
        event="order.cancelled",
        note=reason,
        params={"reason": reason},
        payment=OrderPaymentStatus.CANCELLED if unpaid else None,
        fulfillment=FulfillmentStatus.CANCELLED,
    )


def order_refund(*, order: Order, actor, reason: str) -> Order:
    if not reason.strip():
        raise DomainError(REASON_REQUIRED, code="reason_required")
    return _order(
        order,
        "refund",
        actor=actor,
        event="order.refunded",
        note=reason,
        params={"reason": reason},
        payment=OrderPaymentStatus.REFUNDED,
    )


# --- Items ------------------------------------------------------------------------------------


def order_item_fulfill(*, item: OrderItem, actor=None) -> OrderItem:
    return transition_perform(item, "fulfill", actor=actor, reason="order_item_fulfill")


def order_item_cancel(*, item: OrderItem, actor=None) -> OrderItem:
    return transition_perform(item, "cancel", actor=actor, reason="order_item_cancel")


# --- Payments ---------------------------------------------------------------------------------


def _payment(payment: Payment, transition: str, *, actor, mirror: str, params=None, note=""):
    with transaction.atomic():
        transition_perform(
            payment,
            transition,
            actor=actor,
            reason=f"payment_{transition}" + (f": {note}" if note else ""),
            event_type=f"payment.{transition}",
            payload={"order_id": str(payment.order_id), "amount": str(payment.amount)},
            params=params,
        )
        _mirror_payment(payment.order, mirror)
    return payment


def payment_authorize(*, payment: Payment, actor=None, reference: str = "") -> Payment:
    return _payment(
        payment,
        "authorize",
        actor=actor,
        mirror=OrderPaymentStatus.AUTHORIZED,
        params={"reference": reference},
    )


def payment_capture(*, payment: Payment, actor=None) -> Payment:
    return _payment(payment, "capture", actor=actor, mirror=OrderPaymentStatus.CAPTURED)


def payment_fail(*, payment: Payment, reason: str, actor=None) -> Payment:
    return _payment(
        payment,
        "fail",
        actor=actor,
        mirror=OrderPaymentStatus.FAILED,
        params={"reason": reason},
        note=reason,
    )


def payment_refund(*, payment: Payment, actor=None, reference: str = "") -> Payment:
    return _payment(
        payment,
        "refund",
        actor=actor,
        mirror=OrderPaymentStatus.REFUNDED,
        params={"reference": reference},
    )


# --- Shipments --------------------------------------------------------------------------------


def _shipment(shipment: HardwareShipment, transition: str, *, actor, params=None, note=""):
    return transition_perform(
        shipment,
        transition,
        actor=actor,
        reason=f"shipment_{transition}" + (f": {note}" if note else ""),
        event_type=f"shipment.{transition}",
        payload={"order_id": str(shipment.order_id), "tracking": shipment.tracking_number},
        params=params,
    )


def shipment_process(*, shipment: HardwareShipment, actor=None) -> HardwareShipment:
    return _shipment(shipment, "process", actor=actor)


def shipment_ship(
    *, shipment: HardwareShipment, tracking_number: str = "", carrier: str = "", actor=None
) -> HardwareShipment:
    return _shipment(
        shipment,
        "ship",
        actor=actor,
        params={"tracking_number": tracking_number, "carrier": carrier},
    )


def shipment_mark_in_transit(*, shipment: HardwareShipment, actor=None) -> HardwareShipment:
    return _shipment(shipment, "mark_in_transit", actor=actor)


def shipment_deliver(*, shipment: HardwareShipment, actor=None) -> HardwareShipment:
    return _shipment(shipment, "deliver", actor=actor)


def shipment_fail_delivery(
    *, shipment: HardwareShipment, reason: str, actor=None
) -> HardwareShipment:
    return _shipment(shipment, "fail_delivery", actor=actor, params={"reason": reason}, note=reason)


def shipment_mark_returned(*, shipment: HardwareShipment, actor=None) -> HardwareShipment:
    return _shipment(shipment, "mark_returned", actor=actor)


def shipment_cancel(*, shipment: HardwareShipment, actor=None) -> HardwareShipment:
    return _shipment(shipment, "cancel", actor=actor)


# --- Journey steps 4-6 ------------------------------------------------------------------------


def _journey_step_complete(*, merchant, step_id: int, actor) -> None:
    """Complete one of the buying steps (started first if it was pending). Progress follows
    the purchase and never blocks it: a step that cannot move is logged and left as it is."""
    from apps.progress.models import MerchantStepProgress, StepStatus
    from apps.progress.services import step_complete, step_retry, step_start

    progress = (
        MerchantStepProgress.objects.select_for_update()
        .filter(merchant=merchant, step_id=step_id)
        .first()
    )
    if progress is None:
        logger.warning("Merchant %s has no progress row for step %s.", merchant.pk, step_id)
        return
    try:
        if progress.status == StepStatus.PENDING:
            step_start(progress=progress, actor=actor)
        elif progress.status == StepStatus.FAILED:
            step_retry(progress=progress, actor=actor)
        if progress.status == StepStatus.IN_PROGRESS:
            step_complete(progress=progress, actor=actor)
    except DomainError as exc:
        logger.warning("Step %s of merchant %s left as is: %s", step_id, merchant.pk, exc)


def _journey_quote_recorded(*, order: Order, actor) -> None:
    """Step 4 (software chosen) and step 5 (hardware chosen, or none needed) are done."""
    _journey_step_complete(merchant=order.merchant, step_id=selectors.SOFTWARE_STEP, actor=actor)
    _journey_step_complete(merchant=order.merchant, step_id=selectors.HARDWARE_STEP, actor=actor)


# --- Quotes (steps 4-5) -----------------------------------------------------------------------


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
    from apps.integrations.outbox import event_emit

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


def order_quote_create(
    *, merchant, selection: pricing.Selection, actor, created_by=None
) -> Order:
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
            order_cancel(
                order=old, actor=actor, reason=f"Replaced by quote {order.order_number}."
            )
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


BILLING_FIELDS = (
    "billing_address_line1",
    "billing_address_line2",
    "billing_city",
    "billing_state",
    "billing_postal_code",
    "billing_country",
)


def order_billing_address_set(*, order: Order, address: dict, actor) -> bool:
    """Set the billing address before payment. Tax follows the billing state, so the tax and
    total are priced again; returns True when the total changed (the merchant must see the
    new total before paying)."""
    address = {field: (address.get(field) or "").strip() for field in BILLING_FIELDS}
    address["billing_state"] = address["billing_state"].upper()
    address["billing_country"] = address["billing_country"].upper() or "US"
    if all(getattr(order, field) == address[field] for field in BILLING_FIELDS):
        return False  # nothing to change (also a replayed checkout of a paid order)
    if order.status not in (OrderStatus.QUOTE_GENERATED, OrderStatus.PAYMENT_PENDING):
        raise TransitionRefused(ADDRESS_LOCKED, code="address_locked")
    rate = quote_tax_rate(state=address["billing_state"], country=address["billing_country"])
    tax = sum(
        (
            pricing.line_tax(item.item_type, item.line_total, rate)
            for item in order.items.all()
        ),
        pricing.ZERO,
    )
    total = order.subtotal - order.discount_amount + tax
    total_changed = total != order.total_amount
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if locked.status not in (OrderStatus.QUOTE_GENERATED, OrderStatus.PAYMENT_PENDING):
            raise TransitionRefused(ADDRESS_LOCKED, code="address_locked")
        for target in (locked, order):
            for field in BILLING_FIELDS:
                setattr(target, field, address[field])
            target.tax_amount = tax
            target.total_amount = total
        save_tracked(locked, actor=actor, reason="order_billing_address_set")
    return total_changed


# --- Checkout (step 6) ------------------------------------------------------------------------
#
# The charge runs in the merchant's request, because a declined card must be answered on the
# page at once. Each database write is its own short transaction; the billing provider is
# called between them, never inside one, and with idempotency keys derived from the payment's
# own key, so a double click, a replayed request or a resumed attempt never charges twice.


def order_pay(*, order: Order, attempt: str, actor) -> Payment:
    """Charge the order's total: one Payment per checkout attempt (`attempt` is the form's
    one-time token), then the billing provider: customer (once per merchant) → authorize →
    capture. Returns the captured payment (the order is paid, the lead converted, step 6
    done, the provisioning saga enqueued). A declined card or an unreachable provider raises
    PaymentDeclined / PaymentUnavailable: nothing was charged and the order stays payable; a
    refused capture cancels the order (TransitionRefused with the reason). The same attempt
    again returns what it did the first time."""
    payment, run = _payment_attempt_open(order=order, attempt=attempt, actor=actor)
    if not run:
        return _payment_replay(payment)
    return _payment_run(payment=payment, actor=actor)


def _payment_key(order: Order, attempt: str) -> str:
    return f"order-{order.pk}-attempt-{attempt}"


def _stale(payment: Payment) -> bool:
    return payment.updated_at < timezone.now() - PAYMENT_IN_FLIGHT


def _payment_attempt_open(*, order: Order, attempt: str, actor) -> tuple[Payment, bool]:
    """Find or open the payment of this attempt, under the order's lock. Returns (payment,
    run): run is False for a replay of an attempt that finished or is still running."""
    from apps.orders import saga

    attempt = (attempt or "").strip()
    if not attempt:
        raise DomainError("This checkout form has expired: reload the page.", code="no_attempt")
    with transaction.atomic():
        locked = Order.objects.select_for_update().select_related("merchant").get(pk=order.pk)
        payment = Payment.objects.filter(idempotency_key=_payment_key(locked, attempt)).first()
        if payment is not None:
            payment.order = locked
            if payment.status in (PaymentStatus.PENDING, PaymentStatus.AUTHORIZED) and _stale(
                payment
            ):
                save_tracked(payment, actor=actor, reason="order_pay: attempt resumed")
                return payment, True
            return payment, False
        if locked.status in (*PAID_AND_LATER, OrderStatus.REFUNDED):
            raise TransitionRefused(ALREADY_PAID, code="already_paid")
        if selectors.order_needs_kyb(locked):
            raise TransitionRefused(KYB_REQUIRED_FOR_HARDWARE, code="kyb_required")
        if locked.status != OrderStatus.PAYMENT_PENDING:
            raise TransitionRefused(locked.status_reason or NOT_PAYABLE, code="not_payable")
        in_flight = (
            locked.payments.filter(status__in=[PaymentStatus.PENDING, PaymentStatus.AUTHORIZED])
            .order_by("-created_at")
            .first()
        )
        if in_flight is not None:
            if not _stale(in_flight):
                raise TransitionRefused(PAYMENT_IN_PROGRESS, code="payment_in_progress")
            in_flight.order = locked
            save_tracked(in_flight, actor=actor, reason="order_pay: attempt resumed")
            return in_flight, True
        payment = Payment(
            order=locked,
            amount=locked.total_amount,
            currency=locked.currency,
            idempotency_key=_payment_key(locked, attempt),
            payment_method="card",
        )
        save_tracked(payment, actor=actor, reason="order_pay: attempt opened")
        saga.charge_started(order=locked, payment=payment)
    return payment, True


def _payment_replay(payment: Payment) -> Payment:
    if payment.status in (PaymentStatus.CAPTURED, PaymentStatus.REFUNDED):
        return payment
    if payment.status == PaymentStatus.FAILED:
        if payment.order.status == OrderStatus.CANCELLED:
            raise TransitionRefused(payment.order.status_reason, code="charge_failed")
        error = PaymentDeclined if payment.failure_reason == CARD_DECLINED else PaymentUnavailable
        raise error(payment.failure_reason, code="payment_failed")
    raise TransitionRefused(PAYMENT_IN_PROGRESS, code="payment_in_progress")


def _billing_customer(merchant) -> str:
    from apps.integrations.providers import get_provider
    from apps.merchants.services import merchant_external_ids_set

    if merchant.billing_customer_id:
        return merchant.billing_customer_id
    user = getattr(merchant, "user", None)
    result = get_provider("billing").create_customer(
        idempotency_key=f"merchant-{merchant.pk}-billing-customer",
        merchant={
            "merchant_id": str(merchant.pk),
            "legal_name": merchant.legal_business_name,
            "email": user.email if user else merchant.lead.email,
        },
    )
    merchant_external_ids_set(merchant=merchant, billing_customer_id=result["customer_id"])
    return result["customer_id"]


def _payment_run(*, payment: Payment, actor) -> Payment:
    from apps.integrations.providers import get_provider
    from apps.integrations.providers.base import PermanentError, RetryableError
    from apps.orders import saga

    order = payment.order
    billing = get_provider("billing")
    try:
        customer_id = _billing_customer(order.merchant)
        if payment.status == PaymentStatus.PENDING:
            authorization = billing.authorize(
                idempotency_key=f"{payment.idempotency_key}-authorize",
                customer_id=customer_id,
                amount=payment.amount,
                currency=payment.currency,
            )
            payment_authorize(
                payment=payment, actor=actor, reference=authorization["authorization_id"]
            )
        capture = billing.capture(
            idempotency_key=f"{payment.idempotency_key}-capture",
            authorization_id=payment.provider_reference,
        )
    except PermanentError as exc:
        if payment.status == PaymentStatus.AUTHORIZED:
            # The card was good but billing refused the charge itself: compensate.
            message = CHARGE_FAILED.format(detail=exc.message.rstrip("."))
            saga.charge_failed(order=order, payment=payment, message=message, actor=actor)
            raise TransitionRefused(message, code="charge_failed") from exc
        declined = exc.code == "card_declined"
        message = CARD_DECLINED if declined else PAYMENT_REFUSED.format(
            detail=exc.message.rstrip(".")
        )
        _payment_refused(payment=payment, message=message, detail=exc.message, actor=actor)
        raise PaymentDeclined(message, code="card_declined" if declined else "refused") from exc
    except RetryableError as exc:
        _payment_refused(
            payment=payment, message=BILLING_UNAVAILABLE, detail=exc.message, actor=actor
        )
        raise PaymentUnavailable(BILLING_UNAVAILABLE, code="billing_unavailable") from exc
    _payment_finalize(payment=payment, charge_id=capture["charge_id"], actor=actor)
    return payment


def _payment_refused(*, payment: Payment, message: str, detail: str, actor) -> None:
    """The attempt failed and nothing was charged: the order stays payable."""
    from apps.orders import saga

    with transaction.atomic():
        payment_fail(payment=payment, reason=message, actor=actor)
        saga.charge_attempt_failed(order=payment.order, error=detail)


def _payment_finalize(*, payment: Payment, charge_id: str, actor) -> None:
    from apps.orders import saga

    order = payment.order
    try:
        with transaction.atomic():
            payment_capture(payment=payment, actor=actor)
            order_mark_paid(order=order, actor=actor, reference=charge_id)
            saga.charge_done(order=order, payment=payment, charge_id=charge_id)
            _journey_step_complete(
                merchant=order.merchant, step_id=selectors.PAYMENT_STEP, actor=actor
            )
            transaction.on_commit(lambda: saga.saga_enqueue(order_id=order.pk))
    except DomainError:
        # Money was taken for an order that can no longer be paid (cancelled meanwhile):
        # give it back at once rather than keep it.
        logger.exception("Order %s captured but not payable: refunding.", order.order_number)
        _payment_return(payment=payment, charge_id=charge_id, actor=actor)
        raise


def _payment_return(*, payment: Payment, charge_id: str, actor) -> None:
    from apps.integrations.providers import get_provider

    payment = Payment.objects.select_related("order").get(pk=payment.pk)
    refund = get_provider("billing").refund(
        idempotency_key=f"{payment.idempotency_key}-refund",
        charge_id=charge_id,
        amount=payment.amount,
    )
    with transaction.atomic():
        if payment.status == PaymentStatus.AUTHORIZED:
            payment_capture(payment=payment, actor=actor)
        payment_refund(payment=payment, actor=actor, reference=refund["refund_id"])


# --- Shipment tracking ------------------------------------------------------------------------

S = ShipmentStatus
# The carrier's normal path; a status further along implies the ones before it.
_TRACKING_PATH = [S.PENDING, S.PROCESSING, S.SHIPPED, S.IN_TRANSIT]
_TRACKING_TRANSITION = {
    S.PROCESSING: "process",
    S.SHIPPED: "ship",
    S.IN_TRANSIT: "mark_in_transit",
    S.DELIVERED: "deliver",
    S.FAILED_DELIVERY: "fail_delivery",
    S.RETURNED: "mark_returned",
    S.CANCELLED: "cancel",
}
# Replaying stored tracking in this order gives the furthest state whatever order it came in.
TRACKING_RANK = {
    S.PENDING: 0,
    S.PROCESSING: 1,
    S.SHIPPED: 2,
    S.IN_TRANSIT: 3,
    S.FAILED_DELIVERY: 4,
    S.DELIVERED: 5,
    S.RETURNED: 6,
    S.CANCELLED: 7,
}


def tracking_path(current: str, target: str) -> list[str] | None:
    """The states a shipment passes through to get from `current` to the reported `target`:
    [] when it is already there (a duplicate), None when the report is stale or impossible
    (ignored). Tracking may skip states ("delivered" before "in transit" arrived): the states
    in between are filled in, since the carrier cannot deliver what it never shipped."""
    if target == current:
        return []
    if target in _TRACKING_PATH:
        if current not in _TRACKING_PATH:
            return None
        start, end = _TRACKING_PATH.index(current), _TRACKING_PATH.index(target)
        return _TRACKING_PATH[start + 1 : end + 1] if start < end else None
    if target in (S.DELIVERED, S.FAILED_DELIVERY):
        if current in (S.PENDING, S.PROCESSING):
            return [*tracking_path(current, S.SHIPPED), target]
        if current in (S.SHIPPED, S.IN_TRANSIT):
            return [target]
        if current == S.FAILED_DELIVERY and target == S.DELIVERED:
            return [S.IN_TRANSIT, S.DELIVERED]  # delivered at a second attempt
        return None
    if target == S.RETURNED:
        return [S.RETURNED] if current in (S.FAILED_DELIVERY, S.DELIVERED) else None
    if target == S.CANCELLED:
        return [S.CANCELLED] if current in (S.PENDING, S.PROCESSING) else None
    return None


def _shipment_move(shipment: HardwareShipment, target: str, *, reason: str, tracking, carrier):
    if target == S.SHIPPED:
        return shipment_ship(shipment=shipment, tracking_number=tracking, carrier=carrier)
    if target == S.FAILED_DELIVERY:
        return shipment_fail_delivery(
            shipment=shipment, reason=reason or "The carrier could not deliver."
        )
    return _shipment(shipment, _TRACKING_TRANSITION[target], actor=None)


def shipment_tracking_apply(
    *,
    shipment_ref: str,
    status: str,
    reason: str = "",
    tracking_number: str = "",
    carrier: str = "",
) -> HardwareShipment | None:
    """Apply one tracking report from the hardware provider. Idempotent and tolerant of
    reports arriving twice or out of order: a duplicate or stale report changes nothing (a
    log line says so). A failed delivery raises a delivery_failed alert for the IC queue;
    the order's status follows its shipments."""
    from apps.progress.services import alert_raise_delivery_failed

    if status not in TRACKING_RANK:
        logger.warning("Shipment %s: unknown tracking status %r ignored.", shipment_ref, status)
        return None
    with transaction.atomic():
        shipment = (
            HardwareShipment.objects.select_for_update()
            .select_related("merchant", "merchant__lead")
            .filter(shipping_provider_id=shipment_ref)
            .first()
            if shipment_ref
            else None
        )
        if shipment is None:
            # Tracking can outrun the hardware order's own bookkeeping: the report stays in
            # the webhook inbox and is replayed once the shipment is recorded.
            logger.info("Tracking %r for unknown shipment %s: kept.", status, shipment_ref)
            return None
        path = tracking_path(shipment.shipment_status, status)
        if not path:
            logger.info(
                "Shipment %s is %s: tracking %r ignored (%s).",
                shipment_ref,
                shipment.shipment_status,
                status,
                "duplicate" if path == [] else "stale or impossible",
            )
            return shipment
        for target in path:
            _shipment_move(
                shipment,
                target,
                reason=reason,
                tracking=tracking_number,
                carrier=carrier,
            )
        if shipment.shipment_status == S.FAILED_DELIVERY:
            alert_raise_delivery_failed(shipment=shipment)
        if shipment.shipment_status == S.DELIVERED:
            _hardware_items_fulfill(shipment)
        order_fulfillment_refresh(order=shipment.order)
    return shipment


def _hardware_items_fulfill(shipment: HardwareShipment) -> None:
    items = shipment.order.items.filter(
        item_type=ItemType.HARDWARE,
        location_id=shipment.location_id,
        fulfillment_status=ItemFulfillmentStatus.PENDING,
    )
    for item in items:
        order_item_fulfill(item=item)


def shipment_tracking_replay(*, shipment: HardwareShipment) -> HardwareShipment:
    """Apply every tracking report stored for this shipment, furthest last (after the
    shipment row is created, for reports that arrived before it)."""
    reports = selectors.tracking_reports(shipment_ref=shipment.shipping_provider_id)
    for report in sorted(reports, key=lambda data: TRACKING_RANK.get(data.get("status"), -1)):
        shipment_tracking_apply(
            shipment_ref=shipment.shipping_provider_id,
            status=report.get("status"),
            reason=report.get("reason") or "",
            tracking_number=report.get("tracking_number") or "",
            carrier=report.get("carrier") or "",
        )
    shipment.refresh_from_db()
    return shipment


def order_fulfillment_refresh(*, order: Order) -> Order:
    """The order follows its shipments (hardware ordered → shipped → delivered) and is
    activated once delivered (or paid, without hardware) and provisioned."""
    from apps.orders import saga

    with transaction.atomic():
        order = Order.objects.select_for_update().select_related("merchant").get(pk=order.pk)
        statuses = [
            status
            for status in order.shipments.values_list("shipment_status", flat=True)
            if status != S.CANCELLED
        ]
        if order.status == OrderStatus.HARDWARE_ORDERED and any(
            TRACKING_RANK[status] >= TRACKING_RANK[S.SHIPPED] for status in statuses
        ):
            order_mark_shipped(order=order)
        if (
            order.status == OrderStatus.SHIPPED
            and statuses
            and all(status == S.DELIVERED for status in statuses)
        ):
            order_mark_delivered(order=order)
        ready = order.status == OrderStatus.DELIVERED or (
            order.status == OrderStatus.PAID and not order.has_hardware()
        )
        if ready and saga.provisioning_done(order=order):
            order_activate(order=order)
    return order


def order_quote_notify(*, order_id, idempotency_key: str) -> None:
    """Email the merchant that their AE's quote is ready to review and accept."""
    from django.urls import reverse

    from apps.integrations.providers import get_provider

    order = (
        Order.objects.select_related("merchant", "merchant__user", "merchant__lead", "created_by")
        .filter(pk=order_id)
        .first()
    )
    if order is None or order.is_self_serve:
        return
    merchant = order.merchant
    to = merchant.user.email if merchant.user_id else merchant.lead.email
    author = order.created_by.get_full_name() if order.created_by else ""
    get_provider("email").send(
        idempotency_key=idempotency_key,
        to=to,
        subject=f"Your quote {order.order_number} is ready",
        body=(
            f"{author or 'Your account executive'} prepared quote {order.order_number} for "
            f"{merchant.legal_business_name}: {order.total_amount} {order.currency} today.\n\n"
            "Sign in to the onboarding portal to review and accept it: "
            f"{reverse('orders:quote_accept', args=[order.order_number])}"
        ),
    )


TOTAL_CHANGED = (
    "The billing state changed the tax: the total is now {total} {currency}. Check it and "
    "press Pay again."
)


def order_checkout(*, order: Order, address: dict, attempt: str, actor) -> Payment:
    """The checkout form: the billing address is saved first (it decides the tax); when that
    changes the total, nothing is charged and the merchant is shown the new total
    (TransitionRefused "total_changed"). Otherwise the order is paid (order_pay)."""
    if order_billing_address_set(order=order, address=address, actor=actor):
        raise TransitionRefused(
            TOTAL_CHANGED.format(total=order.total_amount, currency=order.currency),
            code="total_changed",
        )
    return order_pay(order=order, attempt=attempt, actor=actor)
