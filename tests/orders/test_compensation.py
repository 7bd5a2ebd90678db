"""When provisioning fails for good (a permanent error, or its retries used up), the saga
undoes the purchase: hardware cancelled, payment refunded, order refunded, the merchant told
what happened and what next, by email and on the order page. Each undo happens once."""

import pytest
from django.core import mail
from django.test import override_settings
from django.urls import reverse

from apps.integrations.models import IntegrationEvent
from apps.integrations.providers.sandbox import sandbox_fail
from apps.orders import tasks
from apps.orders.models import SagaStep
from apps.orders.models.catalog import ItemType
from apps.orders.models.order import ItemFulfillmentStatus, OrderPaymentStatus, OrderStatus
from apps.orders.models.payment import PaymentStatus
from apps.orders.models.saga_step import SagaStepStatus
from apps.orders.models.shipment import ShipmentStatus
from apps.orders.saga import compensation, runner
from apps.orders.saga import steps as saga_steps
from tests.orders.helpers import HARDWARE_SET, accepted_quote, ledger, pay

pytestmark = pytest.mark.django_db


def steps(order) -> dict:
    return dict(SagaStep.objects.filter(order=order).values_list("name", "status"))


def event_types(order) -> set[str]:
    return set(
        IntegrationEvent.objects.filter(aggregate_id=order.pk).values_list("event_type", flat=True)
    )


@pytest.fixture
def order(make_merchant):
    return accepted_quote(make_merchant(), hardware=HARDWARE_SET)


