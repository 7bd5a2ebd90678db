"""Running the saga: saga_enqueue / saga_run (the entry point, task saga_start) resume it
from its first step that is not done; saga_step_run runs one step (the parallel steps and
every retry). A step that fails for good compensates the purchase (saga_compensate). The
sweep resumes sagas left behind by a crashed worker. Safe to call any number of times."""

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone
from django_q.tasks import async_task

from apps.integrations.providers.base import PermanentError, RetryableError
from apps.orders.models.order import Order
from apps.orders.models.saga_step import SagaStep, SagaStepStatus
from apps.orders.saga import compensation, completion, hardware, provisioning
from apps.orders.saga.compensation import merchant_reason
from apps.orders.saga.steps import (
    CHARGE,
    COMPENSATE_ON_FAILURE,
    COMPENSATION,
    FORWARD,
    PARALLEL,
    TAIL,
    StepDefinition,
    _emit,
    _move,
    _plan,
    _steps,
    compensating,
    provisioning_done,
)

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
START_TASK = "apps.orders.tasks.saga_start"
STEP_TASK = "apps.orders.tasks.saga_step_run"

# Every step run by a task: what it calls remotely, and what it records.
STEPS: dict[str, StepDefinition] = {
    **provisioning.STEPS,
    **hardware.STEPS,
    **completion.STEPS,
    **compensation.STEPS,
}


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
        return SagaStep.objects.filter(order=order, name=name, status=SagaStepStatus.DONE).exists()
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
# Started here rather than in compensation.py: it runs the undo steps through _run_step, and a
# step failing for good (_step_failed) starts it, so the two belong to one module.


def saga_compensate(*, order: Order, failed_step: str, error: str) -> Order:
    """Undo a purchase whose provisioning failed for good: cancel the hardware, refund the
    payment, tell the merchant (each a recorded step, resumable like the others). Calling it
    again continues the compensation already under way."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if not compensating(order=order):
            reason = merchant_reason(failed_step=failed_step)
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
    with transaction.atomic():
        # A compensation planned before an undo step was added gets its row now.
        planned = _steps(order, lock=True).get(COMPENSATION[0])
        result = (planned.result or {}) if planned else {}
        _plan(order, COMPENSATION, start_position=len(FORWARD), result=result)
    for name in COMPENSATION:
        if not _run_step(order, name, force=force):
            return
