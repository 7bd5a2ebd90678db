"""Read queries for the order pages and services. Lists select their related rows up front
and have an explicit order, so a page costs the same number of queries for 3 rows or 300."""

from decimal import Decimal

from django.db.models import Prefetch, Q, QuerySet

from apps.orders import pricing
from apps.orders.models import (
    HardwareShipment,
    Order,
    OrderItem,
    Payment,
    Product,
    SagaStep,
    TaxRate,
)
from apps.orders.models.catalog import ItemType
from apps.orders.models.order import OrderStatus
from apps.orders.models.shipment import ShipmentStatus

KYB_STEP = 3
SOFTWARE_STEP = 4
HARDWARE_STEP = 5
PAYMENT_STEP = 6
REGISTERED_ADDRESS = "registered"

# What the merchant still has to do with an order, per status.
OPEN_QUOTE_STATUSES = [OrderStatus.DRAFT, OrderStatus.QUOTE_GENERATED, OrderStatus.PAYMENT_PENDING]
# Shipments the carrier is still moving: the order page keeps polling for them.
SHIPMENT_MOVING_STATUSES = [
    ShipmentStatus.PENDING,
    ShipmentStatus.PROCESSING,
    ShipmentStatus.SHIPPED,
    ShipmentStatus.IN_TRANSIT,
]


# --- Catalog and tax ------------------------------------------------------------------------


def product_catalog() -> dict[str, pricing.CatalogEntry]:
    """Active products by SKU, in display order (the order the quote lists them)."""
    products = Product.objects.filter(is_active=True).order_by(
        "item_type", "display_order", "name"
    )
    return {
        product.sku: pricing.CatalogEntry(
            sku=product.sku,
            name=product.name,
            item_type=product.item_type,
            pricing_unit=product.pricing_unit,
            billing_period=product.billing_period,
            unit_price=product.unit_price,
        )
        for product in products
    }


def product_by_sku(skus) -> dict[str, Product]:
    return {product.sku: product for product in Product.objects.filter(sku__in=list(skus))}


def tax_rate_get(*, state: str, country: str = "US") -> Decimal | None:
    """The seeded sales tax rate of `state`, or None when we have none."""
    state = (state or "").strip().upper()
    if not state:
        return None
    return (
        TaxRate.objects.filter(country=country or "US", state=state)
        .values_list("rate", flat=True)
        .first()
    )


def tax_state_choices(country: str = "US") -> list[tuple[str, str]]:
    states = TaxRate.objects.filter(country=country).order_by("state")
    return [(state, state) for state in states.values_list("state", flat=True)]


# --- Journey ----------------------------------------------------------------------------------


def step_status(*, merchant, step_id: int) -> str | None:
    """The merchant's progress status on one journey step, or None without a progress row."""
    from apps.progress.models import MerchantStepProgress

    return (
        MerchantStepProgress.objects.filter(merchant=merchant, step_id=step_id)
        .values_list("status", flat=True)
        .first()
    )


def quote_step_startable(*, merchant) -> bool:
    """Step 4 can start: its dependency, KYB (step 3), is completed (or skipped)."""
    from apps.progress.models import DONE_STEP_STATUSES

    return step_status(merchant=merchant, step_id=KYB_STEP) in DONE_STEP_STATUSES


def ship_to_choices(*, merchant) -> list[tuple[str, str]]:
    """Where hardware can ship: each location (key = its id), or the registered address when
    the business has no location yet."""
    locations = list(merchant.locations.order_by("location_number"))
    if locations:
        return [(str(location.pk), _location_label(location)) for location in locations]
    address = ", ".join(
        part
        for part in (merchant.registered_address_line1, merchant.registered_city)
        if part
    )
    return [(REGISTERED_ADDRESS, f"Registered address ({address or 'not entered yet'})")]


def _location_label(location) -> str:
    name = location.location_name or f"Location {location.location_number}"
    return f"{name} — {location.address_line1}, {location.city}"


# --- Orders -----------------------------------------------------------------------------------

# Every state field is among them: a model with state machines reads them all when loaded.
_ORDER_LIST_FIELDS = (
    "id",
    "order_number",
    "status",
    "payment_status",
    "fulfillment_status",
    "total_amount",
    "currency",
    "is_self_serve",
    "created_at",
    "paid_at",
    "quote_sent_at",
    "merchant_id",
    "created_by_id",
)


