"""The purchase-and-provision saga (DESIGN.md "Integrations", spec "Purchase and Provision").

    in the checkout request            django-q2 tasks, after the charge commits
    ──────────────────────────         ─────────────────────────────────────────────────────
    kyb_check ─► charge ─┬─► provision_x_series ──┐   (two tasks, in parallel)
                         └─► provision_payments ──┴─► hardware_order ─► confirmation_email
                                                                      ─► progress_update
    Compensation
    charge refused at capture ─────────► payment failed, order cancelled (reason on its page)
    provision_x_series, provision_payments or hardware_order failed for good (a permanent
    error, or MAX_ATTEMPTS retryable ones) ─► cancel_hardware ─► refund_payment ─► notify_failure
        cancel_hardware: the hardware orders placed are cancelled, shipments not yet sent too
        refund_payment:  the charge is refunded (billing), the order refunded
        notify_failure:  the merchant gets an email saying what happened and what next

Every step is a SagaStep row (pending → running → done | failed → running ... | compensated),
with its attempts, timings, error and result. A done step never runs again: the entry point
`saga_run` (task `saga_start`) can be called at any time — after a worker crash, by a
redelivered task — and resumes from the first step that is not done. Each step calls its
provider with keys derived from the order id and the step's name (`step_key`), so a step that
ran remotely but crashed before it was recorded makes no second remote effect when it runs
again. Provider calls happen outside database transactions; each step's result is then
applied and the step marked done in one transaction.

Events (outbox): workflow.started (first payment attempt), workflow.completed (progress
updated), workflow.failed and workflow.compensation_triggered.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone
from django_q.tasks import async_task

from apps.core.fsm import save_tracked
from apps.integrations.outbox import transition_perform
from apps.integrations.providers.base import PermanentError, RetryableError
from apps.orders.models import (
    PAID_AND_LATER,
    HardwareShipment,
    ItemFulfillmentStatus,
    ItemType,
    Order,
    OrderStatus,
    PaymentStatus,
    SagaStep,
    SagaStepStatus,
    ShipmentStatus,
)

logger = logging.getLogger(__name__)

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

FORWARD = (KYB_CHECK, CHARGE, X_SERIES, PAYMENTS_ACCOUNT, HARDWARE, EMAIL, PROGRESS)
PARALLEL = (X_SERIES, PAYMENTS_ACCOUNT)
TAIL = (HARDWARE, EMAIL, PROGRESS)
COMPENSATION = (CANCEL_HARDWARE, REFUND, NOTIFY)
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
}

MAX_ATTEMPTS = 3
START_TASK = "apps.orders.tasks.saga_start"
STEP_TASK = "apps.orders.tasks.saga_step_run"

PROVISIONING_FAILED = (
    "We could not set up your account ({detail}). Your payment was refunded and any hardware "
    "not yet shipped was cancelled."
)
WHAT_NEXT = (
    "Nothing else is needed from you now: our team has been told and will contact you. When "
    "the problem is fixed you can build a new quote from your onboarding dashboard."
)


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
    from apps.integrations.outbox import event_emit

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


# --- Charge (run by apps.orders.services.order_pay, in the request) ----------------------------


def charge_started(*, order: Order, payment) -> None:
    """A payment attempt opens (in order_pay's transaction): the saga's rows exist, the KYB
    check is recorded, the charge step runs. The first attempt starts the workflow."""
    from apps.merchants.models import CheckStatus

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
    from apps.orders.services import order_cancel, payment_fail

    with transaction.atomic():
        payment_fail(payment=payment, reason=message, actor=actor)
        order = payment.order
        charge = _steps(order, lock=True).get(CHARGE)
        if charge is not None and charge.status == SagaStepStatus.RUNNING:
            _move(charge, "fail", note=message, params={"error": message})
        _emit(order, "workflow.failed", failed_step=CHARGE, error=message)
        _emit(order, "workflow.compensation_triggered", failed_step=CHARGE, action="cancel order")
        order_cancel(order=order, actor=actor, reason=message)


# --- Running the saga -------------------------------------------------------------------------


def saga_enqueue(*, order_id) -> None:
    """Start the provisioning part after the charge committed (a task: the merchant's
    request does not wait for it)."""
    async_task(START_TASK, str(order_id), task_name=f"saga-start-{order_id}")


def saga_run(*, order_id, resume: bool = True) -> Order | None:
    """The entry point: run the saga of a paid order from its first step that is not done.
    Safe to call at any time and any number of times. `resume`: steps left "running" are
    taken to belong to a crashed worker and run again (their keys make that harmless)."""
    order = Order.objects.filter(pk=order_id).first()
    if order is None:
        return None
    steps = _steps(order)
    if compensating(order=order):
        _compensation_run(order, force=resume)
        return order
    if CHARGE not in steps or steps[CHARGE].status != SagaStepStatus.DONE:
        return order  # not paid: nothing to provision
    waiting = [name for name in PARALLEL if steps[name].status != SagaStepStatus.DONE]
    for name in waiting:
        step = steps[name]
        if step.status == SagaStepStatus.RUNNING and not resume:
            continue
        if step.status == SagaStepStatus.FAILED and step.next_retry_at is None:
            saga_compensate(order=order, failed_step=name, error=step.error)
            return order
        async_task(STEP_TASK, str(order.pk), name, task_name=f"saga-{name}-{order.pk}")
    if waiting:
        return order
    _tail_run(order, force=resume)
    return order


def saga_step_run(*, order_id, name: str) -> SagaStep | None:
    """Run one step (a task: the parallel steps and the scheduled retries). A redelivered
    task finds the step done and only moves the saga on."""
    order = Order.objects.filter(pk=order_id).first()
    if order is None or name not in (*PARALLEL, *TAIL, *COMPENSATION):
        logger.warning("saga_step_run: no order %s or no step %r", order_id, name)
        return None
    if name in COMPENSATION:
        _compensation_run(order, force=True)
    elif compensating(order=order):
        _stand_down(order, name)
    else:
        _run_step(order, name, force=True)
        _continue(order)
    return SagaStep.objects.filter(order=order, name=name).first()


def _continue(order: Order) -> None:
    """After a step ran: once both parallel steps are done, the rest runs in order."""
    if not compensating(order=order) and provisioning_done(order=order):
        _tail_run(order, force=False)


def _given_up(order: Order, name: str) -> bool:
    return SagaStep.objects.filter(
        order=order, name=name, status=SagaStepStatus.FAILED, next_retry_at__isnull=True
    ).exists()


def _tail_run(order: Order, *, force: bool) -> None:
    """The sequential steps, in order. A step waiting for its retry stops them here (the
    retry continues them); the email failing for good does not hold back the rest."""
    for name in TAIL:
        if _run_step(order, name, force=force):
            continue
        if name not in COMPENSATE_ON_FAILURE and _given_up(order, name):
            continue
        return


def _stand_down(order: Order, name: str) -> None:
    """The saga is compensating: a step that has not run yet never will."""
    with transaction.atomic():
        step = _steps(order, lock=True).get(name)
        if step is not None and step.status in (SagaStepStatus.PENDING, SagaStepStatus.FAILED):
            _move(step, "compensate", note="not run: the purchase is being undone")


def _claim(order: Order, name: str, *, force: bool) -> SagaStep | None:
    """Mark the step running for this worker, or None when it must not run here: done or
    undone already, failed for good, running elsewhere (unless `force`), or waiting for its
    scheduled retry (unless `force`)."""
    with transaction.atomic():
        step = SagaStep.objects.select_for_update().filter(order=order, name=name).first()
        if step is None or step.status in (SagaStepStatus.DONE, SagaStepStatus.COMPENSATED):
            return None
        if step.status == SagaStepStatus.FAILED and step.next_retry_at is None:
            return None
        if step.status == SagaStepStatus.RUNNING and not force:
            return None
        if step.waiting_for_retry and not force:
            return None
        resumed = " (resumed)" if step.status == SagaStepStatus.RUNNING else ""
        _move(step, "start", note=f"attempt {step.attempts + 1}{resumed}")
    return step


def _run_step(order: Order, name: str, *, force: bool) -> bool:
    """Run one step if it may run here; True when the step is done afterwards."""
    definition = STEPS[name]
    step = _claim(order, name, force=force)
    if step is None:
        return SagaStep.objects.filter(
            order=order, name=name, status=SagaStepStatus.DONE
        ).exists()
    order = Order.objects.select_related("merchant", "merchant__lead").get(pk=order.pk)
    try:
        result = definition.call(order)
    except PermanentError as exc:
        _step_failed(order, name, exc.message, permanent=True)
        return False
    except (RetryableError, Exception) as exc:  # a bug must not stop the saga
        detail = exc.message if isinstance(exc, RetryableError) else f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, RetryableError):
            logger.exception("Saga step %s of %s failed", name, order.order_number)
        _step_failed(order, name, detail, permanent=False)
        return False
    try:
        with transaction.atomic():
            step = SagaStep.objects.select_for_update().get(pk=step.pk)
            if step.status != SagaStepStatus.RUNNING:
                return step.status == SagaStepStatus.DONE
            definition.apply(order, result)
            _move(step, "succeed", note="done", params={"result": result})
    except Exception as exc:
        logger.exception("Saga step %s of %s could not be recorded", name, order.order_number)
        _step_failed(order, name, f"{type(exc).__name__}: {exc}", permanent=False)
        return False
    if definition.after is not None:
        try:
            definition.after(order, result)
        except Exception:  # the step is done; what follows is best effort
            logger.exception("After saga step %s of %s", name, order.order_number)
    return True


def _step_failed(order: Order, name: str, error: str, *, permanent: bool) -> None:
    """Record a failed attempt: retried later with backoff (a django-q2 schedule) while
    attempts remain, otherwise failed for good, which compensates a provisioning step."""
    from apps.integrations.delivery import backoff_delay

    with transaction.atomic():
        step = SagaStep.objects.select_for_update().get(order=order, name=name)
        if step.status != SagaStepStatus.RUNNING:
            return
        retry = not permanent and step.attempts < MAX_ATTEMPTS
        next_retry_at = timezone.now() + backoff_delay(step.attempts) if retry else None
        _move(
            step,
            "fail",
            note=error + ("" if retry else " (no more retries)"),
            params={"error": error[:2000], "next_retry_at": next_retry_at},
        )
        if retry:
            attempt = step.attempts
            transaction.on_commit(lambda: _schedule_retry(order, name, attempt, next_retry_at))
    if retry:
        return
    if name in COMPENSATE_ON_FAILURE:
        saga_compensate(order=order, failed_step=name, error=error)
    else:
        # The purchase stands (an email, the progress update, or an undo step): a person
        # looks at it in the admin (SagaStep), where the error is kept.
        logger.error("Saga step %s of %s failed for good: %s", name, order.order_number, error)


def _schedule_retry(order: Order, name: str, attempt: int, next_run) -> None:
    from django_q.models import Schedule

    try:
        with transaction.atomic():
            Schedule.objects.create(
                name=f"saga:{order.pk}:{name}:{attempt}",
                func=STEP_TASK,
                args=repr((str(order.pk), name)),
                schedule_type=Schedule.ONCE,
                repeats=1,
                next_run=next_run,
            )
    except IntegrityError:  # this retry was scheduled already
        pass


# --- Compensation -----------------------------------------------------------------------------


def saga_compensate(*, order: Order, failed_step: str, error: str) -> Order:
    """Undo a purchase whose provisioning failed for good: cancel the hardware, refund the
    payment, tell the merchant (each a recorded step, resumable like the others). Calling it
    again continues the compensation already under way."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if not compensating(order=order):
            reason = PROVISIONING_FAILED.format(detail=error.rstrip("."))
            steps = _plan(
                order,
                COMPENSATION,
                start_position=len(FORWARD),
                result={"reason": reason, "failed_step": failed_step},
            )
            _emit(order, "workflow.failed", failed_step=failed_step, error=error, compensated=True)
            _emit(
                order,
                "workflow.compensation_triggered",
                failed_step=failed_step,
                action="refund payment, cancel hardware",
            )
            for name in (*PARALLEL, *TAIL):
                step = steps.get(name)
                if (
                    step is not None
                    and step.status in (SagaStepStatus.PENDING, SagaStepStatus.FAILED)
                    and (step.waiting_for_retry or name != failed_step)
                ):
                    _move(step, "compensate", note="not run: the purchase is being undone")
    _compensation_run(order, force=False)
    return order


def _compensation_run(order: Order, *, force: bool) -> None:
    for name in COMPENSATION:
        if not _run_step(order, name, force=force):
            return


def _compensation_reason(order: Order) -> str:
    step = SagaStep.objects.filter(order=order, name=REFUND).first()
    return (step.result or {}).get("reason", "") if step else ""


# --- Steps: what each calls remotely, and what it records -------------------------------------


@dataclass(frozen=True)
class StepDefinition:
    call: Callable[[Order], dict]  # provider calls, outside any transaction
    apply: Callable[[Order, dict], None]  # database writes, in the step's transaction
    after: Callable[[Order, dict], None] | None = None  # best effort, after commit


def _provider(system: str):
    from apps.integrations.providers import get_provider

    return get_provider(system)


def _merchant_payload(merchant) -> dict:
    return {
        "merchant_id": str(merchant.pk),
        "legal_name": merchant.legal_business_name,
        "structure": merchant.business_structure,
        "address": _registered_address(merchant),
    }


def _registered_address(merchant) -> dict:
    return {
        "line1": merchant.registered_address_line1,
        "line2": merchant.registered_address_line2,
        "city": merchant.registered_city,
        "state": merchant.registered_state,
        "postal_code": merchant.registered_postal_code,
        "country": merchant.registered_country or "US",
    }


def _location_address(location) -> dict:
    return {
        "line1": location.address_line1,
        "line2": location.address_line2,
        "city": location.city,
        "state": location.state,
        "postal_code": location.postal_code,
        "country": location.country or "US",
    }


# X-Series: account, one location per business location, licences.


def _x_series_call(order: Order) -> dict:
    from apps.merchants.models import CheckStatus

    merchant = order.merchant
    merchant.refresh_from_db()
    if merchant.kyb_status != CheckStatus.APPROVED:
        raise PermanentError("business verification (KYB) is not approved", code="kyb_required")
    x_series = _provider("x_series")
    account_id = merchant.x_series_account_id or x_series.create_account(
        idempotency_key=step_key(order, X_SERIES, "account"),
        merchant=_merchant_payload(merchant),
    )["account_id"]
    targets = [
        (str(location.pk), {"name": str(location), **_location_address(location)})
        for location in merchant.locations.order_by("location_number")
    ] or [("registered", {"name": merchant.legal_business_name, **_registered_address(merchant)})]
    location_ids = {
        key: x_series.create_location(
            idempotency_key=step_key(order, X_SERIES, "location", key),
            account_id=account_id,
            location=payload,
        )["location_id"]
        for key, payload in targets
    }
    licensed = list(
        order.items.filter(item_type__in=[ItemType.SOFTWARE_LICENSE, ItemType.ADD_ON]).order_by(
            "created_at", "product_name"
        )
    )
    licence_ids = x_series.allocate_licences(
        idempotency_key=step_key(order, X_SERIES, "licences"),
        account_id=account_id,
        licences=[
            {"sku": item.product_sku, "quantity": item.quantity, "location_id": None}
            for item in licensed
        ],
    )["licence_ids"]
    return {"account_id": account_id, "location_ids": location_ids, "licence_ids": licence_ids}


def _x_series_apply(order: Order, result: dict) -> None:
    from apps.merchants.services import merchant_external_ids_set
    from apps.orders.services import order_item_fulfill

    merchant_external_ids_set(merchant=order.merchant, x_series_account_id=result["account_id"])
    licence_ids = iter(result.get("licence_ids", []))
    items = order.items.filter(
        item_type__in=[ItemType.SOFTWARE_LICENSE, ItemType.ADD_ON]
    ).order_by("created_at", "product_name")
    for item in items:
        first = next(licence_ids, "")
        for _ in range(item.quantity - 1):
            next(licence_ids, "")
        if item.fulfillment_status == ItemFulfillmentStatus.PENDING:
            item.x_series_license_id = first
            order_item_fulfill(item=item)


# Payments account.


def _payments_call(order: Order) -> dict:
    merchant = order.merchant
    merchant.refresh_from_db()
    account_id = merchant.payments_account_id or _provider("payments").create_account(
        idempotency_key=step_key(order, PAYMENTS_ACCOUNT, "account"),
        merchant=_merchant_payload(merchant),
    )["account_id"]
    return {"account_id": account_id}


def _payments_apply(order: Order, result: dict) -> None:
    from apps.merchants.services import merchant_external_ids_set

    merchant_external_ids_set(merchant=order.merchant, payments_account_id=result["account_id"])


# Hardware: one order per ship-to (a location, or the registered address), one shipment
# row per shipment the supplier announces.


def _ship_to(order: Order, location) -> dict:
    merchant = order.merchant
    if location is not None:
        return {
            "name": location.location_name or merchant.legal_business_name,
            "phone": location.phone,
            **_location_address(location),
        }
    return {"name": merchant.legal_business_name, "phone": "", **_registered_address(merchant)}


def _hardware_groups(order: Order) -> dict[str, tuple]:
    groups: dict[str, tuple] = {}
    items = order.items.filter(item_type=ItemType.HARDWARE).select_related("location")
    for item in items.order_by("created_at", "product_name"):
        key = str(item.location_id) if item.location_id else "registered"
        groups.setdefault(key, (item.location, []))[1].append(item)
    return groups


def _hardware_call(order: Order) -> dict:
    groups = _hardware_groups(order)
    hardware = _provider("hardware")
    placed = []
    for key, (location, items) in groups.items():
        ship_to = _ship_to(order, location)
        result = hardware.create_order(
            idempotency_key=step_key(order, HARDWARE, key),
            order={
                "order_id": str(order.pk),
                "order_number": order.order_number,
                "items": [{"sku": item.product_sku, "quantity": item.quantity} for item in items],
                "ship_to": ship_to,
            },
        )
        placed.append(
            {
                "ship_to_key": key,
                "location_id": str(location.pk) if location else None,
                "ship_to": ship_to,
                "hardware_order_id": result["hardware_order_id"],
                "shipments": result["shipments"],
            }
        )
    return {"hardware_orders": placed}


def _hardware_apply(order: Order, result: dict) -> None:
    from apps.orders.services import order_mark_hardware_ordered

    placed = result.get("hardware_orders", [])
    if not placed:
        return
    order = Order.objects.select_for_update().get(pk=order.pk)
    for hardware_order in placed:
        location_id = hardware_order["location_id"]
        items = order.items.filter(item_type=ItemType.HARDWARE, location_id=location_id)
        for item in items:
            if item.hardware_order_item_id != hardware_order["hardware_order_id"]:
                item.hardware_order_item_id = hardware_order["hardware_order_id"]
                save_tracked(item, actor=None, reason="saga hardware_order: supplier order id")
        ship_to = hardware_order["ship_to"]
        for announced in hardware_order["shipments"]:
            if HardwareShipment.objects.filter(
                shipping_provider_id=announced["shipment_ref"]
            ).exists():
                continue
            shipment = HardwareShipment(
                order=order,
                merchant_id=order.merchant_id,
                location_id=location_id,
                shipping_provider_id=announced["shipment_ref"],
                tracking_number=announced.get("tracking_number") or "",
                shipping_carrier=announced.get("carrier") or "",
                shipping_method="standard",
                ship_to_name=ship_to["name"],
                ship_to_address_line1=ship_to["line1"],
                ship_to_address_line2=ship_to.get("line2") or "",
                ship_to_city=ship_to["city"],
                ship_to_state=ship_to["state"],
                ship_to_postal_code=ship_to["postal_code"],
                ship_to_country=ship_to.get("country") or "US",
                ship_to_phone=ship_to.get("phone") or "",
            )
            save_tracked(shipment, actor=None, reason="saga hardware_order: shipment announced")
    if order.status == OrderStatus.PAID:
        order_mark_hardware_ordered(order=order)


def _hardware_after(order: Order, result: dict) -> None:
    """Tracking that arrived before the shipment rows existed is applied now."""
    from apps.orders.services import order_fulfillment_refresh, shipment_tracking_replay

    for shipment in HardwareShipment.objects.filter(order=order).order_by("created_at"):
        shipment_tracking_replay(shipment=shipment)
    order_fulfillment_refresh(order=order)


# Confirmation email.


def _merchant_email(order: Order) -> str:
    merchant = order.merchant
    user = merchant.user if merchant.user_id else None
    return user.email if user else merchant.lead.email


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


def _no_op(order: Order, result: dict) -> None:
    """Nothing to record besides the step itself."""


# Progress.


def _progress_call(order: Order) -> dict:
    return {"step": 6}


def _progress_apply(order: Order, result: dict) -> None:
    from apps.orders import selectors
    from apps.orders.services import _journey_step_complete, order_fulfillment_refresh

    _journey_step_complete(merchant=order.merchant, step_id=selectors.PAYMENT_STEP, actor=None)
    order = order_fulfillment_refresh(order=order)
    given_up = list(
        SagaStep.objects.filter(
            order=order, status=SagaStepStatus.FAILED, name__in=TAIL
        ).values_list("name", flat=True)
    )
    _emit(order, "workflow.completed", status=order.status, steps_failed=given_up)


# Compensation: cancel the hardware, refund, tell the merchant.


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
    from apps.orders.services import order_item_cancel, shipment_cancel

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
    from apps.orders.services import order_item_cancel, order_refund, payment_refund

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


STEPS: dict[str, StepDefinition] = {
    X_SERIES: StepDefinition(_x_series_call, _x_series_apply),
    PAYMENTS_ACCOUNT: StepDefinition(_payments_call, _payments_apply),
    HARDWARE: StepDefinition(_hardware_call, _hardware_apply, _hardware_after),
    EMAIL: StepDefinition(_email_call, _no_op),
    PROGRESS: StepDefinition(_progress_call, _progress_apply),
    CANCEL_HARDWARE: StepDefinition(_cancel_hardware_call, _cancel_hardware_apply),
    REFUND: StepDefinition(_refund_call, _refund_apply),
    NOTIFY: StepDefinition(_notify_call, _no_op),
}


# --- Sweep ------------------------------------------------------------------------------------


def sagas_resume_stalled(*, older_than=None) -> int:
    """Resume every saga with a step left running (a crashed worker) or a retry overdue for
    longer than `older_than` (default 10 minutes). Returns how many were resumed."""
    from datetime import timedelta

    cutoff = timezone.now() - (older_than or timedelta(minutes=10))
    stalled = (
        SagaStep.objects.filter(status=SagaStepStatus.RUNNING, started_at__lte=cutoff)
        | SagaStep.objects.filter(status=SagaStepStatus.FAILED, next_retry_at__lte=cutoff)
    ).exclude(name__in=[KYB_CHECK, CHARGE])
    order_ids = list(stalled.values_list("order_id", flat=True).distinct()[:200])
    for order_id in order_ids:
        async_task(START_TASK, str(order_id), task_name=f"saga-resume-{order_id}")
    return len(order_ids)
