"""The order (what the merchant buys, steps 4-6) and its lines, with their statuses. Order's
transitions are pure (no save, no I/O): apps.orders.services performs them. PAID_AND_LATER:
the statuses of an order whose money was taken."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone
from django_fsm import RETURN_VALUE, FSMField, transition
from simple_history.models import HistoricalRecords

from apps.core.fsm import guard
from apps.core.models import BaseModel, StateMachineMixin, choices_check
from apps.orders.models.catalog import ItemType, Product

ZERO = Decimal("0.00")


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


class Order(StateMachineMixin, BaseModel):
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
    REFUNDED = "refunded", "Refunded"


class OrderItem(StateMachineMixin, BaseModel):
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

    @transition(
        field=fulfillment_status,
        source=ItemFulfillmentStatus.FULFILLED,
        target=ItemFulfillmentStatus.REFUNDED,
        custom={"label": "refund"},
    )
    def refund(self):
        """Delivered (a licence allocated), then paid back: the purchase was undone."""
