"""A paid order whose saga_start task was lost does not stay "paid" with every step pending:
the saga sweep starts it, once, and leaves alone a saga that is merely queued or moving."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.models import RecoveryClaim
from apps.orders import tasks
from apps.orders.models import SagaStep
from apps.orders.models.order import OrderStatus
from apps.orders.models.saga_step import SagaStepStatus
from apps.orders.saga import recovery
from apps.orders.saga import steps as saga_steps
from tests.orders.helpers import accepted_quote, ledger, pay

pytestmark = pytest.mark.django_db


@pytest.fixture
def start_lost(make_merchant, django_capture_on_commit_callbacks, monkeypatch):
    """A software-only order paid while its saga_start task was lost."""
    order = accepted_quote(make_merchant(), hardware=None)
    monkeypatch.setattr("apps.orders.saga.runner.saga_enqueue", lambda **kw: None)
    with django_capture_on_commit_callbacks(execute=True):
        pay(order)
    monkeypatch.undo()
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    return order


def age(order, minutes: int) -> None:
    """Nothing touched the order's steps for `minutes`."""
    SagaStep.objects.filter(order=order).update(
        updated_at=timezone.now() - timedelta(minutes=minutes)
    )


def statuses(order) -> dict:
    return dict(SagaStep.objects.filter(order=order).values_list("name", "status"))


def test_a_paid_order_whose_start_was_lost_is_started_by_the_sweep_once(start_lost):
    assert statuses(start_lost)[saga_steps.X_SERIES] == SagaStepStatus.PENDING
    age(start_lost, 11)

    assert recovery.sagas_stuck().count == 1
    assert tasks.saga_sweep() == 1
    assert tasks.saga_sweep() == 0

    start_lost.refresh_from_db()
    assert start_lost.status == OrderStatus.ACTIVATED
    assert ledger("x_series", "create_account") == 1
    assert ledger("payments", "create_account") == 1
    assert ledger("email", "send") == 1
    assert recovery.sagas_stuck().count == 0
    assert not RecoveryClaim.objects.exists()


def test_a_saga_merely_queued_is_not_started_twice(start_lost, monkeypatch):
    # Within the grace period its start task may still be in the broker.
    assert recovery.sagas_stuck().count == 0
    assert tasks.saga_sweep() == 0

    # Past it, the sweep queues it once; while that start waits, it is not queued again.
    age(start_lost, 11)
    queued = []
    monkeypatch.setattr("apps.core.recovery.async_task", lambda *a, **kw: queued.append(a))
    assert recovery.sagas_sweep() == 1
    assert recovery.sagas_sweep() == 0
    assert queued == [(recovery.START_TASK, str(start_lost.pk))]
    start_lost.refresh_from_db()
    assert start_lost.status == OrderStatus.PAID


def test_unpaid_orders_and_sagas_waiting_for_a_retry_are_not_stuck(make_merchant, start_lost):
    unpaid = accepted_quote(make_merchant(), hardware=None)
    assert not SagaStep.objects.filter(order=unpaid).exists()
    age(start_lost, 11)
    step = SagaStep.objects.get(order=start_lost, name=saga_steps.X_SERIES)
    SagaStep.objects.filter(pk=step.pk).update(
        status=SagaStepStatus.FAILED, next_retry_at=timezone.now() + timedelta(minutes=3)
    )

    assert recovery.sagas_stuck().count == 0
    assert recovery.sagas_sweep() == 0
