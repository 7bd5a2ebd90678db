"""The saga's last steps: the confirmation email, then the onboarding progress update (step 6
done, the order activated when it may be, workflow.completed). Failing for good, they are
left for a person: the purchase itself stands."""

from apps.orders import selectors
from apps.orders.models.order import Order
from apps.orders.models.saga_step import SagaStep, SagaStepStatus
from apps.orders.saga.payloads import _merchant_email, _provider
from apps.orders.saga.steps import EMAIL, PROGRESS, TAIL, StepDefinition, _emit, _no_op, step_key
from apps.orders.services.journey import _journey_step_complete
from apps.orders.services.shipments import order_fulfillment_refresh

# Confirmation email.


def _email_call(order: Order) -> dict:
    items = order.items.order_by("created_at", "product_name")
    lines = "\n".join(
        f"  {item.quantity} × {item.product_name}: {item.line_total} {order.currency}"
        for item in items
    )
    hardware = order.has_hardware()
    body = (
        f"Thank you: order {order.order_number} is paid ({order.total_amount} "
        f"{order.currency}).\n\n{lines}\n\n"
        "Your Lightspeed X-Series and Lightspeed Payments accounts are ready. "
        + (
            "Your hardware is on its way: follow its tracking on your order page. "
            if hardware
            else ""
        )
        + "Next step: verify the identity of the business's owners (KYC) to turn on payments."
    )
    to = _merchant_email(order)
    sent = _provider("email").send(
        idempotency_key=step_key(order, EMAIL),
        to=to,
        subject=f"Order {order.order_number} confirmed",
        body=body,
    )
    return {"message_id": sent["message_id"], "to": to}


# Progress.


def _progress_call(order: Order) -> dict:
    return {"step": 6}


def _progress_apply(order: Order, result: dict) -> None:

    _journey_step_complete(merchant=order.merchant, step_id=selectors.PAYMENT_STEP, actor=None)
    order = order_fulfillment_refresh(order=order)
    given_up = list(
        SagaStep.objects.filter(
            order=order, status=SagaStepStatus.FAILED, name__in=TAIL
        ).values_list("name", flat=True)
    )
    _emit(order, "workflow.completed", status=order.status, steps_failed=given_up)


STEPS = {
    EMAIL: StepDefinition(_email_call, _no_op),
    PROGRESS: StepDefinition(_progress_call, _progress_apply),
}
