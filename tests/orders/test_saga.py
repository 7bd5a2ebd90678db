"""The purchase-and-provision saga after the charge: X-Series and payments accounts in
parallel tasks, then the hardware order, the confirmation email and the progress update. Every
step is recorded; a redelivered task or a resumed saga never repeats a remote effect (counted
in the sandbox ledger); a worker crash is resumed from the first step not done."""

import dataclasses

import pytest
from django.core import mail
from django_q.models import Schedule

from apps.integrations.models import IntegrationEvent
from apps.integrations.providers.sandbox import sandbox_fail
from apps.orders import tasks
from apps.orders.models import SagaStep
from apps.orders.models.catalog import ItemType
from apps.orders.models.order import FulfillmentStatus, ItemFulfillmentStatus, OrderStatus
from apps.orders.models.saga_step import SagaStepStatus
from apps.orders.models.shipment import ShipmentStatus
from apps.orders.saga import runner
from apps.orders.saga import steps as saga_steps
from tests.orders.helpers import HARDWARE_SET, accepted_quote, ledger, pay

pytestmark = pytest.mark.django_db

REMOTE_EFFECTS = [
    ("billing", "create_customer"),
    ("billing", "authorize"),
    ("billing", "capture"),
    ("x_series", "create_account"),
    ("x_series", "create_location"),
    ("x_series", "allocate_licences"),
    ("payments", "create_account"),
    ("hardware", "create_order"),
    ("email", "send"),
]


def effects() -> dict:
    return {
        f"{system}.{operation}": ledger(system, operation) for system, operation in REMOTE_EFFECTS
    }


def steps(order) -> dict:
    return dict(SagaStep.objects.filter(order=order).values_list("name", "status"))


def events(order) -> list[str]:
    return list(
        IntegrationEvent.objects.filter(aggregate_id=order.pk)
        .order_by("occurred_at")
        .values_list("event_type", flat=True)
    )


@pytest.fixture
def paid(make_merchant, django_capture_on_commit_callbacks):
    """paid(hardware=..., **merchant options) → an order paid with its saga run (tasks and
    sandbox webhooks run inline, as Q_SYNC does in tests)."""

    def make(hardware=HARDWARE_SET, **merchant_options):
        merchant = make_merchant(**merchant_options)
        order = accepted_quote(merchant, hardware=hardware)
        with django_capture_on_commit_callbacks(execute=True):
            pay(order)
        order.refresh_from_db()
        return order

    return make


# --- the happy path -----------------------------------------------------------------------------


def test_a_paid_order_is_provisioned_shipped_and_activated(paid):
    order = paid()
    merchant = order.merchant
    merchant.refresh_from_db()

    assert effects() == {
        "billing.create_customer": 1,
        "billing.authorize": 1,
        "billing.capture": 1,
        "x_series.create_account": 1,
        "x_series.create_location": 1,
        "x_series.allocate_licences": 1,
        "payments.create_account": 1,
        "hardware.create_order": 1,
        # The order confirmation, and the merchant's "hardware shipped" email (issue 15).
        "email.send": 2,
    }
    assert steps(order) == {name: SagaStepStatus.DONE for name in saga_steps.FORWARD}
    assert order.status == OrderStatus.ACTIVATED
    assert order.fulfillment_status == FulfillmentStatus.FULFILLED
    assert merchant.x_series_account_id and merchant.payments_account_id
    assert set(order.items.values_list("fulfillment_status", flat=True)) == {
        ItemFulfillmentStatus.FULFILLED
    }
    assert order.items.get(product_sku="SW-CORE").x_series_license_id


def test_each_step_is_recorded_once_with_its_result(paid):
    order = paid()

    for step in SagaStep.objects.filter(order=order):
        assert step.attempts == 1, step.name
        assert step.started_at and step.finished_at and step.finished_at >= step.started_at
    hardware = SagaStep.objects.get(order=order, name=saga_steps.HARDWARE)
    assert hardware.result["hardware_orders"][0]["hardware_order_id"]
    assert SagaStep.objects.get(order=order, name=saga_steps.X_SERIES).history.count() >= 3


