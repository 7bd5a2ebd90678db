"""Checkout (step 6): the billing address (it decides the tax), then the charge in the
merchant's request (order_pay): one Payment per attempt, billing customer → authorize →
capture, each replay answered as the first time. Once paid, the purchase saga is enqueued
(apps.orders.saga.runner); a declined or unreachable charge leaves the order payable."""

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from apps.core.errors import DomainError, TransitionRefused
from apps.core.fsm import save_tracked
from apps.integrations.providers.base import PermanentError, RetryableError
from apps.merchants.services.accounts import merchant_email_verified_check
from apps.orders import pricing, selectors
from apps.orders.models.order import PAID_AND_LATER, Order, OrderStatus
from apps.orders.models.payment import Payment, PaymentStatus
from apps.orders.saga import runner  # looked up when the charge commits (tests replace it)
from apps.orders.saga.charge import (
    charge_attempt_failed,
    charge_done,
    charge_failed,
    charge_started,
)
from apps.orders.services.journey import _journey_step_complete
from apps.orders.services.payments import (
    payment_authorize,
    payment_capture,
    payment_fail,
    payment_refund,
)
from apps.orders.services.quotes import quote_tax_rate
from apps.orders.services.transitions import KYB_REQUIRED_FOR_HARDWARE, order_mark_paid

logger = logging.getLogger(__name__)

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
        (pricing.line_tax(item.item_type, item.line_total, rate) for item in order.items.all()),
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
    again returns what it did the first time. Waits for the merchant's email to be verified
    (DomainError "email_not_verified")."""
    merchant_email_verified_check(order.merchant)
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
        charge_started(order=locked, payment=payment)
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
    from apps.merchants.services.external_ids import merchant_external_ids_set

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
            charge_failed(order=order, payment=payment, message=message, actor=actor)
            raise TransitionRefused(message, code="charge_failed") from exc
        declined = exc.code == "card_declined"
        message = (
            CARD_DECLINED if declined else PAYMENT_REFUSED.format(detail=exc.message.rstrip("."))
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
    with transaction.atomic():
        payment_fail(payment=payment, reason=message, actor=actor)
        charge_attempt_failed(order=payment.order, error=detail)


def _payment_finalize(*, payment: Payment, charge_id: str, actor) -> None:
    order = payment.order
    try:
        with transaction.atomic():
            payment_capture(payment=payment, actor=actor)
            order_mark_paid(order=order, actor=actor, reference=charge_id)
            charge_done(order=order, payment=payment, charge_id=charge_id)
            _journey_step_complete(
                merchant=order.merchant, step_id=selectors.PAYMENT_STEP, actor=actor
            )
            transaction.on_commit(lambda: runner.saga_enqueue(order_id=order.pk))
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
