"""Step 9 (hardware setup checklist at /hardware-setup/) and step 10 (final configuration at
/final-config/) and going live: the merchant becomes active and its lead converted once
every required step is completed."""

import html

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.leads.models import LeadStatus
from apps.merchants.choices import JourneyStatus
from apps.merchants.selectors.dashboard import PAYOUTS_HELD_LIVE
from apps.merchants.selectors.setup import (
    HARDWARE_CHECKLIST,
    HARDWARE_IN_TRANSIT,
    HARDWARE_WAITS_FOR_STEP_7,
    hardware_setup_available,
)
from apps.merchants.services import setup, steps
from apps.merchants.views.setup import HARDWARE_DONE, LIVE, NO_HARDWARE_DONE
from apps.orders.models.order import OrderStatus
from apps.orders.models.shipment import ShipmentStatus
from apps.progress.models import StepStatus
from tests.accounts.factories import AeUserFactory, ComplianceUserFactory, IcUserFactory
from tests.merchants.factories import (
    DataImportFactory,
    MerchantBankAccountFactory,
    merchant_at_setup,
)
from tests.orders.factories import (
    HardwareShipmentFactory,
    OrderFactory,
    OrderItemFactory,
    ProductFactory,
)

pytestmark = pytest.mark.django_db

HARDWARE = reverse("merchants:hardware_setup")
NO_HARDWARE = reverse("merchants:hardware_setup_no_hardware")
FINAL = reverse("merchants:final_config")
GO_LIVE = reverse("merchants:go_live")
ITEMS = [key for key, _label in HARDWARE_CHECKLIST]


def text(response) -> str:
    return html.unescape(response.content.decode())


def item_url(key: str) -> str:
    return reverse("merchants:hardware_setup_item", args=[key])


def step(merchant, step_id):
    return merchant.step_progress.get(step_id=step_id)


def paid_order(merchant, *, hardware: bool):
    order = OrderFactory(merchant=merchant, status=OrderStatus.PAID)
    OrderItemFactory(order=order, product=ProductFactory())
    if hardware:
        OrderItemFactory(order=order, product=ProductFactory(hardware=True))
    return order


@pytest.fixture
def merchant(journey_steps):
    """Steps 1-7 done: ready for hardware setup."""
    return merchant_at_setup(steps_done=range(1, 8), kyc_status="approved")


@pytest.fixture
def signed_in(client, merchant):
    client.force_login(merchant.user)
    return client


# --- when hardware setup opens ----------------------------------------------------------------


def test_hardware_setup_waits_for_step_7(client, journey_steps):
    merchant = merchant_at_setup()
    client.force_login(merchant.user)

    page = client.get(HARDWARE)
    refused = client.post(item_url("unbox"), {"done": "1"})

    assert not hardware_setup_available(merchant)
    assert hardware_setup_available(merchant).reason == HARDWARE_WAITS_FOR_STEP_7
    assert "Step 9 opens once step 7 (Verify owners and get paid out) is completed." in (text(page))
    assert refused.status_code == 409
    assert step(merchant, 9).status == StepStatus.PENDING


def test_with_step_7_done_and_no_order_known_the_checklist_opens(merchant):
    assert hardware_setup_available(merchant)


def test_hardware_in_transit_keeps_the_step_closed_until_delivered(signed_in, merchant):
    order = paid_order(merchant, hardware=True)
    shipment = HardwareShipmentFactory(order=order, shipment_status=ShipmentStatus.IN_TRANSIT)

    closed = hardware_setup_available(merchant)
    page = signed_in.get(HARDWARE)
    shipment.delete()
    HardwareShipmentFactory(order=order, shipment_status=ShipmentStatus.DELIVERED)

    assert not closed and closed.reason == HARDWARE_IN_TRANSIT
    assert HARDWARE_IN_TRANSIT in text(page)
    assert hardware_setup_available(merchant)