def test_the_workflow_events_frame_the_saga(paid):
    order = paid()

    recorded = events(order)
    assert recorded.count("workflow.started") == 1
    assert recorded.count("workflow.completed") == 1
    assert recorded.index("workflow.started") < recorded.index("order.paid")
    assert "workflow.failed" not in recorded


def test_the_hardware_ships_to_the_location_it_was_chosen_for(paid):
    order = paid()
    location = order.merchant.locations.get()

    shipment = order.shipments.get()
    assert shipment.location == location
    assert (shipment.ship_to_address_line1, shipment.ship_to_postal_code) == (
        location.address_line1,
        location.postal_code,
    )
    assert shipment.tracking_number.startswith("1Z")
    assert shipment.shipment_status == ShipmentStatus.DELIVERED


def test_the_merchant_gets_one_confirmation_email(paid):
    order = paid()

    confirmations = [m for m in mail.outbox if m.subject == f"Order {order.order_number} confirmed"]
    assert len(confirmations) == 1
    assert confirmations[0].to == [order.merchant.user.email]
    assert "KYC" in confirmations[0].body


def test_a_software_only_order_orders_no_hardware_and_is_activated_once_provisioned(paid):
    order = paid(hardware=None)

    assert ledger("hardware", "create_order") == 0
    assert not order.shipments.exists()
    assert steps(order)[saga_steps.HARDWARE] == SagaStepStatus.DONE
    assert order.status == OrderStatus.ACTIVATED


def test_a_merchant_without_locations_gets_its_hardware_at_the_registered_address(paid):
    order = paid(locations=0)

    shipment = order.shipments.get()
    assert shipment.location is None
    assert shipment.ship_to_address_line1 == order.merchant.registered_address_line1
    assert ledger("x_series", "create_location") == 1


# --- at least once, never twice -----------------------------------------------------------------


def test_a_redelivered_task_never_provisions_or_ships_twice(paid):
    order = paid()
    before = effects()

    tasks.saga_start(str(order.pk))
    for name in (*saga_steps.PARALLEL, *saga_steps.TAIL):
        tasks.saga_step_run(str(order.pk), name)

    assert effects() == before
    assert all(step.attempts == 1 for step in SagaStep.objects.filter(order=order))
    assert order.shipments.count() == 1


class WorkerCrash(BaseException):
    """The worker process is killed: nothing catches it, nothing more is recorded."""


def crashing(monkeypatch, name: str, *, after: str):
    """Make step `name` crash the worker right after its remote calls ("call") or right
    after recording its result ("apply"), before the step is marked done."""
    definition = runner.STEPS[name]

    def crash(original):
        def run(*args):
            original(*args)
            raise WorkerCrash(name)

        return run

    changed = {after: crash(getattr(definition, after))}
    monkeypatch.setitem(runner.STEPS, name, dataclasses.replace(definition, **changed))


def test_resuming_after_a_crash_continues_without_repeating_done_steps(
    make_merchant, django_capture_on_commit_callbacks, monkeypatch
):
    order = accepted_quote(make_merchant(), hardware=None)
    crashing(monkeypatch, saga_steps.EMAIL, after="call")  # the email went out, then the crash
    with pytest.raises(WorkerCrash), django_capture_on_commit_callbacks(execute=True):
        pay(order)
    assert steps(order)[saga_steps.EMAIL] == SagaStepStatus.RUNNING
    assert steps(order)[saga_steps.PROGRESS] == SagaStepStatus.PENDING
    before = effects()
    monkeypatch.undo()

    tasks.saga_start(str(order.pk))  # the entry point again (a redelivered task, a sweep)

    assert steps(order) == {name: SagaStepStatus.DONE for name in saga_steps.FORWARD}
    assert effects() == before  # nothing done twice remotely, not even the email
    assert SagaStep.objects.get(order=order, name=saga_steps.EMAIL).attempts == 2
    assert SagaStep.objects.get(order=order, name=saga_steps.X_SERIES).attempts == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.ACTIVATED


