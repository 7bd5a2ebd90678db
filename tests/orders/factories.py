from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from apps.orders.models import (
    HardwareShipment,
    Order,
    OrderItem,
    Payment,
    Product,
    SagaStep,
    TaxRate,
)
from apps.orders.models.catalog import BillingPeriod, ItemType, PricingUnit
from tests.merchants.factories import MerchantFactory

US_STATES = ["CA", "NY", "TX", "WA", "IL", "FL", "MA", "CO", "GA", "OR"]


class ProductFactory(DjangoModelFactory):
    """A monthly software licence per location; the `hardware` trait makes hardware."""

    class Meta:
        model = Product

    class Params:
        hardware = factory.Trait(
            sku=factory.Sequence(lambda n: f"HW-TERMINAL-{n:04d}"),
            name="Card terminal",
            item_type=ItemType.HARDWARE,
            pricing_unit=PricingUnit.PER_UNIT,
            billing_period=BillingPeriod.ONE_TIME,
            unit_price=Decimal("299.00"),
        )

    sku = factory.Sequence(lambda n: f"SW-RETAIL-{n:04d}")
    name = "X-Series Retail licence"
    description = factory.Faker("sentence")
    item_type = ItemType.SOFTWARE_LICENSE
    pricing_unit = PricingUnit.PER_LOCATION
    billing_period = BillingPeriod.MONTHLY
    unit_price = Decimal("89.00")


class TaxRateFactory(DjangoModelFactory):
    class Meta:
        model = TaxRate

    country = "US"
    state = factory.Iterator(US_STATES)
    rate = Decimal("0.0725")


class OrderFactory(DjangoModelFactory):
    """A draft order with no items and zero amounts."""

    class Meta:
        model = Order

    merchant = factory.SubFactory(MerchantFactory)
    lead = factory.SelfAttribute("merchant.lead")
    order_number = factory.Sequence(lambda n: f"ORD-{n + 1:06d}")
    billing_address_line1 = factory.SelfAttribute("merchant.registered_address_line1")
    billing_city = factory.SelfAttribute("merchant.registered_city")
    billing_state = factory.SelfAttribute("merchant.registered_state")
    billing_postal_code = factory.SelfAttribute("merchant.registered_postal_code")
    billing_country = "US"


class OrderItemFactory(DjangoModelFactory):
    """One unit of a product, its name, SKU and price copied onto the line."""

    class Meta:
        model = OrderItem

    order = factory.SubFactory(OrderFactory)
    product = factory.SubFactory(ProductFactory)
    item_type = factory.SelfAttribute("product.item_type")
    product_sku = factory.SelfAttribute("product.sku")
    product_name = factory.SelfAttribute("product.name")
    quantity = 1
    unit_price = factory.SelfAttribute("product.unit_price")
    line_total = factory.LazyAttribute(lambda o: o.quantity * o.unit_price - o.discount_amount)
    discount_amount = Decimal("0.00")


class PaymentFactory(DjangoModelFactory):
    """A pending card payment."""

    class Meta:
        model = Payment

    order = factory.SubFactory(OrderFactory)
    amount = Decimal("1299.00")
    idempotency_key = factory.Faker("uuid4")
    payment_method = "card"


class HardwareShipmentFactory(DjangoModelFactory):
    """A pending shipment to the merchant's registered address."""

    class Meta:
        model = HardwareShipment

    order = factory.SubFactory(OrderFactory)
    merchant = factory.SelfAttribute("order.merchant")
    ship_to_name = factory.SelfAttribute("merchant.legal_business_name")
    ship_to_address_line1 = factory.SelfAttribute("merchant.registered_address_line1")
    ship_to_city = factory.SelfAttribute("merchant.registered_city")
    ship_to_state = factory.SelfAttribute("merchant.registered_state")
    ship_to_postal_code = factory.SelfAttribute("merchant.registered_postal_code")
    shipping_carrier = "UPS"
    shipping_method = "ground"


class SagaStepFactory(DjangoModelFactory):
    """A pending step of an order's purchase saga."""

    class Meta:
        model = SagaStep

    order = factory.SubFactory(OrderFactory)
    name = factory.Sequence(lambda n: f"step_{n}")
