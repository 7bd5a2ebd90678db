"""The saga's steps: their names, order and labels, their SagaStep rows (planned, moved,
read) and the events they emit. The lowest layer of the saga: the order services read it
(provisioning_done) without importing the runner."""

from collections.abc import Callable
from dataclasses import dataclass

from apps.core.fsm import save_tracked
from apps.integrations.outbox import event_emit, transition_perform
from apps.orders.models.order import Order
from apps.orders.models.saga_step import SagaStep, SagaStepStatus

KYB_CHECK = "kyb_check"
CHARGE = "charge"
X_SERIES = "provision_x_series"
PAYMENTS_ACCOUNT = "provision_payments"
HARDWARE = "hardware_order"
EMAIL = "confirmation_email"
PROGRESS = "progress_update"
CANCEL_HARDWARE = "cancel_hardware"
REFUND = "refund_payment"
NOTIFY = "notify_failure"
CLOSE_ACCOUNTS = "close_accounts"

FORWARD = (KYB_CHECK, CHARGE, X_SERIES, PAYMENTS_ACCOUNT, HARDWARE, EMAIL, PROGRESS)
PARALLEL = (X_SERIES, PAYMENTS_ACCOUNT)
TAIL = (HARDWARE, EMAIL, PROGRESS)
# Closing the accounts comes last: it never holds back the refund or the merchant's email.
COMPENSATION = (CANCEL_HARDWARE, REFUND, NOTIFY, CLOSE_ACCOUNTS)
# A failure of these for good undoes the purchase; the email and the progress update are
# retried and, if they keep failing, left for a person (the purchase itself stands).
COMPENSATE_ON_FAILURE = frozenset({X_SERIES, PAYMENTS_ACCOUNT, HARDWARE})

LABELS = {
    KYB_CHECK: "Business verification checked",
    CHARGE: "Payment",
    X_SERIES: "Lightspeed X-Series account, locations and licences",
    PAYMENTS_ACCOUNT: "Lightspeed Payments account",
    HARDWARE: "Hardware order",
    EMAIL: "Confirmation email",
    PROGRESS: "Onboarding progress updated",
    CANCEL_HARDWARE: "Hardware order cancelled",
    REFUND: "Payment refunded",
    NOTIFY: "You were told by email",
    CLOSE_ACCOUNTS: "Accounts opened for this order closed",
}


def step_key(order: Order, name: str, *parts) -> str:
    """The provider idempotency key of one remote effect of a step."""
    return ":".join(["order", str(order.pk), name, *(str(part) for part in parts)])


# --- Step rows --------------------------------------------------------------------------------


def _steps(order: Order, *, lock: bool = False) -> dict[str, SagaStep]:
    rows = SagaStep.objects.filter(order=order)
    if lock:
        rows = rows.select_for_update()
    return {step.name: step for step in rows}


def _plan(
    order: Order, names, *, start_position: int = 0, result: dict | None = None
) -> dict[str, SagaStep]:
    """Create the rows of `names` that do not exist yet (in the caller's transaction)."""
    steps = _steps(order, lock=True)
    for position, name in enumerate(names, start=start_position):
        if name not in steps:
            step = SagaStep(order=order, name=name, position=position, result=result or {})
            save_tracked(step, actor=None, reason=f"saga {name}: planned")
            steps[name] = step
    return steps


def _move(step: SagaStep, transition: str, *, note: str, params=None) -> SagaStep:
    return transition_perform(
        step, transition, actor=None, reason=f"saga {step.name}: {note}", params=params
    )


def _emit(order: Order, event_type: str, **payload) -> None:
    event_emit(
        event_type=event_type,
        aggregate=order,
        payload={"order_number": order.order_number, **payload},
    )


def provisioning_done(*, order: Order) -> bool:
    return SagaStep.objects.filter(
        order=order, name__in=PARALLEL, status=SagaStepStatus.DONE
    ).count() == len(PARALLEL)


def compensating(*, order: Order) -> bool:
    return SagaStep.objects.filter(order=order, name__in=COMPENSATION).exists()


@dataclass(frozen=True)
class StepDefinition:
    call: Callable[[Order], dict]  # provider calls, outside any transaction
    apply: Callable[[Order, dict], None]  # database writes, in the step's transaction
    after: Callable[[Order, dict], None] | None = None  # best effort, after commit


def _no_op(order: Order, result: dict) -> None:
    """Nothing to record besides the step itself."""
