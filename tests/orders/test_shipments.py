"""Shipments: created from the hardware order, moved through the spec's eight states by the
supplier's signed `shipment.status` webhooks (duplicates and stale reports ignored, skipped
states filled in), the order following them; a failed delivery alerts the IC queue."""

import json

import pytest
from django.test import override_settings

from apps.integrations import signing
from apps.integrations.inbox import webhook_receive
from apps.integrations.models import WebhookEvent, WebhookStatus
from apps.orders.models.order import OrderStatus
from apps.orders.models.shipment import ShipmentStatus
from apps.orders.services import shipments
from apps.progress.models import AlertType, StallAlert
from apps.routing.models import QueueAssignment
from tests.orders.helpers import HARDWARE_SET, accepted_quote, ledger, pay

pytestmark = pytest.mark.django_db
S = ShipmentStatus


def tracking(shipment, status, *, event_id=None, reason=""):
    """Deliver one signed tracking webhook through the inbox, as the supplier does."""
    body = json.dumps(
        {
            "id": event_id or f"evt_{shipment.shipping_provider_id}_{status}",
            "type": "shipment.status",
            "data": {
                "shipment_ref": shipment.shipping_provider_id,
                "tracking_number": shipment.tracking_number,
                "carrier": "UPS",
                "status": status,
                "reason": reason,
            },
        }
    ).encode()
    return webhook_receive(provider="hardware", body=body, signature=signing.sign("hardware", body))


@pytest.fixture
def shipped_order(make_merchant, django_capture_on_commit_callbacks):
    """A paid order whose hardware was ordered; its tracking has not arrived yet."""

    def make(**merchant_options):
        merchant = make_merchant(**merchant_options)
        order = accepted_quote(merchant, hardware=HARDWARE_SET)
        with (
            override_settings(SANDBOX_WEBHOOK_DELAY_SECONDS=3600),
            django_capture_on_commit_callbacks(execute=True),
        ):
            pay(order)
        order.refresh_from_db()
        return order, order.shipments.get()

    return make


def deliver(shipment, *statuses, callbacks):
    with callbacks(execute=True):
        for status in statuses:
            tracking(shipment, status)
    shipment.refresh_from_db()
    shipment.order.refresh_from_db()
    return shipment


# --- the path -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "target", "path"),
    [
        (S.PENDING, S.PROCESSING, [S.PROCESSING]),
        (S.PENDING, S.DELIVERED, [S.PROCESSING, S.SHIPPED, S.DELIVERED]),
        (S.PROCESSING, S.IN_TRANSIT, [S.SHIPPED, S.IN_TRANSIT]),
        (S.SHIPPED, S.DELIVERED, [S.DELIVERED]),
        (S.IN_TRANSIT, S.FAILED_DELIVERY, [S.FAILED_DELIVERY]),
        (S.PENDING, S.FAILED_DELIVERY, [S.PROCESSING, S.SHIPPED, S.FAILED_DELIVERY]),
        (S.FAILED_DELIVERY, S.DELIVERED, [S.IN_TRANSIT, S.DELIVERED]),
        (S.DELIVERED, S.RETURNED, [S.RETURNED]),
        (S.PROCESSING, S.CANCELLED, [S.CANCELLED]),
        (S.DELIVERED, S.DELIVERED, []),
        (S.IN_TRANSIT, S.SHIPPED, None),
        (S.DELIVERED, S.IN_TRANSIT, None),
        (S.DELIVERED, S.PENDING, None),
        (S.SHIPPED, S.CANCELLED, None),
        (S.CANCELLED, S.DELIVERED, None),
        (S.IN_TRANSIT, S.RETURNED, None),
    ],
)
def test_tracking_path_fills_skipped_states_and_refuses_stale_ones(current, target, path):
    assert shipments.tracking_path(current, target) == path


# --- the webhooks -------------------------------------------------------------------------------


def test_shipments_are_created_from_the_hardware_order(shipped_order):
    order, shipment = shipped_order()

    assert order.status == OrderStatus.HARDWARE_ORDERED
    assert shipment.shipment_status == S.PENDING
    assert shipment.shipping_provider_id.startswith("shp_")
    assert shipment.shipping_carrier == "UPS"


def test_tracking_moves_the_shipment_and_the_order_follows_to_activated(
    shipped_order, django_capture_on_commit_callbacks
):
    _order, shipment = shipped_order()

    deliver(shipment, "processing", "shipped", callbacks=django_capture_on_commit_callbacks)
    assert shipment.shipment_status == S.SHIPPED
    assert shipment.order.status == OrderStatus.SHIPPED

    deliver(shipment, "in_transit", "delivered", callbacks=django_capture_on_commit_callbacks)
    assert shipment.shipment_status == S.DELIVERED
    assert shipment.delivered_at is not None
    assert shipment.order.status == OrderStatus.ACTIVATED  # delivered and provisioned
    history = list(
        shipment.history.order_by("history_date").values_list("shipment_status", flat=True)
    )
    assert history[-4:] == [S.PROCESSING, S.SHIPPED, S.IN_TRANSIT, S.DELIVERED]


def test_a_duplicated_webhook_is_applied_once(shipped_order, django_capture_on_commit_callbacks):
    _order, shipment = shipped_order()
    deliver(shipment, "delivered", callbacks=django_capture_on_commit_callbacks)
    rows = shipment.history.count()

    with django_capture_on_commit_callbacks(execute=True):
        _event, created = tracking(shipment, "delivered")

    assert created is False
    shipment.refresh_from_db()
    assert shipment.shipment_status == S.DELIVERED
    assert shipment.history.count() == rows
    assert ledger("hardware", "create_order") == 1