def test_a_crash_while_recording_a_step_rolls_its_record_back_and_the_resume_redoes_it(
    make_merchant, django_capture_on_commit_callbacks, monkeypatch
):
    order = accepted_quote(make_merchant(), hardware=HARDWARE_SET)
    crashing(monkeypatch, saga_steps.HARDWARE, after="apply")
    with pytest.raises(WorkerCrash), django_capture_on_commit_callbacks(execute=True):
        pay(order)
    assert steps(order)[saga_steps.HARDWARE] == SagaStepStatus.RUNNING
    assert not order.shipments.exists()  # the crashed transaction recorded nothing
    monkeypatch.undo()

    with django_capture_on_commit_callbacks(execute=True):
        tasks.saga_start(str(order.pk))

    assert steps(order) == {name: SagaStepStatus.DONE for name in saga_steps.FORWARD}
    assert ledger("hardware", "create_order") == 1
    assert order.shipments.count() == 1
    assert ledger("x_series", "create_account") == ledger("payments", "create_account") == 1


# --- retries ------------------------------------------------------------------------------------


def test_a_provider_outage_is_retried_later_and_then_succeeds(
    make_merchant, django_capture_on_commit_callbacks
):
    merchant = make_merchant()
    order = accepted_quote(merchant, hardware=HARDWARE_SET)
    sandbox_fail("payments", "create_account", times=1)

    with django_capture_on_commit_callbacks(execute=True):
        pay(order)

    step = SagaStep.objects.get(order=order, name=saga_steps.PAYMENTS_ACCOUNT)
    assert step.status == SagaStepStatus.FAILED
    assert step.waiting_for_retry
    assert "injected fault" in step.error
    assert steps(order)[saga_steps.HARDWARE] == SagaStepStatus.PENDING
    retry = Schedule.objects.get(name=f"saga:{order.pk}:{saga_steps.PAYMENTS_ACCOUNT}:1")
    assert retry.func == runner.STEP_TASK
    assert retry.next_run > step.finished_at

    with django_capture_on_commit_callbacks(execute=True):
        tasks.saga_step_run(str(order.pk), saga_steps.PAYMENTS_ACCOUNT)  # the scheduled retry runs

    assert steps(order) == {name: SagaStepStatus.DONE for name in saga_steps.FORWARD}
    assert ledger("payments", "create_account") == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.ACTIVATED


def test_the_email_failing_for_good_leaves_the_purchase_standing(paid):
    sandbox_fail("email", "send", times=None, kind="permanent")

    order = paid()

    assert steps(order)[saga_steps.EMAIL] == SagaStepStatus.FAILED
    assert steps(order)[saga_steps.PROGRESS] == SagaStepStatus.DONE
    assert order.status == OrderStatus.ACTIVATED
    assert ledger("billing", "refund") == 0
    assert "workflow.compensation_triggered" not in events(order)
    completed = IntegrationEvent.objects.get(aggregate_id=order.pk, event_type="workflow.completed")
    assert completed.event_payload["steps_failed"] == [saga_steps.EMAIL]


def test_x_series_items_carry_their_licence_ids(paid):
    order = paid(hardware=None)

    licensed = order.items.filter(item_type__in=[ItemType.SOFTWARE_LICENSE, ItemType.ADD_ON])
    assert all(item.x_series_license_id.startswith("xs_lic_") for item in licensed)


def test_the_sweep_resumes_a_saga_left_running_by_a_dead_worker(
    make_merchant, django_capture_on_commit_callbacks, monkeypatch
):
    from datetime import timedelta

    from django.utils import timezone

    from apps.core.fsm import save_tracked

    order = accepted_quote(make_merchant(), hardware=None)
    crashing(monkeypatch, saga_steps.PROGRESS, after="call")
    with pytest.raises(WorkerCrash), django_capture_on_commit_callbacks(execute=True):
        pay(order)
    monkeypatch.undo()
    step = SagaStep.objects.get(order=order, name=saga_steps.PROGRESS)
    assert tasks.saga_sweep() == 0  # running for a moment only: maybe still alive
    step.started_at = timezone.now() - timedelta(minutes=11)
    save_tracked(step, actor=None, reason="test: the worker died 11 minutes ago")

    assert tasks.saga_sweep() == 1

    assert steps(order)[saga_steps.PROGRESS] == SagaStepStatus.DONE
    order.refresh_from_db()
    assert order.status == OrderStatus.ACTIVATED
