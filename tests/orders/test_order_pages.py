"""The merchant's order pages: the quote builder with its live preview (htmx) and its
no-JavaScript fallback, accepting a quote, the order list and the order's progress. Only the
merchant's own orders are reachable; bad input is a 4xx with a message, never a 500."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.leads.models import Cohort
from apps.orders.models import Order
from apps.orders.models.order import OrderStatus
from apps.orders.services import quotes
from apps.orders.views import AE_BUILDS_QUOTES, kyb_url
from apps.progress.models import MerchantStepProgress, StepStatus
from tests.accounts.factories import AeUserFactory
from tests.orders.factories import OrderFactory
from tests.orders.helpers import accepted_quote, quote_for

pytestmark = pytest.mark.django_db

QUOTE = reverse("orders:quote")
PREVIEW = reverse("orders:quote_preview")
HTMX = {"HX-Request": "true"}


@pytest.fixture
def merchant(make_merchant):
    return make_merchant(state="CA")


@pytest.fixture
def signed_in(client, merchant):
    client.force_login(merchant.user)
    return client


def builder_data(merchant, action="save", **changes):
    location = merchant.locations.get(location_number=1)
    data = {
        "tier": "SW-CORE",
        "locations": "1",
        "registers": "0",
        "hardware_choice": "buy",
        f"hw__{location.pk}__HW-CARD-READER": "2",
        "action": action,
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


# --- the builder --------------------------------------------------------------------------------


def test_the_builder_offers_the_plans_and_hardware_for_each_location(make_merchant, client):
    merchant = make_merchant(locations=2)
    client.force_login(merchant.user)

    page = client.get(QUOTE).text

    assert "Step 4 · Software" in page and "Step 5 · Hardware" in page
    for plan in ("Lean", "Core", "Plus"):
        assert plan in page
    for location in merchant.locations.all():
        assert f'name="hw__{location.pk}__HW-CARD-READER"' in page
    assert f'hx-post="{PREVIEW}"' in page


def test_before_kyb_the_builder_explains_and_links_to_the_kyb_step(make_merchant, client):
    merchant = make_merchant(kyb="pending", journey=2)
    client.force_login(merchant.user)

    page = client.get(QUOTE).text

    assert quotes.STEP_3_REQUIRED in page
    assert f'href="{kyb_url()}"' in page
    assert 'name="tier"' not in page


def test_saving_before_kyb_is_refused_and_saves_nothing(make_merchant, client):
    merchant = make_merchant(kyb="pending", journey=2, locations=1)
    client.force_login(merchant.user)

    response = client.post(QUOTE, builder_data(merchant))

    assert response.status_code == 409
    assert not Order.objects.exists()


def test_an_assisted_merchant_is_told_the_ae_prepares_the_quote(make_merchant, client):
    merchant = make_merchant(cohort=Cohort.ASSISTED)
    client.force_login(merchant.user)

    page = client.get(QUOTE).text
    refused = client.post(QUOTE, builder_data(merchant))

    assert AE_BUILDS_QUOTES in page
    assert 'name="tier"' not in page
    assert refused.status_code == 403


def test_an_assisted_merchant_finds_the_aes_quote_to_review(make_merchant, client):
    merchant = make_merchant(cohort=Cohort.ASSISTED)
    ae = AeUserFactory(first_name="Maria", last_name="Lopez")
    from tests.orders.helpers import selection_for

    order = quotes.order_quote_create(
        merchant=merchant, selection=selection_for(merchant), actor=ae, created_by=ae
    )
    client.force_login(merchant.user)

    page = client.get(QUOTE).text

    assert reverse("orders:quote_accept", args=[order.order_number]) in page
    assert "prepared by Maria Lopez" in page


# --- the live preview ---------------------------------------------------------------------------


def test_the_preview_returns_the_priced_quote_partial_and_saves_nothing(signed_in, merchant):
    response = signed_in.post(PREVIEW, builder_data(merchant, action=None), headers=HTMX)

    assert response.status_code == 200
    text = response.text
    assert text.strip().startswith('<article id="quote-preview"')
    assert "<html" not in text
    assert "Card reader" in text
    # 149 + 2 × 59 = 267; tax 7.25 % of 118 = 8.555 → 8.56
    assert '<strong id="quote-total">$275.56</strong>' in text
    assert not Order.objects.exists()


def test_the_preview_of_a_bad_choice_is_a_422_that_replaces_the_preview(signed_in, merchant):
    data = builder_data(merchant, action=None, hardware_choice="buy")
    data = {k: v for k, v in data.items() if not k.startswith("hw__")}

    response = signed_in.post(PREVIEW, data, headers=HTMX)

    assert response.status_code == 422
    assert response["HX-Retarget"] == "#quote-preview"
    assert response["HX-Reswap"] == "outerHTML"
    assert 'role="alert"' in response.text


def test_without_javascript_update_the_quote_shows_it_on_the_page(signed_in, merchant):
    response = signed_in.post(QUOTE, builder_data(merchant, action="preview"))

    assert response.status_code == 200
    assert "$275.56" in response.text
    assert "<html" in response.text
    assert not Order.objects.exists()


def test_saving_the_quote_creates_the_order_and_goes_to_its_review(signed_in, merchant):
    response = signed_in.post(QUOTE, builder_data(merchant))

    order = Order.objects.get(merchant=merchant)
    assert response.url == reverse("orders:quote_accept", args=[order.order_number])
    assert order.status == OrderStatus.QUOTE_GENERATED
    assert str(order.total_amount) == "275.56"
    progress = dict(
        MerchantStepProgress.objects.filter(merchant=merchant).values_list("step_id", "status")
    )
    assert progress[4] == progress[5] == StepStatus.COMPLETED


def test_saving_with_own_hardware_completes_step_5_without_hardware(signed_in, merchant):
    signed_in.post(QUOTE, builder_data(merchant, hardware_choice="own"))

    order = Order.objects.get(merchant=merchant)
    assert not order.has_hardware()
    assert MerchantStepProgress.objects.get(merchant=merchant, step_id=5).status == "completed"


@pytest.mark.parametrize(
    "changes",
    [
        {"tier": ""},
        {"tier": "SW-NOPE"},
        {"locations": "abc"},
        {"locations": "0"},
        {"locations": "1000"},
        {"registers": "-1"},
        {"hardware_choice": "steal"},
        {"add_ons": "HW-CARD-READER"},
        {"registers": "2.5"},
    ],
    ids=lambda changes: next(iter(changes)) + "=" + next(iter(changes.values())),
)
def test_bad_builder_input_is_a_422_with_the_form_and_saves_nothing(signed_in, merchant, changes):
    response = signed_in.post(QUOTE, builder_data(merchant, **changes))

    assert response.status_code == 422
    assert 'role="alert"' in response.text
    assert not Order.objects.exists()


def test_a_hardware_quantity_out_of_range_is_a_422(signed_in, merchant):
    location = merchant.locations.get()

    response = signed_in.post(
        QUOTE, builder_data(merchant, **{f"hw__{location.pk}__HW-CARD-READER": "100"})
    )

    assert response.status_code == 422
    assert "less than or equal to 99" in response.text
    assert not Order.objects.exists()


def test_the_preview_is_a_post(signed_in):
    assert signed_in.get(PREVIEW).status_code == 405


# --- accepting ----------------------------------------------------------------------------------


def test_accepting_the_quote_goes_to_checkout(signed_in, merchant):
    order = quote_for(merchant)
    url = reverse("orders:quote_accept", args=[order.order_number])

    page = signed_in.get(url).text
    response = signed_in.post(url)

    assert "Accept the quote and go to checkout" in page
    assert response.url == reverse("orders:checkout", args=[order.order_number])
    order.refresh_from_db()
    assert order.status == OrderStatus.PAYMENT_PENDING


# --- the orders ---------------------------------------------------------------------------------


def test_the_order_list_costs_the_same_queries_for_2_or_20_orders(signed_in, merchant):
    def queries():
        with CaptureQueriesContext(connection) as context:
            response = signed_in.get(reverse("orders:order_list"))
        assert response.status_code == 200
        return len(context.captured_queries)

    OrderFactory.create_batch(2, merchant=merchant)
    few = queries()
    OrderFactory.create_batch(18, merchant=merchant)

    assert queries() == few


def test_the_order_list_links_each_order_and_its_next_action(signed_in, merchant):
    waiting = quote_for(merchant)
    accepted = accepted_quote(merchant, tier="SW-PLUS")

    page = signed_in.get(reverse("orders:order_list")).text

    assert reverse("orders:checkout", args=[accepted.order_number]) in page
    assert reverse("orders:order_detail", args=[waiting.order_number]) in page


def test_the_order_page_polls_only_while_something_moves(signed_in, merchant):
    order = accepted_quote(merchant)
    url = reverse("orders:order_detail", args=[order.order_number])

    still = signed_in.get(url).text
    partial = signed_in.get(url, headers=HTMX).text

    assert 'hx-trigger="every' not in still  # waiting for the merchant, not for us
    assert partial.strip().startswith('<section id="order-progress"')
    assert "<html" not in partial
    assert reverse("orders:checkout", args=[order.order_number]) in partial


# --- who sees what ------------------------------------------------------------------------------


def merchant_urls(order):
    number = order.order_number
    return [
        ("get", reverse("orders:quote_accept", args=[number])),
        ("post", reverse("orders:quote_accept", args=[number])),
        ("get", reverse("orders:checkout", args=[number])),
        ("post", reverse("orders:checkout", args=[number])),
        ("get", reverse("orders:order_detail", args=[number])),
    ]


def test_another_merchants_order_is_a_404_on_every_page(make_merchant, client):
    owner = make_merchant()
    order = accepted_quote(owner)
    stranger = make_merchant()
    client.force_login(stranger.user)

    for method, url in merchant_urls(order):
        assert getattr(client, method)(url).status_code == 404, (method, url)
        assert getattr(client, method)(url, headers=HTMX).status_code == 404, (method, url)
    order.refresh_from_db()
    assert order.status == OrderStatus.PAYMENT_PENDING


def test_an_unknown_order_number_is_a_404(signed_in):
    assert (
        signed_in.get(reverse("orders:order_detail", args=["ORD-1999-000001"])).status_code == 404
    )


def test_anonymous_visitors_are_sent_to_sign_in(client, merchant):
    order = quote_for(merchant)
    for _method, url in [
        *merchant_urls(order),
        ("get", QUOTE),
        ("get", reverse("orders:order_list")),
    ]:
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("accounts:login"))


def test_staff_are_refused_the_merchant_pages(client, merchant):
    order = quote_for(merchant)
    client.force_login(AeUserFactory())

    for _method, url in [*merchant_urls(order), ("get", QUOTE)]:
        assert client.get(url).status_code == 403