def test_a_software_only_merchant_completes_the_step_with_no_hardware(signed_in, merchant):
    paid_order(merchant, hardware=False)

    page = signed_in.get(HARDWARE)
    response = signed_in.post(NO_HARDWARE, follow=True)

    assert "No hardware to set up: complete this step" in text(page)
    assert NO_HARDWARE_DONE in text(response)
    progress = step(merchant, 9)
    assert progress.status == StepStatus.COMPLETED
    assert progress.step_data["no_hardware"] is True


def test_no_hardware_is_refused_when_hardware_was_ordered(signed_in, merchant):
    order = paid_order(merchant, hardware=True)
    HardwareShipmentFactory(order=order, shipment_status=ShipmentStatus.DELIVERED)

    response = signed_in.post(NO_HARDWARE)

    assert response.status_code == 409
    assert setup.HARDWARE_WAS_ORDERED in text(response)
    assert step(merchant, 9).status == StepStatus.PENDING


# --- the checklist ----------------------------------------------------------------------------


def test_each_item_ticked_is_kept_and_the_last_completes_step_9(signed_in, merchant):
    for key in ITEMS[:-1]:
        assert signed_in.post(item_url(key), {"done": "1"}).status_code == 302
    progress = step(merchant, 9)
    assert progress.status == StepStatus.IN_PROGRESS
    assert progress.step_data["checklist"] == {key: True for key in ITEMS[:-1]}

    response = signed_in.post(item_url(ITEMS[-1]), {"done": "1"}, follow=True)

    progress.refresh_from_db()
    assert progress.status == StepStatus.COMPLETED
    assert HARDWARE_DONE in text(response)
    assert "Next: final configuration and go live" in text(response)
    assert progress.history.first().history_user == merchant.user


def test_an_item_can_be_unticked_before_the_end(signed_in, merchant):
    signed_in.post(item_url("unbox"), {"done": "1"})

    signed_in.post(item_url("unbox"), {"done": "0"})

    assert step(merchant, 9).step_data["checklist"] == {"unbox": False}


def test_the_checklist_shows_what_is_done(signed_in):
    signed_in.post(item_url("card_reader"), {"done": "1"})

    page = text(signed_in.get(HARDWARE))

    assert 'id="item-card_reader" data-done="yes"' in page
    assert 'id="item-unbox" data-done="no"' in page


@pytest.mark.parametrize(
    ("url", "data"),
    [
        (reverse("merchants:hardware_setup_item", args=["juggle"]), {"done": "1"}),
        (reverse("merchants:hardware_setup_item", args=["unbox"]), {"done": "maybe"}),
        (reverse("merchants:hardware_setup_item", args=["unbox"]), {}),
    ],
    ids=["unknown-item", "bad-value", "no-value"],
)
def test_bad_checklist_input_is_a_422(signed_in, merchant, url, data):
    response = signed_in.post(url, data)

    assert response.status_code == 422
    assert 'role="alert"' in response.content.decode()
    assert step(merchant, 9).status == StepStatus.PENDING


def test_a_completed_checklist_is_not_changed(signed_in, merchant):
    for key in ITEMS:
        signed_in.post(item_url(key), {"done": "1"})

    response = signed_in.post(item_url("unbox"), {"done": "0"})

    assert response.status_code == 409
    assert steps.STEP_ALREADY_DONE in text(response)
    assert step(merchant, 9).step_data["checklist"]["unbox"] is True


