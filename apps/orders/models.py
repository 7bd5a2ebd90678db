from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, transition
from simple_history.models import HistoricalRecords

from apps.core.fsm import guard
from apps.core.models import BaseModel, choices_check

ZERO = Decimal("0.00")


class ItemType(models.TextChoices):
    SOFTWARE_LICENSE = "software_license", "Software licence"
    HARDWARE = "hardware", "Hardware"
    SERVICE = "service", "Service"
    ADD_ON = "add_on", "Add-on"


class PricingUnit(models.TextChoices):
    PER_LOCATION = "per_location", "per location"
    PER_REGISTER = "per_register", "per register"
    PER_UNIT = "per_unit", "each"
    FLAT = "flat", "flat fee"


class BillingPeriod(models.TextChoices):
    MONTHLY = "monthly", "Monthly"
    ONE_TIME = "one_time", "One-time"


class Product(BaseModel):
    """The catalog: software tiers, licences, hardware and services (seeded)."""

    sku = models.CharField("SKU", max_length=100, unique=True)
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    item_type = models.CharField(max_length=50, choices=ItemType.choices)
    pricing_unit = models.CharField(max_length=50, choices=PricingUnit.choices)
    billing_period = models.CharField(
        max_length=20, choices=BillingPeriod.choices, default=BillingPeriod.ONE_TIME
    )
    unit_price = models.DecimalField(max_digits=15, decimal_places=2)
    is_active = models.BooleanField(default=True)
    display_order = models.PositiveIntegerField(default=0)

    history = HistoricalRecords()

    class Meta:
        ordering = ["item_type", "display_order", "name"]
        constraints = [
            choices_check("item_type", ItemType, name="product_valid_item_type"),
            choices_check("pricing_unit", PricingUnit, name="product_valid_pricing_unit"),
            models.CheckConstraint(
                condition=models.Q(unit_price__gte=0), name="product_price_not_negative"
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.sku})"


class TaxRate(BaseModel):
    """Sales tax per state (seeded); the quote applies the billing state's rate."""

    country = models.CharField(max_length=2, default="US")
    state = models.CharField(max_length=50)
    rate = models.DecimalField(max_digits=7, decimal_places=5, help_text="0.06875 for 6.875 %")

    history = HistoricalRecords()

    class Meta:
        ordering = ["country", "state"]
        constraints = [
            models.UniqueConstraint(fields=["country", "state"], name="taxrate_unique_state"),
            models.CheckConstraint(
                condition=models.Q(rate__gte=0, rate__lt=1), name="taxrate_between_0_and_1"
            ),
        ]

    def __str__(self):
        return f"{self.country}-{self.state}: {self.rate:%}"


class OrderStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    QUOTE_GENERATED = "quote_generated", "Quote generated"
    PAYMENT_PENDING = "payment_pending", "Awaiting payment"
    PAID = "paid", "Paid"
    HARDWARE_ORDERED = "hardware_ordered", "Hardware ordered"
    SHIPPED = "shipped", "Shipped"
    DELIVERED = "delivered", "Delivered"
    ACTIVATED = "activated", "Activated"
    CANCELLED = "cancelled", "Cancelled"
    REFUNDED = "refunded", "Refunded"


class OrderPaymentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    AUTHORIZED = "authorized", "Authorized"
    CAPTURED = "captured", "Captured"
    FAILED = "failed", "Failed"
    REFUNDED = "refunded", "Refunded"
    CANCELLED = "cancelled", "Cancelled"


class FulfillmentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    PARTIALLY_FULFILLED = "partially_fulfilled", "Partially fulfilled"
    FULFILLED = "fulfilled", "Fulfilled"
    CANCELLED = "cancelled", "Cancelled"


class OrderType(models.TextChoices):
    INITIAL = "initial", "Initial"
    UPGRADE = "upgrade", "Upgrade"
    RENEWAL = "renewal", "Renewal"


