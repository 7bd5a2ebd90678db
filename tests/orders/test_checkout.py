"""Step 6: paying the order through the billing provider (customer → authorize → capture) with
one Payment per attempt and its idempotency key. Declines and outages charge nothing and
leave the order payable; a replayed or double-clicked attempt never charges twice; a charge
refused at capture cancels the order with the reason."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from apps.core.errors import TransitionRefused
from apps.core.fsm import save_tracked
from apps.integrations.models import IntegrationEvent
from apps.integrations.providers.sandbox import sandbox_fail
from apps.leads.models import LeadStatus
from apps.orders.models import Payment
from apps.orders.models.catalog import ItemType, PricingUnit
from apps.orders.models.order import OrderPaymentStatus, OrderStatus
from apps.orders.models.payment import PaymentStatus
from apps.orders.services import checkout
from apps.progress.models import MerchantStepProgress, StepStatus
from tests.orders.factories import ProductFactory
from tests.orders.helpers import accepted_quote, ledger, pay

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def merchant(make_merchant):
    return make_merchant(state="CA")


@pytest.fixture
def order(merchant):
    return accepted_quote(merchant)


@pytest.fixture
def declined_order(merchant):
    """Hardware priced so the CA total ends in .13, which the billing sandbox declines (in a
    state without sales tax the same order is payable)."""
    ProductFactory(
        sku="HW-TEST-DECLINE",
        item_type=ItemType.HARDWARE,
        pricing_unit=PricingUnit.PER_UNIT,
        unit_price=D("100.82"),
    )
    order = accepted_quote(merchant, hardware={"HW-TEST-DECLINE": 1})
    assert order.total_amount == D("257.13")
    return order


def refreshed(order):
    order.refresh_from_db()
    return order


# --- paying -------------------------------------------------------------------------------------


def test_paying_captures_the_total_and_marks_the_order_paid(order, merchant):
    payment = pay(order)

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CAPTURED
    assert payment.amount == order.total_amount
    assert payment.idempotency_key.startswith(f"order-{order.pk}-attempt-")
    order = refreshed(order)
    assert order.status != OrderStatus.PAYMENT_PENDING
    assert order.payment_status == OrderPaymentStatus.CAPTURED
    assert order.paid_at is not None
    assert ledger("billing", "authorize") == ledger("billing", "capture") == 1


def test_the_first_paid_order_converts_the_lead_and_completes_step_6(order, merchant):
    assert merchant.lead.status == LeadStatus.QUALIFIED

    pay(order)

    merchant.lead.refresh_from_db()
    assert merchant.lead.status == LeadStatus.CONVERTED
    progress = MerchantStepProgress.objects.get(merchant=merchant, step_id=6)
    assert progress.status == StepStatus.COMPLETED


def test_the_billing_customer_is_created_once_per_merchant(merchant):
    pay(accepted_quote(merchant))
    pay(accepted_quote(merchant))

    merchant.refresh_from_db()
    assert merchant.billing_customer_id
    assert ledger("billing", "create_customer") == 1
    assert ledger("billing", "capture") == 2


def test_the_saga_starts_only_after_the_charge_commits(
    order, django_capture_on_commit_callbacks, monkeypatch
):
    started = []
    monkeypatch.setattr("apps.orders.saga.runner.saga_enqueue", lambda **kw: started.append(kw))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        pay(order)

    assert started == []
    for callback in callbacks:
        callback()
    assert started == [{"order_id": order.pk}]


# --- never twice --------------------------------------------------------------------------------


def test_a_double_click_charges_once(order):
    attempt = str(uuid.uuid4())

    first = pay(order, attempt=attempt)
    second = pay(order, attempt=attempt)

    assert first.pk == second.pk
    assert Payment.objects.filter(order=order).count() == 1
    assert ledger("billing", "authorize") == ledger("billing", "capture") == 1


def test_a_new_attempt_on_a_paid_order_is_refused(order):
    pay(order)

    with pytest.raises(TransitionRefused) as refusal:
        pay(order)

    assert refusal.value.message == checkout.ALREADY_PAID
    assert ledger("billing", "capture") == 1


def test_an_attempt_still_running_elsewhere_blocks_a_second_one(order, merchant):
    running = Payment(
        order=order, amount=order.total_amount, idempotency_key="in-flight", payment_method="card"
    )
    save_tracked(running, actor=None, reason="test: another request is paying")

    with pytest.raises(TransitionRefused) as refusal:
        pay(order)

    assert refusal.value.message == checkout.PAYMENT_IN_PROGRESS
    assert ledger("billing", "authorize") == 0


class RequestCrash(BaseException):
    """The web process dies (not an Exception: nothing catches it on the way out)."""


def test_an_attempt_abandoned_by_a_crashed_request_is_resumed_not_repeated(order, monkeypatch):
    attempt = str(uuid.uuid4())

    def crash(**kwargs):
        raise RequestCrash("the web process died after the capture")

    monkeypatch.setattr(checkout, "_payment_finalize", crash)
    with pytest.raises(RequestCrash):
        pay(order, attempt=attempt)
    monkeypatch.undo()
    payment = Payment.objects.get(order=order)
    assert payment.status == PaymentStatus.AUTHORIZED
    monkeypatch.setattr(checkout, "PAYMENT_IN_FLIGHT", timedelta(0))  # it is stale now

    resumed = pay(order)  # the merchant presses Pay again

    assert resumed.pk == payment.pk
    assert refreshed(resumed).status == PaymentStatus.CAPTURED
    assert refreshed(order).payment_status == OrderPaymentStatus.CAPTURED
    assert ledger("billing", "authorize") == ledger("billing", "capture") == 1


# --- failures -----------------------------------------------------------------------------------


def test_a_declined_card_charges_nothing_and_leaves_the_order_payable(declined_order):
    with pytest.raises(checkout.PaymentDeclined) as refusal:
        pay(declined_order)

    assert refusal.value.message == checkout.CARD_DECLINED
    assert refusal.value.status_code == 402
    payment = Payment.objects.get(order=declined_order)
    assert (payment.status, payment.failure_reason) == (
        PaymentStatus.FAILED,
        checkout.CARD_DECLINED,
    )
    order = refreshed(declined_order)
    assert order.status == OrderStatus.PAYMENT_PENDING
    assert order.payment_status == OrderPaymentStatus.FAILED
    assert ledger("billing", "capture") == 0


def test_replaying_a_declined_attempt_says_so_again_and_calls_nobody(declined_order):
    attempt = str(uuid.uuid4())
    with pytest.raises(checkout.PaymentDeclined):
        pay(declined_order, attempt=attempt)

    with pytest.raises(checkout.PaymentDeclined) as again:
        pay(declined_order, attempt=attempt)

    assert again.value.message == checkout.CARD_DECLINED
    assert Payment.objects.filter(order=declined_order).count() == 1


def test_after_a_decline_a_new_attempt_with_a_new_total_succeeds(declined_order):
    with pytest.raises(checkout.PaymentDeclined):
        pay(declined_order)
    address = {field: getattr(declined_order, field) for field in checkout.BILLING_FIELDS}

    with pytest.raises(TransitionRefused) as changed:  # Oregon has no sales tax
        checkout.order_checkout(
            order=declined_order,
            address={**address, "billing_state": "OR"},
            attempt=str(uuid.uuid4()),
            actor=declined_order.merchant.user,
        )
    assert changed.value.code == "total_changed"
    assert refreshed(declined_order).total_amount == D("249.82")
    payment = pay(declined_order)

    assert refreshed(payment).status == PaymentStatus.CAPTURED
    assert list(
        Payment.objects.filter(order=declined_order)
        .order_by("created_at")
        .values_list("status", flat=True)
    ) == [PaymentStatus.FAILED, PaymentStatus.CAPTURED]
    assert ledger("billing", "capture") == 1


def test_a_refused_payment_can_be_retried_with_a_new_attempt(order):
    sandbox_fail("billing", "authorize", times=1, kind="permanent", message="Card expired.")
    with pytest.raises(checkout.PaymentDeclined) as refusal:
        pay(order)
    assert refusal.value.message == checkout.PAYMENT_REFUSED.format(detail="Card expired")

    payment = pay(order)

    assert refreshed(payment).status == PaymentStatus.CAPTURED
    assert Payment.objects.filter(order=order).count() == 2
    assert ledger("billing", "capture") == 1


def test_a_billing_outage_says_nothing_was_charged_and_the_order_stays_payable(order):
    sandbox_fail("billing", "authorize", times=1)

    with pytest.raises(checkout.PaymentUnavailable) as refusal:
        pay(order)

    assert refusal.value.message == checkout.BILLING_UNAVAILABLE
    assert refusal.value.status_code == 503
    assert refreshed(order).status == OrderStatus.PAYMENT_PENDING
    assert ledger("billing", "authorize") == 0
    assert refreshed(pay(order)).status == PaymentStatus.CAPTURED


def test_a_charge_refused_at_capture_cancels_the_order_with_the_reason(order):
    sandbox_fail("billing", "capture", times=1, kind="permanent", message="Risk check failed.")

    with pytest.raises(TransitionRefused) as refusal:
        pay(order)

    order = refreshed(order)
    assert refusal.value.code == "charge_failed"
    assert order.status == OrderStatus.CANCELLED
    assert "Risk check failed" in order.status_reason
    assert "Nothing was charged" in order.status_reason
    assert Payment.objects.get(order=order).status == PaymentStatus.FAILED
    assert ledger("billing", "capture") == 0
    events = set(
        IntegrationEvent.objects.filter(aggregate_id=order.pk).values_list("event_type", flat=True)
    )
    assert {"workflow.started", "workflow.failed", "workflow.compensation_triggered"} <= events
    with pytest.raises(TransitionRefused, match="Risk check failed"):
        pay(order)  # the reason is what a new attempt is told


# --- the checkout page --------------------------------------------------------------------------


def checkout_url(order):
    return reverse("orders:checkout", args=[order.order_number])


def form_data(order, **changes):
    data = {field: getattr(order, field) for field in checkout.BILLING_FIELDS}
    data["attempt"] = str(uuid.uuid4())
    return {**data, **changes}


def test_the_checkout_is_prefilled_with_the_billing_address(client, order, merchant):
    client.force_login(merchant.user)

    page = client.get(checkout_url(order)).text

    assert f'value="{order.billing_address_line1}"' in page
    assert f"Pay ${order.total_amount}" in page
    assert 'name="attempt"' in page


def test_paying_on_the_page_redirects_to_the_order_with_a_message(client, order, merchant):
    client.force_login(merchant.user)

    response = client.post(checkout_url(order), form_data(order), follow=True)

    assert response.redirect_chain[-1][0] == reverse(
        "orders:order_detail", args=[order.order_number]
    )
    assert "Payment received" in response.text
    assert refreshed(order).payment_status == OrderPaymentStatus.CAPTURED


def test_a_declined_card_on_the_page_says_so_and_offers_a_new_attempt(
    client, declined_order, merchant
):
    client.force_login(merchant.user)
    data = form_data(declined_order)

    response = client.post(checkout_url(declined_order), data)

    assert response.status_code == 402
    assert checkout.CARD_DECLINED in response.text
    assert 'role="alert"' in response.text
    assert data["attempt"] not in response.text  # the next press of Pay is a new attempt
    assert refreshed(declined_order).status == OrderStatus.PAYMENT_PENDING


def test_a_double_submitted_form_charges_once(client, order, merchant):
    client.force_login(merchant.user)
    data = form_data(order)

    client.post(checkout_url(order), data)
    response = client.post(checkout_url(order), data)

    assert response.status_code == 302
    assert ledger("billing", "capture") == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"billing_state": "XX"}, "billing_state"),
        ({"billing_postal_code": "ABC"}, "billing_postal_code"),
        ({"billing_address_line1": ""}, "billing_address_line1"),
        ({"attempt": "not-a-token"}, "attempt"),
    ],
)
def test_bad_checkout_input_is_a_422_and_charges_nothing(client, order, merchant, changes, field):
    client.force_login(merchant.user)

    response = client.post(checkout_url(order), form_data(order, **changes))

    assert response.status_code == 422
    assert not Payment.objects.filter(order=order).exists()


def test_changing_the_billing_state_shows_the_new_total_before_charging(client, merchant):
    order = accepted_quote(merchant, hardware={"HW-RECEIPT-PRINTER": 1})
    client.force_login(merchant.user)

    response = client.post(checkout_url(order), form_data(order, billing_state="OR"))

    assert response.status_code == 409
    assert "the total is now" in response.text
    order = refreshed(order)
    assert (order.billing_state, order.tax_amount) == ("OR", D("0.00"))
    assert not Payment.objects.filter(order=order).exists()


def test_an_unaccepted_quote_sends_the_merchant_to_accept_it_first(client, merchant):
    from tests.orders.helpers import quote_for

    order = quote_for(merchant)
    client.force_login(merchant.user)

    response = client.get(checkout_url(order))

    assert response.url == reverse("orders:quote_accept", args=[order.order_number])
