"""The AE order pages: the order list (constant queries) and an order's detail for AEs and ops,
and the quote builder on a merchant's behalf for AEs only."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.core.middleware import NUL_REFUSED
from apps.leads.models import Cohort
from apps.orders import pricing
from apps.orders.models import Order
from apps.orders.models.order import OrderStatus
from tests.accounts.factories import (
    AeUserFactory,
    ComplianceUserFactory,
    IcUserFactory,
    MerchantUserFactory,
    OpsUserFactory,
    UserFactory,
)
from tests.orders.factories import OrderFactory
from tests.orders.helpers import quote_for

pytestmark = pytest.mark.django_db

LIST = reverse("orders:staff_order_list")
HTMX = {"HX-Request": "true"}

ROLES = [
    ("merchant", MerchantUserFactory),
    ("ae", AeUserFactory),
    ("ic", IcUserFactory),
    ("compliance", ComplianceUserFactory),
    ("ops", OpsUserFactory),
    ("no-role", UserFactory),
    ("superuser", lambda: UserFactory(is_superuser=True, is_staff=True)),
]
SEES_ORDERS = {"ae", "ops", "superuser"}
BUILDS_QUOTES = {"ae", "superuser"}


@pytest.fixture
def managed(make_merchant):
    return make_merchant(cohort=Cohort.MANAGED)


def builder_data(merchant, action="save"):
    location = merchant.locations.get(location_number=1)
    data = {
        "tier": "SW-PLUS",
        "locations": "1",
        "registers": "1",
        "hardware_choice": "buy",
        f"hw__{location.pk}__HW-RECEIPT-PRINTER": "1",
        "action": action,
    }
    return {key: value for key, value in data.items() if value is not None}


# --- who gets in --------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "make_user"), ROLES, ids=[role for role, _ in ROLES])
def test_the_role_matrix_of_the_order_pages(client, managed, role, make_user):
    order = quote_for(managed)
    client.force_login(make_user())
    pages = {
        "list": (client.get, LIST, SEES_ORDERS),
        "detail": (
            client.get,
            reverse("orders:staff_order_detail", args=[order.order_number]),
            SEES_ORDERS,
        ),
        "new": (client.get, reverse("orders:staff_quote_new", args=[managed.pk]), BUILDS_QUOTES),
        "preview": (
            client.post,
            reverse("orders:staff_quote_preview", args=[managed.pk]),
            BUILDS_QUOTES,
        ),
    }

    for name, (call, url, allowed) in pages.items():
        expected = 403 if role not in allowed else (200 if name != "preview" else 422)
        assert call(url).status_code == expected, name


def test_anonymous_visitors_are_sent_to_sign_in(client, managed):
    for url in (LIST, reverse("orders:staff_quote_new", args=[managed.pk])):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url == f"{reverse('accounts:login')}?next={url}"


def test_an_ae_cannot_save_a_quote_without_being_an_ae(client, managed):
    client.force_login(OpsUserFactory())

    response = client.post(
        reverse("orders:staff_quote_new", args=[managed.pk]), builder_data(managed)
    )

    assert response.status_code == 403
    assert not Order.objects.exists()


# --- the list -----------------------------------------------------------------------------------


def test_the_list_costs_the_same_queries_for_3_or_40_orders(client):
    client.force_login(AeUserFactory())

    def queries():
        with CaptureQueriesContext(connection) as context:
            response = client.get(LIST)
        assert response.status_code == 200
        return len(context.captured_queries)

    OrderFactory.create_batch(3, created_by=AeUserFactory(), is_self_serve=False)
    few = queries()
    OrderFactory.create_batch(37)

    assert queries() == few


def test_the_list_filters_by_status_and_search(client, managed):
    waiting = quote_for(managed)
    other = OrderFactory(status=OrderStatus.CANCELLED)
    client.force_login(AeUserFactory())

    by_status = client.get(LIST, {"status": OrderStatus.QUOTE_GENERATED}).text
    by_search = client.get(LIST, {"q": other.order_number}).text
    bad_status = client.get(LIST, {"status": "nonsense"})

    assert waiting.order_number in by_status and other.order_number not in by_status
    assert other.order_number in by_search and waiting.order_number not in by_search
    assert bad_status.status_code == 200


def test_an_ae_finds_a_merchant_to_build_a_quote_for(client, managed):
    client.force_login(AeUserFactory())

    page = client.get(LIST, {"merchant": managed.legal_business_name[:6]}).text

    assert reverse("orders:staff_quote_new", args=[managed.pk]) in page


# --- the detail ---------------------------------------------------------------------------------


def test_the_detail_shows_lines_payments_and_steps(client, managed):
    order = quote_for(managed, hardware={"HW-CARD-READER": 1})
    client.force_login(AeUserFactory())

    page = client.get(reverse("orders:staff_order_detail", args=[order.order_number])).text

    assert order.order_number in page
    assert "Card reader" in page
    assert "No payment attempt yet." in page


def test_an_unknown_order_is_a_404(client):
    client.force_login(AeUserFactory())

    response = client.get(reverse("orders:staff_order_detail", args=["ORD-2000-000001"]))

    assert response.status_code == 404


# --- building on the merchant's behalf ----------------------------------------------------------


def test_an_ae_builds_and_sends_a_managed_merchants_quote(client, managed):
    ae = AeUserFactory()
    client.force_login(ae)

    page = client.get(reverse("orders:staff_quote_new", args=[managed.pk])).text
    response = client.post(
        reverse("orders:staff_quote_new", args=[managed.pk]), builder_data(managed)
    )

    assert "paid IC guided setup" in page
    order = Order.objects.get(merchant=managed)
    assert response.url == reverse("orders:staff_order_detail", args=[order.order_number])
    assert (order.created_by, order.is_self_serve, order.status) == (
        ae,
        False,
        OrderStatus.QUOTE_GENERATED,
    )
    assert order.items.filter(product_sku=pricing.IC_SETUP_SKU).exists()


def test_the_aes_preview_includes_the_ic_setup(client, managed):
    client.force_login(AeUserFactory())

    response = client.post(
        reverse("orders:staff_quote_preview", args=[managed.pk]),
        builder_data(managed, action=None),
        headers=HTMX,
    )

    assert response.status_code == 200
    assert "IC guided setup" in response.text
    assert not Order.objects.exists()


def test_the_merchant_accepts_the_aes_quote(client, managed):
    ae = AeUserFactory()
    client.force_login(ae)
    client.post(reverse("orders:staff_quote_new", args=[managed.pk]), builder_data(managed))
    order = Order.objects.get(merchant=managed)
    client.force_login(managed.user)

    response = client.post(reverse("orders:quote_accept", args=[order.order_number]))

    assert response.url == reverse("orders:checkout", args=[order.order_number])
    order.refresh_from_db()
    assert order.status == OrderStatus.PAYMENT_PENDING


@pytest.mark.parametrize("merchant_id", [uuid.uuid4(), "not-a-uuid"])
def test_building_for_an_unknown_merchant_is_a_404(client, merchant_id):
    client.force_login(AeUserFactory())

    response = client.get(f"/staff/orders/new/{merchant_id}/")

    assert response.status_code == 404


def test_a_bad_ae_quote_is_a_422_and_saves_nothing(client, managed):
    client.force_login(AeUserFactory())

    response = client.post(
        reverse("orders:staff_quote_new", args=[managed.pk]),
        {**builder_data(managed), "tier": "SW-NOPE"},
    )

    assert response.status_code == 422
    assert not Order.objects.exists()


def test_a_nul_character_in_a_search_or_an_order_number_is_a_400_not_a_500(client):
    client.force_login(AeUserFactory())

    response = client.get(LIST, {"q": "ORD\x00", "merchant": "a\x00b"})

    assert response.status_code == 400
    assert NUL_REFUSED in response.text
    assert client.get("/staff/orders/ORD%00-1/").status_code == 400


@pytest.mark.parametrize("number", ["ORD 1", "ORD;DROP", "-ORD"])
def test_an_order_number_that_cannot_exist_is_a_404(client, number):
    client.force_login(AeUserFactory())

    assert client.get(f"/staff/orders/{number}/").status_code == 404
    assert client.get(f"/orders/{number}/").status_code in (403, 404)
