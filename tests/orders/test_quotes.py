"""Steps 4-5 in the services: a quote is built from the merchant's choices with the seeded
prices and its state's tax, gets a human-readable number, completes the steps, and an AE can
build one on a managed or assisted merchant's behalf for the merchant to accept."""

import re
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from apps.core.errors import ActionForbidden, DomainError, TransitionRefused
from apps.core.links import step_link_read
from apps.leads.models import Cohort
from apps.orders import pricing
from apps.orders.models import Order
from apps.orders.models.catalog import ItemType
from apps.orders.models.order import OrderStatus
from apps.orders.services import quotes
from apps.progress.models import MerchantStepProgress, StepStatus
from tests.accounts.factories import AeUserFactory, IcUserFactory
from tests.orders.factories import OrderFactory
from tests.orders.helpers import HARDWARE_SET, quote_for, selection_for

pytestmark = pytest.mark.django_db
D = Decimal


def step(merchant, step_id):
    return MerchantStepProgress.objects.get(merchant=merchant, step_id=step_id).status


# --- the quote ----------------------------------------------------------------------------------


def test_a_saved_quote_stores_its_lines_discounts_tax_and_total(make_merchant):
    merchant = make_merchant(state="CA", locations=3)

    order = quote_for(merchant, tier="SW-PLUS", locations=3, hardware={"HW-RECEIPT-PRINTER": 2})

    order.refresh_from_db()
    assert order.status == OrderStatus.QUOTE_GENERATED
    assert order.quote_sent_at is not None
    items = {item.product_sku: item for item in order.items.all()}
    assert items["SW-PLUS"].quantity == 3
    assert items["SW-PLUS"].discount_amount == D("71.70")
    assert items["HW-RECEIPT-PRINTER"].line_total == D("598.00")
    assert items["HW-RECEIPT-PRINTER"].location == merchant.locations.get(location_number=1)
    assert "ships to" in items["HW-RECEIPT-PRINTER"].description
    assert order.subtotal == D("717.00") + D("598.00")
    assert order.discount_amount == D("71.70")
    assert order.tax_amount == D("43.36")  # 598 × 7.25 %
    assert order.total_amount == order.subtotal - order.discount_amount + order.tax_amount
    assert (order.billing_state, order.is_self_serve, order.created_by) == ("CA", True, None)


@pytest.mark.parametrize(("state", "tax"), [("CA", "21.68"), ("NY", "11.96"), ("OR", "0.00")])
def test_the_tax_is_the_seeded_rate_of_the_merchants_state(make_merchant, state, tax):
    merchant = make_merchant(state=state)

    order = quote_for(merchant, hardware={"HW-RECEIPT-PRINTER": 1})

    assert order.tax_amount == D(tax)


def test_a_state_without_a_seeded_rate_is_refused_with_a_message(make_merchant):
    merchant = make_merchant(state="ZZ")

    with pytest.raises(DomainError) as refusal:
        quote_for(merchant)

    assert refusal.value.message == quotes.NO_TAX_RATE.format(state="ZZ")
    assert not Order.objects.filter(merchant=merchant).exists()


def test_hardware_for_a_place_that_is_not_the_merchants_is_refused(make_merchant):
    merchant = make_merchant()
    selection = pricing.Selection(
        tier="SW-CORE", hardware={"elsewhere": {"HW-CARD-READER": 1}}, hardware_choice="buy"
    )

    with pytest.raises(DomainError, match="one of the business's locations"):
        quotes.order_quote_create(merchant=merchant, selection=selection, actor=merchant.user)


def test_without_a_location_hardware_ships_to_the_registered_address(make_merchant):
    merchant = make_merchant(locations=0)

    order = quote_for(merchant, hardware={"HW-CARD-READER": 1})

    item = order.items.get(item_type=ItemType.HARDWARE)
    assert item.location is None
    assert "registered address" in item.description


# --- order numbers ------------------------------------------------------------------------------


def test_order_numbers_are_human_readable_and_follow_each_other(make_merchant):
    merchant = make_merchant()
    year = timezone.localdate().year

    first = quote_for(merchant)
    second = quote_for(merchant)

    assert re.fullmatch(rf"ORD-{year}-\d{{6}}", first.order_number)
    assert int(second.order_number[-6:]) == int(first.order_number[-6:]) + 1


def test_a_number_taken_meanwhile_is_skipped_not_reused(make_merchant, monkeypatch):
    merchant = make_merchant()
    year = timezone.localdate().year
    OrderFactory(order_number=f"ORD-{year}-000041")
    taken = iter([f"ORD-{year}-000041"])
    real = quotes.order_number_next
    monkeypatch.setattr(quotes, "order_number_next", lambda **kw: next(taken, None) or real(**kw))

    order = quote_for(merchant)

    assert order.order_number == f"ORD-{year}-000042"


# --- journey steps 4 and 5 ----------------------------------------------------------------------


def test_saving_a_quote_with_hardware_completes_steps_4_and_5(make_merchant):
    merchant = make_merchant()

    quote_for(merchant, hardware=HARDWARE_SET)

    assert (step(merchant, 4), step(merchant, 5), step(merchant, 6)) == (
        StepStatus.COMPLETED,
        StepStatus.COMPLETED,
        StepStatus.PENDING,
    )


