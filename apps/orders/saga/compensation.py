"""The undo steps of a purchase whose provisioning failed for good: cancel the hardware,
refund the payment (the order refunded, its licences "Refunded", step 6 reopened with what
happened and what next, the lead no longer converted when this order converted it), tell the
merchant, and close the X-Series and payments accounts this purchase opened. saga_compensate,
in the runner, starts them; each is a recorded, resumable step like the others."""

from apps.orders.models.catalog import ItemType
from apps.orders.models.order import PAID_AND_LATER, ItemFulfillmentStatus, Order
from apps.orders.models.payment import PaymentStatus
from apps.orders.models.saga_step import SagaStep, SagaStepStatus
from apps.orders.models.shipment import HardwareShipment, ShipmentStatus
from apps.orders.saga.payloads import _merchant_email, _provider
from apps.orders.saga.steps import (
    CANCEL_HARDWARE,
    CHARGE,
    CLOSE_ACCOUNTS,
    HARDWARE,
    NOTIFY,
    PAYMENTS_ACCOUNT,
    REFUND,
    X_SERIES,
    StepDefinition,
    _move,
    _no_op,
    step_key,
)
from apps.orders.services.journey import order_journey_undo
from apps.orders.services.payments import payment_refund
from apps.orders.services.shipments import shipment_cancel
from apps.orders.services.transitions import order_item_cancel, order_item_refund, order_refund

# What the merchant reads (order page, dashboard, email): their words, never the provider's
# error text, which stays on the failed step for staff (SagaStep.error, the staff order page).
PROVISIONING_FAILED = (
    "We could not complete your order: {what}. Your payment was refunded in full and any "
    "hardware not yet shipped was cancelled."
)
WHAT_FAILED = {
    X_SERIES: "we could not set up your Lightspeed X-Series account",
    PAYMENTS_ACCOUNT: "we could not open your Lightspeed Payments account",
    HARDWARE: "our hardware supplier could not take your hardware order",
}
WHAT_FAILED_OTHERWISE = "part of its setup could not be done"
WHAT_NEXT = (
    "Nothing else is needed from you now: our team has been told and will contact you. When "
    "the problem is fixed you can build a new quote from your onboarding dashboard."
)
# Step 6 (payment) reopened on the dashboard: what happened and what to do, in one card.
PAYMENT_STEP_UNDONE = "Your order {number} was refunded: {what}. {what_next}"


def merchant_reason(*, failed_step: str) -> str:
    """Why the purchase was undone, as the merchant reads it."""
    return PROVISIONING_FAILED.format(what=WHAT_FAILED.get(failed_step, WHAT_FAILED_OTHERWISE))


def payment_step_undone(*, order: Order, failed_step: str) -> str:
    what = WHAT_FAILED.get(failed_step, WHAT_FAILED_OTHERWISE)
    return PAYMENT_STEP_UNDONE.format(number=order.order_number, what=what, what_next=WHAT_NEXT)


def _compensation_plan(order: Order) -> dict:
    """What saga_compensate recorded on the undo steps: the reason and the failed step."""
    step = SagaStep.objects.filter(order=order, name=REFUND).first()
    return (step.result or {}) if step else {}


def _compensation_reason(order: Order) -> str:
    return _compensation_plan(order).get("reason", "")


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
    for item in order.items.filter(fulfillment_status=ItemFulfillmentStatus.FULFILLED):
        order_item_refund(item=item)
    charge = SagaStep.objects.select_for_update().get(order=order, name=CHARGE)
    if charge.status == SagaStepStatus.DONE:
        _move(charge, "compensate", note="payment refunded")
    failed_step = _compensation_plan(order).get("failed_step", "")
    order_journey_undo(
        order=order, merchant_words=payment_step_undone(order=order, failed_step=failed_step)
    )


def _notify_call(order: Order) -> dict:
    # The refund (run before) kept the reason on the order; the plan's copy on the refund
    # step was replaced by the refund's own result.
    reason = order.status_reason or _compensation_reason(order)
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


def _accounts_opened_for(order: Order) -> dict[str, str]:
    """The merchant's accounts this purchase opened and nothing else holds: recorded from
    this order's provisioning steps, no other paid order standing, and (payments) not
    activated. {system: account_id}."""
    merchant = order.merchant
    merchant.refresh_from_db()
    if merchant.orders.exclude(pk=order.pk).filter(status__in=PAID_AND_LATER).exists():
        return {}
    results = {
        step.name: step.result or {}
        for step in SagaStep.objects.filter(order=order, name__in=[X_SERIES, PAYMENTS_ACCOUNT])
    }
    opened = {}
    x_series = results.get(X_SERIES, {}).get("account_id")
    if x_series and merchant.x_series_account_id == x_series:
        opened["x_series"] = x_series
    payments = results.get(PAYMENTS_ACCOUNT, {}).get("account_id")
    if payments and merchant.payments_account_id == payments and not merchant.payments_activated:
        opened["payments"] = payments
    return opened


def _close_accounts_call(order: Order) -> dict:
    closed = {}
    for system, account_id in _accounts_opened_for(order).items():
        _provider(system).close_account(
            idempotency_key=step_key(order, CLOSE_ACCOUNTS, system),
            account_id=account_id,
            reason=f"order {order.order_number} refunded",
        )
        closed[system] = account_id
    return {"closed": closed}


def _close_accounts_apply(order: Order, result: dict) -> None:
    from apps.merchants.services.external_ids import merchant_external_accounts_close

    closed = result.get("closed", {})
    if closed:
        merchant_external_accounts_close(
            merchant=order.merchant,
            x_series_account_id=closed.get("x_series", ""),
            payments_account_id=closed.get("payments", ""),
            reason=f"order {order.order_number} refunded",
        )
    for step in SagaStep.objects.select_for_update().filter(
        order=order, name__in=[X_SERIES, PAYMENTS_ACCOUNT], status=SagaStepStatus.DONE
    ):
        system = "x_series" if step.name == X_SERIES else "payments"
        note = "account closed" if system in closed else "account kept (used elsewhere)"
        _move(step, "compensate", note=note)


STEPS = {
    CANCEL_HARDWARE: StepDefinition(_cancel_hardware_call, _cancel_hardware_apply),
    REFUND: StepDefinition(_refund_call, _refund_apply),
    NOTIFY: StepDefinition(_notify_call, _no_op),
    CLOSE_ACCOUNTS: StepDefinition(_close_accounts_call, _close_accounts_apply),
}
