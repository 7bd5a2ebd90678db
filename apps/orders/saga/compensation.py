"""The undo steps of a purchase whose provisioning failed for good: cancel the hardware,
refund the payment, tell the merchant (with the reason and WHAT_NEXT). saga_compensate, in
the runner, starts them; each is a recorded, resumable step like the others."""

from apps.orders.models.catalog import ItemType
from apps.orders.models.order import PAID_AND_LATER, ItemFulfillmentStatus, Order
from apps.orders.models.payment import PaymentStatus
from apps.orders.models.saga_step import SagaStep, SagaStepStatus
from apps.orders.models.shipment import HardwareShipment, ShipmentStatus
from apps.orders.saga.payloads import _merchant_email, _provider
from apps.orders.saga.steps import (
    CANCEL_HARDWARE,
    CHARGE,
    HARDWARE,
    NOTIFY,
    REFUND,
    StepDefinition,
    _move,
    _no_op,
    step_key,
)
from apps.orders.services.payments import payment_refund
from apps.orders.services.shipments import shipment_cancel
from apps.orders.services.transitions import order_item_cancel, order_refund

PROVISIONING_FAILED = (
    "We could not set up your account ({detail}). Your payment was refunded and any hardware "
    "not yet shipped was cancelled."
)
WHAT_NEXT = (
    "Nothing else is needed from you now: our team has been told and will contact you. When "
    "the problem is fixed you can build a new quote from your onboarding dashboard."
)


def _compensation_reason(order: Order) -> str:
    step = SagaStep.objects.filter(order=order, name=REFUND).first()
    return (step.result or {}).get("reason", "") if step else ""


def _cancel_hardware_call(order: Order) -> dict:
    step = SagaStep.objects.filter(order=order, name=HARDWARE).first()
    placed = (step.result or {}).get("hardware_orders", []) if step else []
    hardware = _provider("hardware")
    cancelled = []
    for hardware_order in placed:
        hardware_order_id = hardware_order["hardware_order_id"]
        answer = hardware.cancel_order(
            idempotency_key=step_key(order, CANCEL_HARDWARE, hardware_order_id),
            hardware_order_id=hardware_order_id,
        )
        cancelled.append({"hardware_order_id": hardware_order_id, **answer})
    return {"cancelled": cancelled}


def _cancel_hardware_apply(order: Order, result: dict) -> None:

    not_sent = [ShipmentStatus.PENDING, ShipmentStatus.PROCESSING]
    for shipment in HardwareShipment.objects.select_for_update().filter(
        order=order, shipment_status__in=not_sent
    ):
        shipment_cancel(shipment=shipment)
    for item in order.items.filter(
        item_type=ItemType.HARDWARE, fulfillment_status=ItemFulfillmentStatus.PENDING
    ):
        order_item_cancel(item=item)
    hardware = SagaStep.objects.select_for_update().get(order=order, name=HARDWARE)
    if hardware.status == SagaStepStatus.DONE:
        _move(hardware, "compensate", note="hardware order cancelled")


def _refund_call(order: Order) -> dict:
    payment = order.payments.filter(status=PaymentStatus.CAPTURED).first()
    if payment is None:
        return {"refunded": False}
    charge = SagaStep.objects.get(order=order, name=CHARGE)
    charge_id = (charge.result or {}).get("charge_id") or order.payment_reference
    refund = _provider("billing").refund(
        idempotency_key=step_key(order, REFUND, payment.pk),
        charge_id=charge_id,
        amount=payment.amount,
    )
    return {
        "refunded": True,
        "payment_id": str(payment.pk),
        "refund_id": refund["refund_id"],
        "amount": str(payment.amount),
    }


def _refund_apply(order: Order, result: dict) -> None:

    order = Order.objects.select_for_update().get(pk=order.pk)
    if result.get("refunded"):
        payment = order.payments.get(pk=result["payment_id"])
        payment.order = order
        if payment.status == PaymentStatus.CAPTURED:
            payment_refund(payment=payment, reference=result["refund_id"])
    if order.status in PAID_AND_LATER:
        order_refund(order=order, actor=None, reason=_compensation_reason(order))
    for item in order.items.filter(fulfillment_status=ItemFulfillmentStatus.PENDING):
        order_item_cancel(item=item)
    charge = SagaStep.objects.select_for_update().get(order=order, name=CHARGE)
    if charge.status == SagaStepStatus.DONE:
        _move(charge, "compensate", note="payment refunded")


def _notify_call(order: Order) -> dict:
    reason = _compensation_reason(order)
    to = _merchant_email(order)
    body = (
        f"We are sorry: your order {order.order_number} could not be completed.\n\n"
        f"What happened: {reason}\n\nWhat next: {WHAT_NEXT}"
    )
    sent = _provider("email").send(
        idempotency_key=step_key(order, NOTIFY),
        to=to,
        subject=f"Order {order.order_number} refunded",
        body=body,
    )
    return {"message_id": sent["message_id"], "to": to}


STEPS = {
    CANCEL_HARDWARE: StepDefinition(_cancel_hardware_call, _cancel_hardware_apply),
    REFUND: StepDefinition(_refund_call, _refund_apply),
    NOTIFY: StepDefinition(_notify_call, _no_op),
}
