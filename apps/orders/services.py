from django.db import transaction

from apps.core.errors import DomainError
from apps.core.services import transition_perform
from apps.orders.models import (
    FulfillmentStatus,
    HardwareShipment,
    Order,
    OrderItem,
    OrderPaymentStatus,
    OrderStatus,
    Payment,
)

REASON_REQUIRED = "Say why: the merchant is told."


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
    """Quote accepted. Rule 1: refused for hardware unless the merchant's KYB is approved."""
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
