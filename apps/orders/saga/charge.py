"""The charge, run by apps.orders.services.checkout.order_pay in the merchant's request: the
saga's rows are planned and the KYB check recorded when an attempt opens, then the charge
step succeeds, fails (the order stays payable) or is compensated (the order is cancelled)."""

from django.db import transaction

from apps.orders.models.order import Order
from apps.orders.models.saga_step import SagaStep, SagaStepStatus
from apps.orders.saga.steps import CHARGE, FORWARD, KYB_CHECK, _emit, _move, _plan, _steps
from apps.orders.services.payments import payment_fail
from apps.orders.services.transitions import order_cancel


def charge_started(*, order: Order, payment) -> None:
    """A payment attempt opens (in order_pay's transaction): the saga's rows exist, the KYB
    check is recorded, the charge step runs. The first attempt starts the workflow."""
    from apps.merchants.choices import CheckStatus

    first = not SagaStep.objects.filter(order=order).exists()
    steps = _plan(order, FORWARD)
    if first:
        _emit(order, "workflow.started", payment_id=str(payment.pk))
    kyb = steps[KYB_CHECK]
    if kyb.status != SagaStepStatus.DONE:
        _move(kyb, "start", note="checked before the charge")
        _move(
            kyb,
            "succeed",
            note="KYB gate passed",
            params={
                "result": {
                    "kyb_status": order.merchant.kyb_status,
                    "has_hardware": order.has_hardware(),
                    "kyb_required": order.has_hardware(),
                    "kyb_approved": order.merchant.kyb_status == CheckStatus.APPROVED,
                }
            },
        )
    charge = steps[CHARGE]
    if charge.status in (SagaStepStatus.PENDING, SagaStepStatus.FAILED):
        _move(charge, "start", note=f"payment attempt {payment.pk}")


def charge_attempt_failed(*, order: Order, error: str) -> None:
    """A declined or unanswered attempt: the order stays payable, a new attempt restarts the
    step (no retry of our own: the merchant decides)."""
    charge = _steps(order, lock=True).get(CHARGE)
    if charge is not None and charge.status == SagaStepStatus.RUNNING:
        _move(charge, "fail", note=error, params={"error": error})


def charge_done(*, order: Order, payment, charge_id: str) -> None:
    charge = _steps(order, lock=True)[CHARGE]
    if charge.status != SagaStepStatus.RUNNING:
        _move(charge, "start", note=f"payment attempt {payment.pk} resumed")
    _move(
        charge,
        "succeed",
        note=f"captured {payment.amount} {payment.currency}",
        params={
            "result": {
                "payment_id": str(payment.pk),
                "authorization_id": payment.provider_reference,
                "charge_id": charge_id,
                "amount": str(payment.amount),
                "currency": payment.currency,
            }
        },
    )


def charge_failed(*, order: Order, payment, message: str, actor) -> None:
    """Compensation for a refused charge: the payment failed, the order is cancelled with the
    reason (shown on its page). Nothing was captured, so nothing is refunded."""
    with transaction.atomic():
        payment_fail(payment=payment, reason=message, actor=actor)
        order = payment.order
        charge = _steps(order, lock=True).get(CHARGE)
        if charge is not None and charge.status == SagaStepStatus.RUNNING:
            _move(charge, "fail", note=message, params={"error": message})
        _emit(order, "workflow.failed", failed_step=CHARGE, error=message)
        _emit(order, "workflow.compensation_triggered", failed_step=CHARGE, action="cancel order")
        order_cancel(order=order, actor=actor, reason=message)