@pytest.mark.parametrize("choice", [pricing.HARDWARE_OWN, pricing.HARDWARE_NONE])
def test_a_merchant_with_own_or_no_hardware_completes_step_5_without_hardware(
    make_merchant, choice
):
    merchant = make_merchant()

    order = quote_for(merchant, choice=choice)

    assert not order.has_hardware()
    assert step(merchant, 5) == StepStatus.COMPLETED


def test_a_quote_cannot_be_built_before_kyb_step_3_is_done(make_merchant):
    merchant = make_merchant(kyb="submitted", journey=2)

    with pytest.raises(TransitionRefused) as refusal:
        quote_for(merchant)

    assert refusal.value.message == quotes.STEP_3_REQUIRED
    assert not Order.objects.filter(merchant=merchant).exists()
    assert step(merchant, 4) == StepStatus.PENDING


def test_a_new_quote_replaces_the_open_one(make_merchant):
    merchant = make_merchant()
    old = quote_for(merchant)

    new = quote_for(merchant, tier="SW-PLUS")

    old.refresh_from_db()
    assert old.status == OrderStatus.CANCELLED
    assert old.status_reason == f"Replaced by quote {new.order_number}."


# --- AE quotes (assisted and managed cohorts) ---------------------------------------------------


def test_an_ae_builds_a_managed_merchants_quote_with_the_paid_ic_setup(make_merchant):
    merchant = make_merchant(cohort=Cohort.MANAGED)
    ae = AeUserFactory()

    order = quotes.order_quote_create(
        merchant=merchant, selection=selection_for(merchant), actor=ae, created_by=ae
    )

    assert (order.created_by, order.is_self_serve) == (ae, False)
    setup = order.items.get(product_sku=pricing.IC_SETUP_SKU)
    assert (setup.item_type, setup.line_total) == (ItemType.SERVICE, D("499.00"))
    assert order.total_amount == D("149.00") + D("499.00")
    assert order.history.first().history_user == ae


def test_an_assisted_merchants_quote_has_no_ic_setup(make_merchant):
    merchant = make_merchant(cohort=Cohort.ASSISTED)
    ae = AeUserFactory()

    order = quotes.order_quote_create(
        merchant=merchant, selection=selection_for(merchant), actor=ae, created_by=ae
    )

    assert not order.items.filter(product_sku=pricing.IC_SETUP_SKU).exists()


def test_an_ae_quote_leaves_the_steps_to_the_merchants_acceptance(make_merchant):
    merchant = make_merchant(cohort=Cohort.ASSISTED)
    ae = AeUserFactory()
    order = quotes.order_quote_create(
        merchant=merchant, selection=selection_for(merchant), actor=ae, created_by=ae
    )
    assert step(merchant, 4) != StepStatus.COMPLETED

    quotes.order_accept(order=order, actor=merchant.user)

    order.refresh_from_db()
    assert order.status == OrderStatus.PAYMENT_PENDING
    assert (step(merchant, 4), step(merchant, 5)) == (StepStatus.COMPLETED, StepStatus.COMPLETED)


def test_the_merchant_is_emailed_when_an_ae_sends_a_quote(
    make_merchant, django_capture_on_commit_callbacks
):
    merchant = make_merchant(cohort=Cohort.MANAGED)
    ae = AeUserFactory()

    with django_capture_on_commit_callbacks(execute=True):
        order = quotes.order_quote_create(
            merchant=merchant, selection=selection_for(merchant), actor=ae, created_by=ae
        )

    sent = [m for m in mail.outbox if order.order_number in m.subject]
    assert len(sent) == 1
    assert sent[0].to == [merchant.user.email]
    # An absolute step link (signed, expiring) to the quote's accept page, in text and HTML.
    token = re.search(r"http://localhost:8000/continue/(\S+)/", sent[0].body).group(1)
    assert step_link_read(token)["p"] == f"/quote/{order.order_number}/accept/"
    assert token in sent[0].alternatives[0][0]


def test_a_merchants_own_quote_sends_no_quote_email(
    make_merchant, django_capture_on_commit_callbacks
):
    merchant = make_merchant()

    with django_capture_on_commit_callbacks(execute=True):
        order = quote_for(merchant)

    assert not [m for m in mail.outbox if order.order_number in m.subject]


def test_only_a_user_allowed_to_add_orders_builds_on_a_merchants_behalf(make_merchant):
    merchant = make_merchant(cohort=Cohort.MANAGED)
    ic = IcUserFactory()

    with pytest.raises(ActionForbidden):
        quotes.order_quote_create(
            merchant=merchant, selection=selection_for(merchant), actor=ic, created_by=ic
        )

    assert not Order.objects.filter(merchant=merchant).exists()


def test_accepting_needs_the_kyb_step_done(make_merchant):
    merchant = make_merchant(cohort=Cohort.ASSISTED, kyb="submitted", journey=2)
    ae = AeUserFactory()
    order = quotes.order_quote_create(
        merchant=merchant, selection=selection_for(merchant), actor=ae, created_by=ae
    )

    with pytest.raises(TransitionRefused) as refusal:
        quotes.order_accept(order=order, actor=merchant.user)

    assert refusal.value.message == quotes.STEP_3_REQUIRED
    order.refresh_from_db()
    assert order.status == OrderStatus.QUOTE_GENERATED


def test_accepting_twice_is_refused_with_a_clear_message(make_merchant):
    merchant = make_merchant()
    order = quote_for(merchant)
    quotes.order_accept(order=order, actor=merchant.user)

    with pytest.raises(TransitionRefused, match="Awaiting payment"):
        quotes.order_accept(order=order, actor=merchant.user)
