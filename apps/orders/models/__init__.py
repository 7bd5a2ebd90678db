"""The orders app's models, one module per subject; each model's statuses (TextChoices) live
beside it and are imported from there:

    catalog    Product, TaxRate; ItemType, PricingUnit, BillingPeriod
    order      Order, OrderItem; OrderStatus, OrderPaymentStatus, FulfillmentStatus,
               OrderType, ItemFulfillmentStatus, PAID_AND_LATER
    payment    Payment; PaymentStatus
    shipment   HardwareShipment; ShipmentStatus
    saga_step  SagaStep; SagaStepStatus

This module imports the model classes (and nothing else) because Django's app registry and
the "orders.Order" references find them here.
"""

from apps.orders.models.catalog import Product, TaxRate
from apps.orders.models.order import Order, OrderItem
from apps.orders.models.payment import Payment
from apps.orders.models.saga_step import SagaStep
from apps.orders.models.shipment import HardwareShipment

__all__ = ["HardwareShipment", "Order", "OrderItem", "Payment", "Product", "SagaStep", "TaxRate"]