PAID_AND_LATER = [
    OrderStatus.PAID,
    OrderStatus.HARDWARE_ORDERED,
    OrderStatus.SHIPPED,
    OrderStatus.DELIVERED,
    OrderStatus.ACTIVATED,
]


@guard("Add at least one item before generating a quote.")
def _has_items(order):
    return order.items.exists()


@guard("Business verification (KYB) must be approved before an order with hardware can be paid.")
def _kyb_allows_hardware(order):
    return not order.has_hardware() or order.merchant.kyb_status == "approved"


@guard("This order has hardware: it is activated after the hardware is delivered.")
def _no_hardware(order):
    return not order.has_hardware()


@guard("This order has no hardware to order.")
def _has_hardware(order):
    return order.has_hardware()


class Order(ConcurrentTransitionMixin, BaseModel):
    """What the merchant buys (steps 4-6). Money moving is a Payment; this is the intent."""

    merchant = models.ForeignKey(
        "merchants.Merchant", on_delete=models.PROTECT, related_name="orders"
    )
    lead = models.ForeignKey(
        "leads.Lead", on_delete=models.SET_NULL, null=True, blank=True, related_name="orders"
    )
    billing_invoice_id = models.CharField(max_length=255, blank=True)
    order_number = models.CharField(max_length=50, unique=True)
    order_type = models.CharField(
        max_length=50, choices=OrderType.choices, default=OrderType.INITIAL
    )

    subtotal = models.DecimalField(max_digits=15, decimal_places=2, default=ZERO)
    tax_amount = models.DecimalField(max_digits=15, decimal_places=2, default=ZERO)
    discount_amount = models.DecimalField(max_digits=15, decimal_places=2, default=ZERO)
    total_amount = models.DecimalField(max_digits=15, decimal_places=2, default=ZERO)
    currency = models.CharField(max_length=3, default="USD")

    status = FSMField(
        max_length=50, choices=OrderStatus.choices, default=OrderStatus.DRAFT, protected=True
    )
    payment_status = FSMField(
        max_length=50,
        choices=OrderPaymentStatus.choices,
        default=OrderPaymentStatus.PENDING,
        protected=True,
        help_text="Mirror of the latest Payment's status.",
    )
    payment_method = models.CharField(max_length=50, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    payment_reference = models.CharField(max_length=255, blank=True)
    fulfillment_status = FSMField(
        max_length=50,
        choices=FulfillmentStatus.choices,
        default=FulfillmentStatus.PENDING,
        protected=True,
        help_text="Mirror of the items' and shipments' progress.",
    )

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="orders_created",
        help_text="The AE who built the quote, if not the merchant.",
    )
    is_self_serve = models.BooleanField(default=True)
    quote_sent_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    status_reason = models.TextField(blank=True, help_text="Why it was cancelled or refunded.")

    billing_address_line1 = models.CharField(max_length=255, blank=True)
    billing_address_line2 = models.CharField(max_length=255, blank=True)
    billing_city = models.CharField(max_length=100, blank=True)
    billing_state = models.CharField(max_length=50, blank=True)
    billing_postal_code = models.CharField(max_length=20, blank=True)
    billing_country = models.CharField(max_length=2, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            choices_check("status", OrderStatus, name="order_valid_status"),
            choices_check("payment_status", OrderPaymentStatus, name="order_valid_payment_status"),
            choices_check(
                "fulfillment_status", FulfillmentStatus, name="order_valid_fulfillment_status"
            ),
            models.CheckConstraint(
                condition=models.Q(
                    subtotal__gte=0, tax_amount__gte=0, discount_amount__gte=0, total_amount__gte=0
                ),
                name="order_amounts_not_negative",
            ),
        ]
        indexes = [
            models.Index(fields=["payment_status"], name="order_payment_status"),
            models.Index(fields=["status"], name="order_status"),
        ]

    def __str__(self):
        return self.order_number

    def has_hardware(self) -> bool:
        return self.items.filter(item_type=ItemType.HARDWARE).exists()

    @transition(
        field=status,
        source=OrderStatus.DRAFT,
        target=OrderStatus.QUOTE_GENERATED,
        conditions=[_has_items],
        custom={"label": "generate a quote"},
    )
    def generate_quote(self):
        self.quote_sent_at = timezone.now()

    @transition(
        field=status,
        source=OrderStatus.QUOTE_GENERATED,
        target=OrderStatus.PAYMENT_PENDING,
        conditions=[_kyb_allows_hardware],
        custom={"label": "go to payment"},
    )
    def request_payment(self):
        """Quote accepted; the KYB gate holds here (rule 1)."""

    @transition(
        field=status,
        source=OrderStatus.PAYMENT_PENDING,
        target=OrderStatus.PAID,
        custom={"label": "mark paid"},
    )
    def mark_paid(self, reference: str = ""):
        self.paid_at = timezone.now()
        self.payment_reference = reference

    @transition(
        field=status,
        source=OrderStatus.PAID,
        target=OrderStatus.HARDWARE_ORDERED,
        conditions=[_has_hardware],
        custom={"label": "order hardware"},
    )
    def mark_hardware_ordered(self):
        """The hardware order was placed with the supplier."""

    @transition(
        field=status,
        source=OrderStatus.HARDWARE_ORDERED,
        target=OrderStatus.SHIPPED,
        custom={"label": "mark shipped"},
    )
    def mark_shipped(self):
        """The first shipment left the warehouse."""

    @transition(
        field=status,
        source=OrderStatus.SHIPPED,
        target=OrderStatus.DELIVERED,
        custom={"label": "mark delivered"},
    )
    def mark_delivered(self):
        """Every shipment was delivered."""

    @transition(
        field=status,
        source=OrderStatus.DELIVERED,
        target=OrderStatus.ACTIVATED,
        custom={"label": "activate"},
    )
    def activate(self):
        """Provisioned and delivered: the merchant can use it."""

    @transition(
        field=status,
        source=OrderStatus.PAID,
        target=OrderStatus.ACTIVATED,
        conditions=[_no_hardware],
        custom={"label": "activate"},
    )
    def activate_software_only(self):
        """No hardware: active as soon as provisioning is done."""

    @transition(
        field=status,
        source=[OrderStatus.DRAFT, OrderStatus.QUOTE_GENERATED, OrderStatus.PAYMENT_PENDING],
        target=OrderStatus.CANCELLED,
        custom={"label": "cancel"},
    )
    def cancel(self, reason: str = ""):
        self.cancelled_at = timezone.now()
        self.status_reason = reason

    @transition(
        field=status,
        source=PAID_AND_LATER,
        target=OrderStatus.REFUNDED,
        custom={"label": "refund"},
    )
    def refund(self, reason: str = ""):
        self.refunded_at = timezone.now()
        self.status_reason = reason

    @transition(
        field=payment_status,
        source="*",
        target=RETURN_VALUE(*OrderPaymentStatus.values),
        custom={"label": "update the payment status"},
    )
    def mirror_payment_status(self, value: str):
        return value

    @transition(
        field=fulfillment_status,
        source="*",
        target=RETURN_VALUE(*FulfillmentStatus.values),
        custom={"label": "update the fulfilment status"},
    )
    def mirror_fulfillment_status(self, value: str):
        return value


class ItemFulfillmentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    FULFILLED = "fulfilled", "Fulfilled"
    CANCELLED = "cancelled", "Cancelled"


class OrderItem(ConcurrentTransitionMixin, BaseModel):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, null=True, blank=True, related_name="order_items"
    )
    location = models.ForeignKey(
        "merchants.MerchantLocation",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        help_text="For hardware: the location it ships to.",
    )
    item_type = models.CharField(max_length=50, choices=ItemType.choices)
    product_sku = models.CharField(max_length=100)
    product_name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    quantity = models.PositiveIntegerField(default=1)
    unit_price = models.DecimalField(max_digits=15, decimal_places=2)
    discount_amount = models.DecimalField(max_digits=15, decimal_places=2, default=ZERO)
    line_total = models.DecimalField(max_digits=15, decimal_places=2)
    fulfillment_status = FSMField(
        max_length=50,
        choices=ItemFulfillmentStatus.choices,
        default=ItemFulfillmentStatus.PENDING,
        protected=True,
    )
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    x_series_license_id = models.CharField(max_length=255, blank=True)
    hardware_order_item_id = models.CharField(max_length=255, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["order", "item_type", "product_name"]
        constraints = [
            choices_check("item_type", ItemType, name="orderitem_valid_item_type"),
            choices_check(
                "fulfillment_status",
                ItemFulfillmentStatus,
                name="orderitem_valid_fulfillment_status",
            ),
            models.CheckConstraint(
                condition=models.Q(quantity__gte=1), name="orderitem_quantity_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(unit_price__gte=0, discount_amount__gte=0, line_total__gte=0),
                name="orderitem_amounts_not_negative",
            ),
        ]
        indexes = [models.Index(fields=["item_type"], name="orderitem_type")]

    def __str__(self):
        return f"{self.quantity} × {self.product_name}"

    @transition(
        field=fulfillment_status,
        source=ItemFulfillmentStatus.PENDING,
        target=ItemFulfillmentStatus.FULFILLED,
        custom={"label": "mark fulfilled"},
    )
    def fulfill(self):
        self.fulfilled_at = timezone.now()

    @transition(
        field=fulfillment_status,
        source=ItemFulfillmentStatus.PENDING,
        target=ItemFulfillmentStatus.CANCELLED,
        custom={"label": "cancel"},
    )
    def cancel(self):
        """Not delivered (order cancelled or refunded)."""


class PaymentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    AUTHORIZED = "authorized", "Authorized"
    CAPTURED = "captured", "Captured"
    FAILED = "failed", "Failed"
    REFUNDED = "refunded", "Refunded"


class Payment(ConcurrentTransitionMixin, BaseModel):
    """Money moving for an order through the billing provider."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(max_digits=15, decimal_places=2)
    currency = models.CharField(max_length=3, default="USD")
    idempotency_key = models.CharField(max_length=100, unique=True)
    provider_reference = models.CharField(max_length=255, blank=True)
    payment_method = models.CharField(max_length=50, blank=True)
    status = FSMField(
        max_length=50, choices=PaymentStatus.choices, default=PaymentStatus.PENDING, protected=True
    )
    authorized_at = models.DateTimeField(null=True, blank=True)
    captured_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    failure_reason = models.TextField(blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    refund_reference = models.CharField(max_length=255, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            choices_check("status", PaymentStatus, name="payment_valid_status"),
            models.CheckConstraint(
                condition=models.Q(amount__gt=0), name="payment_amount_positive"
            ),
        ]

    def __str__(self):
        return f"{self.order} · {self.amount} {self.currency} · {self.status}"

    @transition(
        field=status,
        source=PaymentStatus.PENDING,
        target=PaymentStatus.AUTHORIZED,
        custom={"label": "authorize"},
    )
    def authorize(self, reference: str = ""):
        self.authorized_at = timezone.now()
        self.provider_reference = reference or self.provider_reference

    @transition(
        field=status,
        source=PaymentStatus.AUTHORIZED,
        target=PaymentStatus.CAPTURED,
        custom={"label": "capture"},
    )
    def capture(self):
        self.captured_at = timezone.now()

    @transition(
        field=status,
        source=[PaymentStatus.PENDING, PaymentStatus.AUTHORIZED],
        target=PaymentStatus.FAILED,
        custom={"label": "mark failed"},
    )
    def fail(self, reason: str = ""):
        self.failed_at = timezone.now()
        self.failure_reason = reason

    @transition(
        field=status,
        source=PaymentStatus.CAPTURED,
        target=PaymentStatus.REFUNDED,
        custom={"label": "refund"},
    )
    def refund(self, reference: str = ""):
        self.refunded_at = timezone.now()
        self.refund_reference = reference


class ShipmentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    SHIPPED = "shipped", "Shipped"
    IN_TRANSIT = "in_transit", "In transit"
    DELIVERED = "delivered", "Delivered"
    FAILED_DELIVERY = "failed_delivery", "Delivery failed"
    RETURNED = "returned", "Returned"
    CANCELLED = "cancelled", "Cancelled"


class HardwareShipment(ConcurrentTransitionMixin, BaseModel):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="shipments")
    merchant = models.ForeignKey(
        "merchants.Merchant", on_delete=models.PROTECT, related_name="shipments"
    )
    location = models.ForeignKey(
        "merchants.MerchantLocation", on_delete=models.SET_NULL, null=True, blank=True
    )
    shipping_provider_id = models.CharField(max_length=255, blank=True)
    tracking_number = models.CharField(max_length=255, blank=True, db_index=True)
    ship_to_name = models.CharField(max_length=255)
    ship_to_address_line1 = models.CharField(max_length=255)
    ship_to_address_line2 = models.CharField(max_length=255, blank=True)
    ship_to_city = models.CharField(max_length=100)
    ship_to_state = models.CharField(max_length=50)
    ship_to_postal_code = models.CharField(max_length=20)
    ship_to_country = models.CharField(max_length=2, default="US")
    ship_to_phone = models.CharField(max_length=50, blank=True)
    shipping_carrier = models.CharField(max_length=100, blank=True)
    shipping_method = models.CharField(max_length=100, blank=True)
    estimated_delivery_date = models.DateField(null=True, blank=True)
    actual_delivery_date = models.DateField(null=True, blank=True)
    shipment_status = FSMField(
        max_length=50,
        choices=ShipmentStatus.choices,
        default=ShipmentStatus.PENDING,
        protected=True,
    )
    shipped_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    failure_reason = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            choices_check("shipment_status", ShipmentStatus, name="shipment_valid_status"),
        ]
        indexes = [models.Index(fields=["shipment_status"], name="shipment_status")]

    def __str__(self):
        return f"{self.order} · {self.tracking_number or 'no tracking yet'}"

    @transition(
        field=shipment_status,
        source=ShipmentStatus.PENDING,
        target=ShipmentStatus.PROCESSING,
        custom={"label": "start processing"},
    )
    def process(self):
        """The supplier is picking and packing."""

    @transition(
        field=shipment_status,
        source=ShipmentStatus.PROCESSING,
        target=ShipmentStatus.SHIPPED,
        custom={"label": "mark shipped"},
    )
    def ship(self, tracking_number: str = "", carrier: str = ""):
        self.shipped_at = timezone.now()
        self.tracking_number = tracking_number or self.tracking_number
        self.shipping_carrier = carrier or self.shipping_carrier

    @transition(
        field=shipment_status,
        source=[ShipmentStatus.SHIPPED, ShipmentStatus.FAILED_DELIVERY],
        target=ShipmentStatus.IN_TRANSIT,
        custom={"label": "mark in transit"},
    )
    def mark_in_transit(self):
        """Scanned by the carrier (again, after a failed attempt)."""

    @transition(
        field=shipment_status,
        source=[ShipmentStatus.SHIPPED, ShipmentStatus.IN_TRANSIT],
        target=ShipmentStatus.DELIVERED,
        custom={"label": "mark delivered"},
    )
    def deliver(self):
        now = timezone.now()
        self.delivered_at = now
        self.actual_delivery_date = now.date()

    @transition(
        field=shipment_status,
        source=[ShipmentStatus.SHIPPED, ShipmentStatus.IN_TRANSIT],
        target=ShipmentStatus.FAILED_DELIVERY,
        custom={"label": "mark delivery failed"},
    )
    def fail_delivery(self, reason: str = ""):
        self.failure_reason = reason

    @transition(
        field=shipment_status,
        source=[ShipmentStatus.FAILED_DELIVERY, ShipmentStatus.DELIVERED],
        target=ShipmentStatus.RETURNED,
        custom={"label": "mark returned"},
    )
    def mark_returned(self):
        """Back at the warehouse."""

    @transition(
        field=shipment_status,
        source=[ShipmentStatus.PENDING, ShipmentStatus.PROCESSING],
        target=ShipmentStatus.CANCELLED,
        custom={"label": "cancel"},
    )
    def cancel(self):
        """Not sent (order refunded before it left)."""


class SagaStepStatus(models.TextChoices):
    PENDING = "pending", "Waiting"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    COMPENSATED = "compensated", "Undone"


class SagaStep(ConcurrentTransitionMixin, BaseModel):
    """One step of an order's purchase-and-provision saga (apps.orders.saga): what ran, how
    often, what it returned and how it ended. A done step is never run again, so the saga
    resumes after a crash from the first step that is not done."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="saga_steps")
    name = models.CharField(max_length=50)
    position = models.PositiveSmallIntegerField(default=0, help_text="Order of display.")
    status = FSMField(
        max_length=20,
        choices=SagaStepStatus.choices,
        default=SagaStepStatus.PENDING,
        protected=True,
    )
    attempts = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    next_retry_at = models.DateTimeField(
        null=True, blank=True, help_text="Set while a failed attempt waits for its retry."
    )
    error = models.TextField(blank=True)
    result = models.JSONField(default=dict, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["order", "position", "created_at"]
        constraints = [
            choices_check("status", SagaStepStatus, name="sagastep_valid_status"),
            models.UniqueConstraint(fields=["order", "name"], name="sagastep_once_per_order"),
        ]
        indexes = [models.Index(fields=["status"], name="sagastep_status")]

    def __str__(self):
        return f"{self.order} · {self.name} · {self.status}"

    @property
    def waiting_for_retry(self) -> bool:
        return self.status == SagaStepStatus.FAILED and self.next_retry_at is not None

    @transition(
        field=status,
        # From running again: the worker that ran it died, and the saga resumes it.
        source=[SagaStepStatus.PENDING, SagaStepStatus.FAILED, SagaStepStatus.RUNNING],
        target=SagaStepStatus.RUNNING,
        custom={"label": "run"},
    )
    def start(self):
        self.attempts += 1
        self.started_at = timezone.now()
        self.finished_at = None
        self.next_retry_at = None
        self.error = ""

    @transition(
        field=status,
        source=SagaStepStatus.RUNNING,
        target=SagaStepStatus.DONE,
        custom={"label": "mark done"},
    )
    def succeed(self, result: dict | None = None):
        self.finished_at = timezone.now()
        self.result = result or {}
        self.error = ""

    @transition(
        field=status,
        source=SagaStepStatus.RUNNING,
        target=SagaStepStatus.FAILED,
        custom={"label": "mark failed"},
    )
    def fail(self, error: str = "", next_retry_at=None):
        self.finished_at = timezone.now()
        self.error = error
        self.next_retry_at = next_retry_at

    @transition(
        field=status,
        source=[
            SagaStepStatus.PENDING,
            SagaStepStatus.RUNNING,
            SagaStepStatus.DONE,
            SagaStepStatus.FAILED,
        ],
        target=SagaStepStatus.COMPENSATED,
        custom={"label": "undo"},
    )
    def compensate(self, note: str = ""):
        """Its effect was undone (or it will never run) because the saga is compensating."""
        self.finished_at = timezone.now()
        self.next_retry_at = None
        if note:
            self.result = {**(self.result or {}), "compensation": note}