def run_saga(order, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        pay(order)
    order.refresh_from_db()
    return order


def test_an_x_series_failure_refunds_cancels_the_hardware_and_tells_the_merchant(
    order, django_capture_on_commit_callbacks
):
    sandbox_fail("x_series", "create_account", times=1, kind="permanent", message="Region closed.")

    order = run_saga(order, django_capture_on_commit_callbacks)

    # Refund.
    assert ledger("billing", "refund") == 1
    payment = order.payments.get()
    assert payment.status == PaymentStatus.REFUNDED
    assert payment.refund_reference.startswith("re_")
    # Order refunded, with the reason kept on it.
    assert order.status == OrderStatus.REFUNDED
    assert order.payment_status == OrderPaymentStatus.REFUNDED
    assert order.status_reason == compensation.merchant_reason(failed_step=saga_steps.X_SERIES)
    assert "Region closed" not in order.status_reason  # the provider's words stay with staff
    # Hardware: never ordered, its lines cancelled, nothing shipped.
    assert ledger("hardware", "create_order") == 0
    assert not order.shipments.exists()
    hardware = order.items.filter(item_type=ItemType.HARDWARE)
    assert set(hardware.values_list("fulfillment_status", flat=True)) == {
        ItemFulfillmentStatus.CANCELLED
    }
    # The merchant is told.
    refunds = [m for m in mail.outbox if m.subject == f"Order {order.order_number} refunded"]
    assert len(refunds) == 1
    assert "What happened" in refunds[0].body and "What next" in refunds[0].body
    assert refunds[0].to == [order.merchant.user.email]
    # What the saga recorded.
    recorded = steps(order)
    assert recorded[saga_steps.X_SERIES] == SagaStepStatus.FAILED
    assert recorded[saga_steps.PAYMENTS_ACCOUNT] in (
        SagaStepStatus.DONE,
        SagaStepStatus.COMPENSATED,
    )
    assert recorded[saga_steps.CHARGE] == SagaStepStatus.COMPENSATED
    assert recorded[saga_steps.HARDWARE] == SagaStepStatus.COMPENSATED
    assert all(recorded[name] == SagaStepStatus.DONE for name in saga_steps.COMPENSATION)
    assert {"workflow.failed", "workflow.compensation_triggered"} <= event_types(order)
    assert "workflow.completed" not in event_types(order)
    assert ledger("email", "send") == 1  # the refund notice, no confirmation


def test_provisioning_retries_used_up_compensate_like_a_permanent_failure(
    order, django_capture_on_commit_callbacks
):
    sandbox_fail("payments", "create_account", times=None)  # down until further notice

    order = run_saga(order, django_capture_on_commit_callbacks)
    assert order.status == OrderStatus.PAID  # first failure: a retry is scheduled
    for _ in range(runner.MAX_ATTEMPTS - 1):  # the scheduled retries run and fail too
        with django_capture_on_commit_callbacks(execute=True):
            tasks.saga_step_run(str(order.pk), saga_steps.PAYMENTS_ACCOUNT)

    order.refresh_from_db()
    step = SagaStep.objects.get(order=order, name=saga_steps.PAYMENTS_ACCOUNT)
    assert (step.status, step.attempts, step.next_retry_at) == (
        SagaStepStatus.FAILED,
        runner.MAX_ATTEMPTS,
        None,
    )
    assert order.status == OrderStatus.REFUNDED
    assert ledger("billing", "refund") == 1
    assert ledger("payments", "create_account") == 0


def test_compensation_runs_once_however_often_it_is_triggered(
    order, django_capture_on_commit_callbacks
):
    sandbox_fail("x_series", "create_account", times=1, kind="permanent")
    order = run_saga(order, django_capture_on_commit_callbacks)

    runner.saga_compensate(order=order, failed_step=saga_steps.X_SERIES, error="again")
    tasks.saga_start(str(order.pk))
    for name in saga_steps.COMPENSATION:
        tasks.saga_step_run(str(order.pk), name)

    assert ledger("billing", "refund") == 1
    assert ledger("email", "send") == 1
    assert (
        IntegrationEvent.objects.filter(
            aggregate_id=order.pk, event_type="workflow.compensation_triggered"
        ).count()
        == 1
    )


@override_settings(SANDBOX_WEBHOOK_DELAY_SECONDS=3600)  # tracking has not arrived yet
def test_undoing_a_purchase_after_the_hardware_order_cancels_it_and_its_shipments(
    order, django_capture_on_commit_callbacks
):
    order = run_saga(order, django_capture_on_commit_callbacks)
    assert order.status == OrderStatus.HARDWARE_ORDERED
    shipment = order.shipments.get()
    assert shipment.shipment_status == ShipmentStatus.PENDING

    runner.saga_compensate(order=order, failed_step=saga_steps.HARDWARE, error="Out of stock")

    order.refresh_from_db()
    shipment.refresh_from_db()
    assert ledger("hardware", "cancel_order") == 1
    assert shipment.shipment_status == ShipmentStatus.CANCELLED
    assert order.status == OrderStatus.REFUNDED
    assert steps(order)[saga_steps.HARDWARE] == SagaStepStatus.COMPENSATED


def test_a_refund_that_fails_is_retried_and_refunds_once(order, django_capture_on_commit_callbacks):
    sandbox_fail("x_series", "create_account", times=1, kind="permanent")
    sandbox_fail("billing", "refund", times=1)

    order = run_saga(order, django_capture_on_commit_callbacks)
    assert steps(order)[saga_steps.REFUND] == SagaStepStatus.FAILED
    assert order.status == OrderStatus.PAID
    with django_capture_on_commit_callbacks(execute=True):
        tasks.saga_step_run(str(order.pk), saga_steps.REFUND)  # the scheduled retry

    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    assert ledger("billing", "refund") == 1
    assert steps(order)[saga_steps.NOTIFY] == SagaStepStatus.DONE


def test_the_order_page_says_what_happened_and_what_next(
    client, order, django_capture_on_commit_callbacks
):
    sandbox_fail("x_series", "create_account", times=1, kind="permanent", message="Region closed.")
    order = run_saga(order, django_capture_on_commit_callbacks)
    client.force_login(order.merchant.user)

    page = client.get(reverse("orders:order_detail", args=[order.order_number])).text

    assert "What happened:" in page
    assert compensation.WHAT_FAILED[saga_steps.X_SERIES] in page
    assert "Region closed" not in page
    assert "What next:" in page
    assert compensation.WHAT_NEXT in page
    assert "Refunded" in page
