"""The database refuses impossible orders, prices, tax rates and payments."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from tests.orders.factories import (
    OrderFactory,
    OrderItemFactory,
    PaymentFactory,
    ProductFactory,
    TaxRateFactory,
)

pytestmark = pytest.mark.django_db


def test_duplicate_order_number_is_refused():
    OrderFactory(order_number="ORD-424242")

    with pytest.raises(IntegrityError, match="order_number"), transaction.atomic():
        OrderFactory(order_number="ORD-424242")


def test_distinct_order_numbers_are_accepted():
    first, second = OrderFactory.create_batch(2)

    assert first.order_number != second.order_number


def test_order_item_with_zero_quantity_is_refused():
    with pytest.raises(IntegrityError, match="orderitem_quantity_positive"), transaction.atomic():
        OrderItemFactory(quantity=0, line_total=Decimal("0.00"))


def test_order_item_with_one_unit_is_accepted():
    item = OrderItemFactory(quantity=1)

    item.refresh_from_db()
    assert item.quantity == 1


@pytest.mark.parametrize(
    ("factory", "field", "constraint"),
    [
        (ProductFactory, "unit_price", "product_price_not_negative"),
        (OrderItemFactory, "unit_price", "orderitem_amounts_not_negative"),
        (OrderItemFactory, "discount_amount", "orderitem_amounts_not_negative"),
        (OrderItemFactory, "line_total", "orderitem_amounts_not_negative"),
        (OrderFactory, "subtotal", "order_amounts_not_negative"),
        (OrderFactory, "tax_amount", "order_amounts_not_negative"),
        (OrderFactory, "discount_amount", "order_amounts_not_negative"),
        (OrderFactory, "total_amount", "order_amounts_not_negative"),
    ],
)
def test_negative_price_or_amount_is_refused(factory, field, constraint):
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        factory(**{field: Decimal("-0.01")})


def test_free_product_is_accepted():
    product = ProductFactory(unit_price=Decimal("0.00"))

    product.refresh_from_db()
    assert product.unit_price == Decimal("0.00")


def test_second_tax_rate_for_one_state_is_refused():
    TaxRateFactory(country="US", state="CA")

    with pytest.raises(IntegrityError, match="taxrate_unique_state"), transaction.atomic():
        TaxRateFactory(country="US", state="CA", rate=Decimal("0.0800"))


def test_same_state_code_in_another_country_is_accepted():
    TaxRateFactory(country="US", state="NS")
    TaxRateFactory(country="CA", state="NS", rate=Decimal("0.1500"))


@pytest.mark.parametrize("rate", [Decimal("-0.0001"), Decimal("1"), Decimal("7.25")])
def test_tax_rate_outside_0_to_1_is_refused(rate):
    with pytest.raises(IntegrityError, match="taxrate_between_0_and_1"), transaction.atomic():
        TaxRateFactory(rate=rate)


@pytest.mark.parametrize("rate", [Decimal("0"), Decimal("0.0725"), Decimal("0.9999")])
def test_tax_rate_within_0_to_1_is_accepted(rate):
    tax_rate = TaxRateFactory(rate=rate)

    tax_rate.refresh_from_db()
    assert tax_rate.rate == rate


def test_second_payment_with_the_same_idempotency_key_is_refused():
    first = PaymentFactory()

    with pytest.raises(IntegrityError, match="idempotency_key"), transaction.atomic():
        PaymentFactory(order=first.order, idempotency_key=first.idempotency_key)


def test_payments_with_distinct_idempotency_keys_are_accepted():
    first = PaymentFactory()

    PaymentFactory(order=first.order)

    assert first.order.payments.count() == 2


@pytest.mark.parametrize("amount", [Decimal("0"), Decimal("-10.00")])
def test_payment_of_zero_or_less_is_refused(amount):
    with pytest.raises(IntegrityError, match="payment_amount_positive"), transaction.atomic():
        PaymentFactory(amount=amount)


def test_payment_of_one_cent_is_accepted():
    payment = PaymentFactory(amount=Decimal("0.01"))

    payment.refresh_from_db()
    assert payment.amount == Decimal("0.01")
