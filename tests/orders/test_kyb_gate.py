"""DESIGN.md rule 1: no order with hardware goes past quote_generated unless the merchant's KYB
is approved. Each layer is tested on its own: the transition's guard, the service (with the
domain's message), the database trigger (bypassing the ORM FSM), and the pages."""

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django_fsm import can_proceed

from apps.core.errors import TransitionRefused
from apps.core.fsm import unmet_conditions
from apps.merchants.choices import CheckStatus
from apps.orders.models import Order, Payment
from apps.orders.models.order import OrderStatus
from apps.orders.services import quotes, transitions
from apps.orders.views import kyb_url
from tests.orders.helpers import HARDWARE_SET, pay, quote_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def held_order(make_merchant):
    """A quote with hardware whose merchant's KYB is submitted, not approved (step 3 done
    on submission, so the quote could be built)."""
    merchant = make_merchant(kyb=CheckStatus.SUBMITTED)
    return quote_for(merchant, hardware=HARDWARE_SET)


# --- layer 1: the transition's guard ------------------------------------------------------------


def test_the_fsm_guard_holds_an_order_with_hardware_before_kyb_approval(held_order):
    assert not can_proceed(held_order.request_payment)
    assert unmet_conditions(held_order, "request_payment") == [
        transitions.KYB_REQUIRED_FOR_HARDWARE
    ]


def test_the_fsm_guard_lets_a_software_only_order_through(make_merchant):
    order = quote_for(make_merchant(kyb=CheckStatus.SUBMITTED))

    assert can_proceed(order.request_payment)


def test_the_fsm_guard_lets_hardware_through_once_kyb_is_approved(make_merchant):
    order = quote_for(make_merchant(kyb=CheckStatus.APPROVED), hardware=HARDWARE_SET)

    assert can_proceed(order.request_payment)


# --- layer 2: the service -----------------------------------------------------------------------


def test_the_service_refuses_with_the_domains_message_and_writes_nothing(held_order):
    history = held_order.history.count()

    with pytest.raises(TransitionRefused) as refusal:
        transitions.order_request_payment(order=held_order, actor=held_order.merchant.user)

    assert refusal.value.code == "kyb_required"  # the service's own check, not the guard's
    assert refusal.value.message == transitions.KYB_REQUIRED_FOR_HARDWARE
    held_order.refresh_from_db()
    assert held_order.status == OrderStatus.QUOTE_GENERATED
    assert held_order.history.count() == history


def test_accepting_a_held_quote_is_refused(held_order):
    with pytest.raises(TransitionRefused, match="KYB"):
        quotes.order_accept(order=held_order, actor=held_order.merchant.user)


def test_paying_is_refused_for_an_order_the_gate_holds(held_order):
    with pytest.raises(TransitionRefused, match="KYB"):
        pay(held_order)
    assert not Payment.objects.filter(order=held_order).exists()


def test_once_kyb_is_approved_the_held_quote_goes_to_payment(held_order):
    from apps.merchants.services.kyb import merchant_kyb_decide

    merchant = held_order.merchant
    merchant_kyb_decide(merchant=merchant, decision=CheckStatus.APPROVED, provider="sandbox")
    order = Order.objects.get(pk=held_order.pk)

    quotes.order_accept(order=order, actor=merchant.user)

    order.refresh_from_db()
    assert order.status == OrderStatus.PAYMENT_PENDING


# --- layer 3: the database ----------------------------------------------------------------------


def test_the_database_refuses_an_order_with_hardware_past_the_quote_before_kyb(held_order):
    # The only place a tracked model is written with QuerySet.update: to bypass the ORM FSM.
    with pytest.raises(IntegrityError, match="kyb_gate"), transaction.atomic():
        Order.objects.filter(pk=held_order.pk).update(status=OrderStatus.PAYMENT_PENDING)

    held_order.refresh_from_db()
    assert held_order.status == OrderStatus.QUOTE_GENERATED


@pytest.mark.parametrize(
    "status",
    [OrderStatus.PAID, OrderStatus.HARDWARE_ORDERED, OrderStatus.SHIPPED, OrderStatus.ACTIVATED],
)
def test_the_database_refuses_every_later_status_too(held_order, status):
    with pytest.raises(IntegrityError, match="kyb_gate"), transaction.atomic():
        Order.objects.filter(pk=held_order.pk).update(status=status)


def test_the_database_lets_a_software_only_order_through(make_merchant):
    order = quote_for(make_merchant(kyb=CheckStatus.SUBMITTED))

    Order.objects.filter(pk=order.pk).update(status=OrderStatus.PAYMENT_PENDING)

    order.refresh_from_db()
    assert order.status == OrderStatus.PAYMENT_PENDING


def test_the_database_lets_hardware_through_after_kyb_approval(make_merchant):
    order = quote_for(make_merchant(kyb=CheckStatus.APPROVED), hardware=HARDWARE_SET)

    Order.objects.filter(pk=order.pk).update(status=OrderStatus.PAYMENT_PENDING)

    order.refresh_from_db()
    assert order.status == OrderStatus.PAYMENT_PENDING


def test_the_database_lets_a_held_order_be_cancelled(held_order):
    transitions.order_cancel(order=held_order, actor=None, reason="changed my mind")

    held_order.refresh_from_db()
    assert held_order.status == OrderStatus.CANCELLED


# --- the pages say so and link to KYB ---------------------------------------------------------


def test_the_quote_page_says_kyb_holds_the_hardware_and_links_to_the_kyb_step(client, held_order):
    client.force_login(held_order.merchant.user)

    page = client.get(reverse("orders:quote_accept", args=[held_order.order_number])).text

    assert "business verification (KYB) must be approved" in page
    assert f'href="{kyb_url()}"' in page
    assert "Accept the quote" not in page


def test_accepting_a_held_quote_on_the_page_is_a_409_with_the_message(client, held_order):
    client.force_login(held_order.merchant.user)

    response = client.post(reverse("orders:quote_accept", args=[held_order.order_number]))

    assert response.status_code == 409
    assert transitions.KYB_REQUIRED_FOR_HARDWARE in response.text
    held_order.refresh_from_db()
    assert held_order.status == OrderStatus.QUOTE_GENERATED
