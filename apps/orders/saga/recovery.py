"""The saga sweep (apps/core/recovery.py): sagas nothing is moving any more.

A saga is moved by tasks (saga_start, saga_step_run) and by the retries it schedules. When
one of them is lost, the saga's rows say so: a step left running by a dead worker, a retry
overdue, or — the start task lost — a paid order whose next steps are all still pending. The
sweep finds those orders in a few set-based queries and queues saga_start for each (which
resumes from the first step that is not done; done steps never run again), at most once per
claim interval, so an order whose start is merely waiting in the broker is not queued twice.

Not stuck, so left alone: a saga with a step running for less than STUCK_AFTER or waiting
for a retry that is not overdue (it is moving), an unpaid order (its charge is not done: the
merchant decides), and a compensation step failed for good (a person must look: its error is
on the staff order page).
"""

from datetime import timedelta

from django.db import transaction
from django.db.models import Count, Exists, Min, OuterRef, Q, QuerySet
from django.utils import timezone

from apps.core.recovery import (
    Stuck,
    StuckKind,
    claims_release,
    claims_take,
    enqueue_each,
    stuck_kind_register,
)
from apps.orders.models.order import Order
from apps.orders.models.saga_step import SagaStep, SagaStepStatus
from apps.orders.saga.steps import CHARGE, COMPENSATION, KYB_CHECK

SAGAS = "sagas"
STUCK_AFTER = timedelta(minutes=10)
SWEEP_LIMIT = 200
START_TASK = "apps.orders.tasks.saga_start"


def _stuck_steps(cutoff) -> QuerySet[SagaStep]:
    """Steps that should have moved by `cutoff` and did not."""
    charged = SagaStep.objects.filter(
        order=OuterRef("order"), name=CHARGE, status=SagaStepStatus.DONE
    )
    moving = SagaStep.objects.filter(order=OuterRef("order")).filter(
        Q(status=SagaStepStatus.RUNNING, started_at__gt=cutoff)
        | Q(status=SagaStepStatus.FAILED, next_retry_at__gt=cutoff)
    )
    needs_a_person = SagaStep.objects.filter(
        order=OuterRef("order"),
        name__in=COMPENSATION,
        status=SagaStepStatus.FAILED,
        next_retry_at__isnull=True,
    )
    left_running = Q(status=SagaStepStatus.RUNNING, started_at__lte=cutoff)
    retry_overdue = Q(status=SagaStepStatus.FAILED, next_retry_at__lte=cutoff)
    never_started = Q(status=SagaStepStatus.PENDING, updated_at__lte=cutoff) & (
        Q(name__in=COMPENSATION) | Q(Exists(charged))
    )
    return (
        SagaStep.objects.filter(left_running | retry_overdue | never_started)
        .exclude(name__in=[KYB_CHECK, CHARGE])
        .exclude(Exists(moving))
        .exclude(Exists(needs_a_person))
    )


def sagas_stuck() -> Stuck:
    """How many orders' sagas are stuck, and since when (the oldest step's last change)."""
    figures = _stuck_steps(timezone.now() - STUCK_AFTER).aggregate(
        count=Count("order", distinct=True), oldest=Min("updated_at")
    )
    return Stuck(count=figures["count"], oldest=figures["oldest"])


def sagas_sweep(*, force: bool = False, limit: int = SWEEP_LIMIT) -> int:
    """Queue saga_start for each order whose saga is stuck (see the module docstring), the
    longest stuck first. Returns how many were queued."""
    cutoff = timezone.now() - STUCK_AFTER
    stuck_orders = _stuck_steps(cutoff).values("order_id")
    claims_release(kind=SAGAS, still_stuck=stuck_orders)
    with transaction.atomic():
        ids = list(
            Order.objects.select_for_update(skip_locked=True)
            .filter(pk__in=stuck_orders)
            .order_by("updated_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )
        taken = claims_take(kind=SAGAS, object_ids=ids, interval=STUCK_AFTER, force=force)
    return enqueue_each(START_TASK, taken)


stuck_kind_register(
    StuckKind(
        key=SAGAS,
        label="Purchases whose setup stopped",
        stuck="apps.orders.saga.recovery.sagas_stuck",
        sweep="apps.orders.saga.recovery.sagas_sweep",
        job="saga-sweep",
        explains="Resumes the purchase-and-setup of each paid order nothing moved for "
        f"{int(STUCK_AFTER.total_seconds() // 60)} minutes (done steps are never repeated).",
    )
)
