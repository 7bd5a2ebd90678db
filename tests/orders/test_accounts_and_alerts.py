"""The two services other apps keep for the orders work: recording the merchant's external
accounts (apps.merchants.services.external_ids.merchant_external_ids_set, rule 1 for X-Series)
and raising a delivery-failed alert for the IC queue
(apps.progress.services.alert_raise_delivery_failed)."""

import pytest
from django.db import IntegrityError, transaction

from apps.core.errors import DomainError
from apps.merchants.choices import CheckStatus
from apps.merchants.models import Merchant
from apps.merchants.services.external_ids import (
    EXTERNAL_ID_TAKEN,
    X_SERIES_BEFORE_KYB,
    merchant_external_ids_set,
)
from apps.orders.models.shipment import ShipmentStatus
from apps.progress.models import AlertStatus, AlertType, StallAlert
from apps.progress.services import alert_raise_delivery_failed, alert_resolve
from apps.routing.models import QueueAssignment
from tests.accounts.factories import IcUserFactory
from tests.merchants.factories import MerchantFactory
from tests.orders.factories import HardwareShipmentFactory

pytestmark = pytest.mark.django_db


# --- external ids -------------------------------------------------------------------------------


def test_the_accounts_are_recorded_with_their_history_reason():
    merchant = MerchantFactory(kyb_status=CheckStatus.APPROVED)

    merchant_external_ids_set(
        merchant=merchant, x_series_account_id="xs_1", payments_account_id="pay_1"
    )

    stored = Merchant.objects.get(pk=merchant.pk)
    assert (stored.x_series_account_id, stored.payments_account_id) == ("xs_1", "pay_1")
    assert merchant.x_series_account_id == "xs_1"
    assert "merchant_external_ids_set" in stored.history.first().history_change_reason


def test_no_x_series_account_before_kyb_approval():
    merchant = MerchantFactory(kyb_status=CheckStatus.SUBMITTED)

    with pytest.raises(DomainError) as refusal:
        merchant_external_ids_set(merchant=merchant, x_series_account_id="xs_1")

    assert refusal.value.message == X_SERIES_BEFORE_KYB
    assert Merchant.objects.get(pk=merchant.pk).x_series_account_id is None


def test_the_database_also_refuses_an_x_series_account_before_kyb():
    with pytest.raises(IntegrityError, match="kyb_before_purchase"), transaction.atomic():
        MerchantFactory(kyb_status=CheckStatus.SUBMITTED, x_series_account_id="xs_2")


def test_a_payments_account_needs_no_kyb_approval_first():
    merchant = MerchantFactory(kyb_status=CheckStatus.SUBMITTED)

    merchant_external_ids_set(merchant=merchant, payments_account_id="pay_1")

    assert Merchant.objects.get(pk=merchant.pk).payments_account_id == "pay_1"


def test_the_same_id_again_changes_nothing():
    merchant = MerchantFactory(kyb_status=CheckStatus.APPROVED)
    merchant_external_ids_set(merchant=merchant, x_series_account_id="xs_1")
    rows = merchant.history.count()

    merchant_external_ids_set(merchant=merchant, x_series_account_id="xs_1")

    assert merchant.history.count() == rows


def test_another_id_for_an_account_already_recorded_is_refused():
    merchant = MerchantFactory(kyb_status=CheckStatus.APPROVED)
    merchant_external_ids_set(merchant=merchant, payments_account_id="pay_1")

    with pytest.raises(DomainError) as refusal:
        merchant_external_ids_set(merchant=merchant, payments_account_id="pay_2")

    assert refusal.value.message == EXTERNAL_ID_TAKEN.format(system="payments", current="pay_1")


# --- delivery failed alerts ---------------------------------------------------------------------


@pytest.fixture
def failed_shipment(journey_steps):
    return HardwareShipmentFactory(
        shipment_status=ShipmentStatus.FAILED_DELIVERY,
        tracking_number="1ZTEST",
        failure_reason="Address not found.",
    )


def test_a_failed_delivery_opens_a_high_alert_on_the_hardware_step_in_the_ic_queue(
    failed_shipment, queues
):
    alert = alert_raise_delivery_failed(shipment=failed_shipment)

    assert (alert.alert_type, alert.severity, alert.step_id) == (
        AlertType.DELIVERY_FAILED,
        "high",
        5,
    )
    assert alert.merchant == failed_shipment.merchant
    assert alert.queue_assignment.queue.code == "ic_onboarding"
    assert alert.queue_assignment.merchant == failed_shipment.merchant
    assert "Address not found." in alert.history.first().history_change_reason


def test_one_open_alert_and_one_queue_item_per_merchant(failed_shipment, queues):
    first = alert_raise_delivery_failed(shipment=failed_shipment)
    second = alert_raise_delivery_failed(shipment=failed_shipment)

    assert first.pk == second.pk
    assert StallAlert.objects.filter(alert_type=AlertType.DELIVERY_FAILED).count() == 1
    assert QueueAssignment.objects.filter(merchant=failed_shipment.merchant).count() == 1


def test_after_the_alert_is_resolved_a_new_failure_opens_a_new_one(failed_shipment, queues):
    first = alert_raise_delivery_failed(shipment=failed_shipment)
    alert_resolve(alert=first, actor=IcUserFactory(), action="New address confirmed.")

    second = alert_raise_delivery_failed(shipment=failed_shipment)

    assert second.pk != first.pk
    assert second.alert_status == AlertStatus.OPEN


def test_without_the_ic_queue_the_alert_is_still_raised(failed_shipment):
    alert = alert_raise_delivery_failed(shipment=failed_shipment)

    assert alert.queue_assignment is None
    assert alert.alert_status == AlertStatus.OPEN
