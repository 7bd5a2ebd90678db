"""Order and order item transitions, each one use case: the transition, the mirrored payment
and fulfilment statuses, the history row and the outbox event in one save. Refused moves
raise TransitionRefused / DomainError with the messages below."""

from django.db import transaction

from apps.core.errors import DomainError, TransitionRefused
from apps.integrations.outbox import transition_perform
from apps.orders.models.order import (
    FulfillmentStatus,
    Order,
    OrderItem,
    OrderPaymentStatus,
    OrderStatus,
)

REASON_REQUIRED = "Say why: the merchant is told."
KYB_REQUIRED_FOR_HARDWARE = (
    "Business verification (KYB) must be approved before an order with hardware can be paid."
)


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


def order_generate_quote(*, order: Order, actor) -> Order:
    return _order(order, "generate_quote", actor=actor, event="order.quote_generated")


def order_request_payment(*, order: Order, actor) -> Order:
    """Quote accepted. Rule 1: refused for hardware unless the merchant's KYB is approved
    (checked here with the domain's message, then by the transition's guard, then by the
    database trigger orders_kyb_gate)."""
    from apps.merchants.choices import CheckStatus

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
        fulfillment=FulfillmentStatus.CANCELLED,
    )


# --- Items ------------------------------------------------------------------------------------


def order_item_fulfill(*, item: OrderItem, actor=None) -> OrderItem:
    return transition_perform(item, "fulfill", actor=actor, reason="order_item_fulfill")


def order_item_cancel(*, item: OrderItem, actor=None) -> OrderItem:
    return transition_perform(item, "cancel", actor=actor, reason="order_item_cancel")


def order_item_refund(*, item: OrderItem, actor=None) -> OrderItem:
    """A fulfilled line (a licence) paid back with its order: no longer "Fulfilled"."""
    return transition_perform(
        item,
        "refund",
        actor=actor,
        reason="order_item_refund",
        event_type="order.item_refunded",
        payload={"order_id": str(item.order_id), "product_sku": item.product_sku},
    )
