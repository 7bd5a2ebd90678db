"""A self-serve merchant whose KYB was approved builds a quote (the preview updating as they
choose), accepts it, pays, and watches provisioning and the hardware shipment reach
delivered. Tasks and sandbox webhooks run inline in tests (Q_SYNC), so the order page shows
the end of the saga right after the payment's redirect."""

import re

from playwright.sync_api import expect

from apps.demo.reference import products_seed, tax_rates_seed
from apps.leads.models import Cohort
from apps.orders.models import Order
from apps.orders.models.order import OrderStatus
from apps.orders.models.shipment import ShipmentStatus
from apps.orders.pricing import NO_HARDWARE_CHOSEN
from tests.merchants.factories import MerchantFactory, MerchantLocationFactory
from tests.orders.helpers import journey_until, kyb_approve, ledger


def merchant_ready_to_buy():
    products_seed()
    tax_rates_seed()
    merchant = MerchantFactory(
        cohort=Cohort.SELF_SERVE,
        lead__cohort=Cohort.SELF_SERVE,
        registered_state="CA",
        registered_postal_code="94107",
    )
    MerchantLocationFactory(
        merchant=merchant,
        location_number=1,
        is_primary=True,
        location_name="Mission Street",
        state="CA",
        postal_code="94107",
    )
    kyb_approve(merchant)
    journey_until(merchant, 3)
    return merchant


def test_a_merchant_builds_a_quote_pays_and_sees_provisioning_and_delivery(
    journey_steps, sign_in, page, live_server
):
    merchant = merchant_ready_to_buy()
    sign_in(merchant.user)

    # Steps 4 and 5: the quote builder, live-updated.
    page.goto(f"{live_server.url}/quote/")
    page.get_by_role("radio", name=re.compile(r"Core")).check()
    # "Buy hardware" is chosen but no item yet: the preview says what is missing.
    expect(page.locator("#quote-preview")).to_contain_text(NO_HARDWARE_CHOSEN)
    page.get_by_role("spinbutton", name="Card reader ($59.00 each)").fill("1")
    # 149 + 59 + CA tax on the hardware (59 × 7.25 % = 4.28)
    expect(page.locator("#quote-total")).to_have_text("$212.28")
    expect(page.locator("#quote-tax")).to_have_text("$4.28")
    page.get_by_role("button", name="Save quote").click()

    # The quote to accept.
    expect(page.get_by_role("heading", name=re.compile(r"^Quote ORD-"))).to_be_visible()
    page.get_by_role("button", name="Accept the quote and go to checkout").click()

    # Step 6: checkout, billing address prefilled.
    expect(page.get_by_role("heading", name="Checkout")).to_be_visible()
    expect(page.get_by_label("ZIP code")).to_have_value("94107")
    page.get_by_role("button", name="Pay $212.28").click()

    # The order page: paid, provisioned, shipped and delivered.
    expect(page.get_by_text("Payment received")).to_be_visible()
    expect(page.locator("#order-status")).to_have_text("Activated")
    steps = page.locator("#saga-steps li")
    expect(steps).to_have_count(7)
    for label in (
        "Payment",
        "Lightspeed X-Series account, locations and licences",
        "Lightspeed Payments account",
        "Hardware order",
        "Confirmation email",
    ):
        expect(page.locator("#saga-steps li", has_text=label).first).to_contain_text("Done")
    expect(page.locator("[data-shipment-status]")).to_have_text("Delivered")
    expect(page.get_by_text("your hardware was delivered")).to_be_visible()

    order = Order.objects.get(merchant=merchant)
    assert order.status == OrderStatus.ACTIVATED
    assert order.shipments.get().shipment_status == ShipmentStatus.DELIVERED
    assert ledger("billing", "capture") == ledger("hardware", "create_order") == 1