def order_list_for_merchant(*, merchant) -> QuerySet[Order]:
    """The merchant's orders, newest first (one query)."""
    return (
        Order.objects.filter(merchant=merchant)
        .only(*_ORDER_LIST_FIELDS)
        .order_by("-created_at", "-order_number")
    )


def open_orders_for_merchant(*, merchant) -> QuerySet[Order]:
    """Quotes waiting for the merchant: to accept (theirs or their AE's) or to pay."""
    return (
        Order.objects.filter(
            merchant=merchant,
            status__in=[OrderStatus.QUOTE_GENERATED, OrderStatus.PAYMENT_PENDING],
        )
        .select_related("created_by")
        .order_by("-created_at")
    )


def order_list_for_staff(*, search: str = "", status: str = "") -> QuerySet[Order]:
    """Every order for the AE pages, newest first, with its merchant and author (one query)."""
    # No .only() here: models with state machines read every state field when loaded.
    orders = Order.objects.select_related("merchant", "created_by")
    if status:
        orders = orders.filter(status=status)
    search = search.strip()
    if search:
        orders = orders.filter(
            Q(order_number__icontains=search)
            | Q(merchant__legal_business_name__icontains=search)
        )
    return orders.order_by("-created_at", "-order_number")


def order_detail_queryset() -> QuerySet[Order]:
    """An order with everything its page shows, in a fixed number of queries."""
    related = Order.objects.select_related("merchant", "merchant__user", "created_by")
    return related.prefetch_related(
        Prefetch(
            "items",
            queryset=OrderItem.objects.select_related("location", "product").order_by(
                "created_at", "product_name"
            ),
        ),
        Prefetch("payments", queryset=Payment.objects.order_by("-created_at")),
        Prefetch(
            "shipments",
            queryset=HardwareShipment.objects.select_related("location").order_by("created_at"),
        ),
        Prefetch("saga_steps", queryset=SagaStep.objects.order_by("position", "created_at")),
    )


def order_get_for_staff(*, order_number: str) -> Order | None:
    return order_detail_queryset().filter(order_number=order_number).first()


def merchant_search_for_quotes(*, search: str, limit: int = 20):
    """Merchants an AE may build a quote for, matching `search` (name or email)."""
    from apps.merchants.models import Merchant

    search = search.strip()
    if not search:
        return Merchant.objects.none()
    return (
        Merchant.objects.filter(
            Q(legal_business_name__icontains=search) | Q(lead__email__icontains=search)
        )
        .select_related("lead")
        .order_by("legal_business_name", "id")[:limit]
    )


# --- Order facts used by pages and services ---------------------------------------------------


def order_has_hardware(order: Order) -> bool:
    """Uses the prefetched items when the page loaded them."""
    if "items" in getattr(order, "_prefetched_objects_cache", {}):
        return any(item.item_type == ItemType.HARDWARE for item in order.items.all())
    return order.has_hardware()


def order_needs_kyb(order: Order) -> bool:
    """The KYB gate (rule 1) holds this order: it has hardware and KYB is not approved."""
    from apps.merchants.choices import CheckStatus

    return order_has_hardware(order) and order.merchant.kyb_status != CheckStatus.APPROVED


def order_in_progress(order: Order) -> bool:
    """Something is still moving on its own (saga steps, shipments): the page polls."""
    if order.status in (OrderStatus.CANCELLED, OrderStatus.DRAFT, OrderStatus.QUOTE_GENERATED):
        return False
    if order.status == OrderStatus.PAYMENT_PENDING:
        return any(p.status in ("pending", "authorized") for p in order.payments.all())
    steps = list(order.saga_steps.all())
    if any(step.status in ("pending", "running") or step.waiting_for_retry for step in steps):
        return True
    if order.status == OrderStatus.REFUNDED:
        return False
    return any(s.shipment_status in SHIPMENT_MOVING_STATUSES for s in order.shipments.all())


def tracking_reports(*, shipment_ref: str) -> list[dict]:
    """The hardware provider's stored `shipment.status` reports for one shipment (the data
    of each webhook in the inbox, forged ones excluded), oldest first."""
    from apps.integrations.models import WebhookEvent, WebhookStatus

    if not shipment_ref:
        return []
    events = (
        WebhookEvent.objects.filter(
            provider="hardware",
            event_type="shipment.status",
            payload__data__shipment_ref=shipment_ref,
        )
        .exclude(status=WebhookStatus.REJECTED)
        .order_by("received_at", "pk")
    )
    return [
        event.payload["data"]
        for event in events
        if isinstance(event.payload, dict) and isinstance(event.payload.get("data"), dict)
    ]