def test_the_same_report_under_a_new_id_changes_nothing(
    shipped_order, django_capture_on_commit_callbacks
):
    _order, shipment = shipped_order()
    deliver(shipment, "delivered", callbacks=django_capture_on_commit_callbacks)
    rows = shipment.history.count()

    with django_capture_on_commit_callbacks(execute=True):
        tracking(shipment, "delivered", event_id="evt_resent")

    assert WebhookEvent.objects.get(external_id="evt_resent").status == WebhookStatus.PROCESSED
    assert shipment.history.count() == rows


def test_reports_out_of_order_end_in_the_furthest_state(
    shipped_order, django_capture_on_commit_callbacks
):
    _order, shipment = shipped_order()

    deliver(
        shipment, "delivered", "in_transit", "shipped", callbacks=django_capture_on_commit_callbacks
    )

    assert shipment.shipment_status == S.DELIVERED
    assert shipment.order.status == OrderStatus.ACTIVATED


def test_tracking_that_arrives_before_the_shipment_is_recorded_is_replayed(
    shipped_order, django_capture_on_commit_callbacks
):
    _order, shipment = shipped_order()
    reports = WebhookEvent.objects.filter(provider="hardware").count()
    assert reports == 0  # delayed by the sandbox: nothing yet

    # The same reports arriving early: stored, applied by the replay.
    with django_capture_on_commit_callbacks(execute=True):
        tracking(shipment, "shipped")
    shipments.shipment_tracking_replay(shipment=shipment)

    shipment.refresh_from_db()
    assert shipment.shipment_status == S.SHIPPED


def test_tracking_for_an_unknown_shipment_is_kept_and_ignored(
    db, django_capture_on_commit_callbacks
):
    body = json.dumps(
        {
            "id": "evt_x",
            "type": "shipment.status",
            "data": {"shipment_ref": "shp_nope", "status": "delivered"},
        }
    ).encode()

    with django_capture_on_commit_callbacks(execute=True):
        webhook_receive(provider="hardware", body=body, signature=signing.sign("hardware", body))

    assert WebhookEvent.objects.get(external_id="evt_x").status == WebhookStatus.PROCESSED


def test_an_unknown_status_is_ignored(shipped_order, django_capture_on_commit_callbacks):
    _order, shipment = shipped_order()

    deliver(shipment, "teleported", callbacks=django_capture_on_commit_callbacks)

    assert shipment.shipment_status == S.PENDING


# --- failed delivery ----------------------------------------------------------------------------


def test_a_failed_delivery_raises_one_alert_routed_to_the_ic_queue(
    shipped_order, queues, django_capture_on_commit_callbacks
):
    order, shipment = shipped_order()

    with django_capture_on_commit_callbacks(execute=True):
        tracking(shipment, "failed_delivery", reason="No one at the address.")
        tracking(shipment, "failed_delivery", event_id="evt_again", reason="Still no one.")

    shipment.refresh_from_db()
    assert shipment.shipment_status == S.FAILED_DELIVERY
    assert shipment.failure_reason == "No one at the address."
    alert = StallAlert.objects.get(merchant=order.merchant, alert_type=AlertType.DELIVERY_FAILED)
    assert alert.step_id == 5
    assert alert.queue_assignment.queue.code == "ic_onboarding"
    assert (
        QueueAssignment.objects.filter(merchant=order.merchant, queue__code="ic_onboarding").count()
        == 1
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED  # not delivered, not activated


def test_the_sandbox_undeliverable_postal_code_ends_in_failed_delivery(
    make_merchant, queues, django_capture_on_commit_callbacks
):
    merchant = make_merchant(postal_code="00000")
    order = accepted_quote(merchant, hardware=HARDWARE_SET)

    with django_capture_on_commit_callbacks(execute=True):
        pay(order)

    shipment = order.shipments.get()
    assert shipment.shipment_status == S.FAILED_DELIVERY
    assert StallAlert.objects.filter(
        merchant=merchant, alert_type=AlertType.DELIVERY_FAILED
    ).exists()


def test_a_second_attempt_after_a_failed_delivery_delivers(
    shipped_order, queues, django_capture_on_commit_callbacks
):
    _order, shipment = shipped_order()
    deliver(shipment, "failed_delivery", callbacks=django_capture_on_commit_callbacks)

    deliver(shipment, "delivered", callbacks=django_capture_on_commit_callbacks)

    assert shipment.shipment_status == S.DELIVERED
    assert shipment.order.status == OrderStatus.ACTIVATED


def test_a_delivered_shipment_is_what_unlocks_hardware_setup(
    shipped_order, django_capture_on_commit_callbacks
):
    order, shipment = shipped_order()
    merchant = order.merchant
    assert not merchant.shipments.filter(shipment_status=S.DELIVERED).exists()

    deliver(shipment, "delivered", callbacks=django_capture_on_commit_callbacks)

    assert merchant.shipments.filter(shipment_status=S.DELIVERED).exists()


def test_the_order_page_polls_while_the_hardware_travels_and_stops_once_delivered(
    client, shipped_order, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    order, shipment = shipped_order()
    client.force_login(order.merchant.user)
    url = reverse("orders:order_detail", args=[order.order_number])

    travelling = client.get(url, headers={"HX-Request": "true"}).text
    deliver(shipment, "delivered", callbacks=django_capture_on_commit_callbacks)
    delivered = client.get(url, headers={"HX-Request": "true"}).text

    assert 'hx-trigger="every 2s"' in travelling
    assert 'data-shipment-status="pending"' in travelling
    assert 'hx-trigger="every' not in delivered
    assert 'data-shipment-status="delivered"' in delivered
    assert "Activated" in delivered