def test_an_htmx_tick_answers_with_the_section(signed_in):
    response = signed_in.post(item_url("unbox"), {"done": "1"}, headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert response.content.decode().strip().startswith('<section id="hardware-main">')


# --- final configuration ----------------------------------------------------------------------


@pytest.fixture
def ready(journey_steps):
    """Steps 1-7 and 9 done (8 is optional): ready for final configuration."""
    return ready_merchant()


def test_final_configuration_waits_for_hardware_setup(signed_in, merchant):
    page = signed_in.get(FINAL)
    refused = signed_in.post(FINAL, {"integrations": ["xero"]})

    assert "Step 10 opens once step 9 (Set up your hardware) is completed." in text(page)
    assert refused.status_code == 409
    assert step(merchant, 10).status == StepStatus.PENDING


def test_the_chosen_integrations_are_kept_in_step_10(client, ready):
    client.force_login(ready.user)

    response = client.post(FINAL, {"integrations": ["xero", "loyalty"]}, follow=True)

    progress = step(ready, 10)
    assert progress.status == StepStatus.IN_PROGRESS
    assert progress.step_data["integrations"] == ["xero", "loyalty"]
    assert 'value="xero" id="id_integrations_1" checked' in response.content.decode()


def test_an_unknown_integration_is_a_422(client, ready):
    client.force_login(ready.user)

    response = client.post(FINAL, {"integrations": ["myspace"]})

    assert response.status_code == 422
    assert step(ready, 10).status == StepStatus.PENDING


def ready_merchant(*, bank: str | None = "verified", **fields):
    """Ready to go live; its primary bank account in `bank` verification (None: none)."""
    merchant = merchant_at_setup(
        steps_done=[1, 2, 3, 4, 5, 6, 7, 9],
        kyc_status="approved",
        payments_activated=True,
        **fields,
    )
    if bank is not None:
        MerchantBankAccountFactory(merchant=merchant, verification_status=bank)
    return merchant


def test_go_live_makes_the_merchant_active_and_converts_the_qualified_lead(client, journey_steps):
    ready = ready_merchant(lead__status=LeadStatus.QUALIFIED)
    client.force_login(ready.user)
    client.post(FINAL, {"integrations": ["quickbooks"]})

    response = client.post(GO_LIVE, follow=True)

    ready.refresh_from_db()
    ready.lead.refresh_from_db()
    assert LIVE in text(response)
    assert ready.is_active is True and ready.activated_at is not None
    assert ready.journey_status == JourneyStatus.COMPLETED
    assert ready.lead.status == LeadStatus.CONVERTED
    assert step(ready, 10).status == StepStatus.COMPLETED
    assert step(ready, 10).step_data["integrations"] == ["quickbooks"]
    assert step(ready, 8).status == StepStatus.SKIPPED  # nothing imported
    assert ready.history.first().history_user == ready.user


def test_go_live_completes_data_import_when_something_was_imported(client, ready):
    DataImportFactory(merchant=ready)
    client.force_login(ready.user)

    client.post(GO_LIVE)

    assert step(ready, 8).status == StepStatus.COMPLETED


def test_a_lead_already_converted_stays_converted(journey_steps):
    ready = ready_merchant(lead__status=LeadStatus.CONVERTED)

    setup.merchant_go_live(merchant=ready, actor=ready.user)

    ready.refresh_from_db()
    assert ready.is_active is True
    assert ready.lead.status == LeadStatus.CONVERTED


def test_go_live_is_refused_with_the_list_of_missing_steps(client, journey_steps):
    merchant = merchant_at_setup(steps_done=[1, 2, 3, 4, 5, 6])
    client.force_login(merchant.user)

    response = client.post(GO_LIVE)

    assert response.status_code == 409
    assert setup.GO_LIVE_MISSING_STEPS.format(
        steps="step 7 (Verify owners and get paid out); step 9 (Set up your hardware)"
    ) in text(response)
    merchant.refresh_from_db()
    assert merchant.is_active is False
    assert merchant.journey_status == JourneyStatus.IN_PROGRESS
    assert step(merchant, 10).status == StepStatus.PENDING


def test_the_page_lists_what_is_missing_before_going_live(client, ready):
    client.force_login(ready.user)

    assert "Every required step is done." in text(client.get(FINAL))


def test_going_live_twice_is_refused(client, ready):
    client.force_login(ready.user)
    client.post(GO_LIVE)

    response = client.post(GO_LIVE)

    assert response.status_code == 409
    assert setup.ALREADY_LIVE in text(response)
    assert "Your business is live since" in text(response)


# --- going live without a verified bank account -----------------------------------------------


@pytest.mark.parametrize("bank", [None, "pending", "failed"])
def test_go_live_without_a_verified_bank_account_needs_the_payouts_held_confirmation(
    client, journey_steps, bank
):
    ready = ready_merchant(bank=bank)
    client.force_login(ready.user)

    page = text(client.get(FINAL))
    refused = client.post(GO_LIVE)
    hostile = client.post(GO_LIVE, {"confirm_payouts_held": ["on", "1", "<b>yes</b>"]})

    assert "payouts stay held until you add a bank account" in page
    assert 'name="confirm_payouts_held" value="yes"' in page
    assert refused.status_code == hostile.status_code == 409
    assert setup.PAYOUTS_HELD_CONFIRMATION in text(refused)
    ready.refresh_from_db()
    assert ready.is_active is False and ready.journey_status == JourneyStatus.IN_PROGRESS


def test_confirmed_go_live_without_a_bank_account_is_kept_and_the_dashboard_says_payouts_held(
    client, journey_steps
):
    ready = ready_merchant(bank=None)
    client.force_login(ready.user)

    response = client.post(GO_LIVE, {"confirm_payouts_held": "yes"}, follow=True)

    ready.refresh_from_db()
    assert LIVE in text(response)
    assert ready.is_active is True and ready.payouts_enabled is False
    assert "payouts_held_confirmed_at" in step(ready, 10).step_data
    reasons = list(step(ready, 10).history.values_list("history_change_reason", flat=True))
    assert any("payouts held confirmed" in (reason or "") for reason in reasons)
    dashboard = text(client.get(reverse("merchants:dashboard")))
    assert PAYOUTS_HELD_LIVE in dashboard
    assert f'<a href="{reverse("merchants:bank_account")}">Add your bank account</a>' in dashboard


def test_a_verified_bank_account_needs_no_confirmation(client, ready):
    client.force_login(ready.user)

    assert "confirm_payouts_held" not in text(client.get(FINAL))
    assert client.post(GO_LIVE).status_code == 302
    ready.refresh_from_db()
    assert ready.is_active is True


# --- roles, methods, queries ------------------------------------------------------------------


@pytest.mark.parametrize("make_user", [AeUserFactory, IcUserFactory, ComplianceUserFactory])
def test_staff_cannot_use_the_merchant_pages(client, make_user):
    client.force_login(make_user())

    for url in (HARDWARE, FINAL):
        assert client.get(url).status_code == 403
    for url in (item_url("unbox"), NO_HARDWARE, FINAL, GO_LIVE):
        assert client.post(url).status_code == 403


def test_an_anonymous_visitor_is_sent_to_sign_in(client):
    for url in (HARDWARE, FINAL):
        assert client.get(url).url == f"{reverse('accounts:login')}?next={url}"


def test_wrong_methods_are_refused(signed_in):
    assert signed_in.get(GO_LIVE).status_code == 405
    assert signed_in.get(item_url("unbox")).status_code == 405
    assert signed_in.post(HARDWARE).status_code == 405


def test_the_hardware_page_costs_the_same_queries_with_few_or_many_shipments(signed_in, merchant):
    def queries():
        with CaptureQueriesContext(connection) as context:
            assert signed_in.get(HARDWARE).status_code == 200
        return len(context.captured_queries)

    order = paid_order(merchant, hardware=True)
    HardwareShipmentFactory(order=order, shipment_status=ShipmentStatus.DELIVERED)
    few = queries()
    for _ in range(6):
        HardwareShipmentFactory(order=order, shipment_status=ShipmentStatus.DELIVERED)

    assert queries() == few
