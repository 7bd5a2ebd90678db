from django.contrib import admin

from apps.core.admin import ReadOnlyAdminMixin, ReadOnlyInline, TrackedAdmin, transition_action
from apps.orders.models import HardwareShipment, Order, OrderItem, Payment, Product, TaxRate
from apps.orders.services.transitions import order_cancel, order_refund

ORDER_REASON_HELP = "The merchant is told; kept on the order and in its history."


@admin.register(Product)
class ProductAdmin(TrackedAdmin):
    list_display = (
        "name",
        "sku",
        "item_type",
        "pricing_unit",
        "billing_period",
        "unit_price",
        "is_active",
        "display_order",
    )
    list_filter = ("item_type", "pricing_unit", "billing_period", "is_active")
    search_fields = ("sku", "name")


@admin.register(TaxRate)
class TaxRateAdmin(TrackedAdmin):
    list_display = ("country", "state", "rate")
    list_filter = ("country",)
    search_fields = ("state",)


class OrderItemInline(ReadOnlyInline):
    model = OrderItem
    fields = (
        "product_name",
        "product_sku",
        "item_type",
        "location",
        "quantity",
        "unit_price",
        "discount_amount",
        "line_total",
        "fulfillment_status",
    )

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("location")


class PaymentInline(ReadOnlyInline):
    model = Payment
    fields = (
        "amount",
        "currency",
        "status",
        "payment_method",
        "provider_reference",
        "authorized_at",
        "captured_at",
        "failed_at",
        "refunded_at",
    )


class HardwareShipmentInline(ReadOnlyInline):
    model = HardwareShipment
    fk_name = "order"
    fields = (
        "shipment_status",
        "tracking_number",
        "shipping_carrier",
        "ship_to_name",
        "ship_to_city",
        "estimated_delivery_date",
        "shipped_at",
        "delivered_at",
    )


@admin.register(Order)
class OrderAdmin(TrackedAdmin):
    list_display = (
        "order_number",
        "merchant",
        "order_type",
        "status",
        "payment_status",
        "fulfillment_status",
        "total_amount",
        "currency",
        "is_self_serve",
        "created_by",
        "paid_at",
        "created_at",
    )
    list_filter = (
        "status",
        "payment_status",
        "fulfillment_status",
        "order_type",
        "is_self_serve",
        "merchant__cohort",
        "created_at",
        "paid_at",
    )
    search_fields = (
        "order_number",
        "merchant__legal_business_name",
        "lead__email",
        "billing_invoice_id",
        "payment_reference",
        "shipments__tracking_number",
    )
    list_select_related = ("merchant", "created_by")
    date_hierarchy = "created_at"
    fieldsets = (
        (
            "Order",
            {
                "fields": (
                    "order_number",
                    "order_type",
                    "merchant",
                    "lead",
                    "created_by",
                    "is_self_serve",
                    "quote_sent_at",
                )
            },
        ),
        (
            "Status",
            {
                "fields": (
                    "status",
                    "payment_status",
                    "fulfillment_status",
                    "paid_at",
                    "payment_method",
                    "payment_reference",
                    "cancelled_at",
                    "refunded_at",
                    "status_reason",
                ),
                "description": "Changed by the order's actions and the purchase saga.",
            },
        ),
        (
            "Amounts",
            {
                "fields": (
                    "subtotal",
                    "discount_amount",
                    "tax_amount",
                    "total_amount",
                    "currency",
                    "billing_invoice_id",
                )
            },
        ),
        (
            "Billing address",
            {
                "fields": (
                    "billing_address_line1",
                    "billing_address_line2",
                    "billing_city",
                    "billing_state",
                    "billing_postal_code",
                    "billing_country",
                )
            },
        ),
        ("Record", {"fields": ("created_at", "updated_at")}),
    )
    # Amounts come from the quote and money from the payments: only the billing address is
    # edited by hand.
    readonly_fields = (
        "order_number",
        "order_type",
        "merchant",
        "lead",
        "created_by",
        "is_self_serve",
        "quote_sent_at",
        "paid_at",
        "payment_method",
        "payment_reference",
        "cancelled_at",
        "refunded_at",
        "status_reason",
        "subtotal",
        "discount_amount",
        "tax_amount",
        "total_amount",
        "currency",
        "billing_invoice_id",
    )
    inlines = (OrderItemInline, PaymentInline, HardwareShipmentInline)
    actions = [
        transition_action(
            lambda order, *, actor, reason: order_cancel(order=order, actor=actor, reason=reason),
            "Cancel order…",
            name="cancel",
            needs_reason=True,
            reason_label="Why cancel it",
            reason_help=ORDER_REASON_HELP,
        ),
        transition_action(
            lambda order, *, actor, reason: order_refund(order=order, actor=actor, reason=reason),
            "Refund order…",
            name="refund",
            needs_reason=True,
            reason_label="Why refund it",
            reason_help=ORDER_REASON_HELP,
        ),
    ]

    def has_add_permission(self, request):
        # Orders are built as quotes on the merchant and staff pages (prices, tax, totals).
        return False


@admin.register(OrderItem)
class OrderItemAdmin(TrackedAdmin):
    list_display = (
        "product_name",
        "order",
        "item_type",
        "quantity",
        "unit_price",
        "line_total",
        "fulfillment_status",
        "fulfilled_at",
    )
    list_filter = ("item_type", "fulfillment_status", "fulfilled_at")
    search_fields = (
        "product_sku",
        "product_name",
        "order__order_number",
        "x_series_license_id",
        "hardware_order_item_id",
    )
    list_select_related = ("order",)
    fields = (
        "order",
        "product",
        "location",
        "item_type",
        "product_sku",
        "product_name",
        "description",
        "quantity",
        "unit_price",
        "discount_amount",
        "line_total",
        "fulfillment_status",
        "fulfilled_at",
        "x_series_license_id",
        "hardware_order_item_id",
        "created_at",
        "updated_at",
    )
    # A line's price and quantity make the order's totals: only its description is free text.
    readonly_fields = tuple(name for name in fields if name != "description")

    def has_add_permission(self, request):
        return False


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdminMixin, TrackedAdmin):
    """Money moving through the billing provider: recorded by the saga, never typed in."""

    list_display = (
        "order",
        "amount",
        "currency",
        "status",
        "payment_method",
        "provider_reference",
        "authorized_at",
        "captured_at",
        "created_at",
    )
    list_filter = ("status", "payment_method", "created_at")
    search_fields = (
        "order__order_number",
        "provider_reference",
        "idempotency_key",
        "refund_reference",
    )
    list_select_related = ("order",)
    date_hierarchy = "created_at"


@admin.register(HardwareShipment)
class HardwareShipmentAdmin(TrackedAdmin):
    list_display = (
        "order",
        "merchant",
        "tracking_number",
        "shipping_carrier",
        "shipment_status",
        "estimated_delivery_date",
        "shipped_at",
        "delivered_at",
    )
    list_filter = (
        "shipment_status",
        "shipping_carrier",
        "shipping_method",
        "shipped_at",
        "estimated_delivery_date",
    )
    search_fields = (
        "tracking_number",
        "order__order_number",
        "merchant__legal_business_name",
        "shipping_provider_id",
        "ship_to_name",
    )
    list_select_related = ("order", "merchant")
    date_hierarchy = "created_at"
    readonly_fields = (
        "order",
        "merchant",
        "location",
        "shipping_provider_id",
        "tracking_number",
        "shipping_carrier",
        "shipped_at",
        "delivered_at",
        "actual_delivery_date",
        "failure_reason",
    )

    def has_add_permission(self, request):
        # Shipments are created when the hardware order is placed (purchase saga).
        return False


# --- Purchase saga ----------------------------------------------------------------------------
from apps.orders.models import SagaStep  # noqa: E402


class SagaStepInline(ReadOnlyInline):
    model = SagaStep
    fields = ("name", "status", "attempts", "started_at", "finished_at", "next_retry_at", "error")
    ordering = ("position", "created_at")


OrderAdmin.inlines = (*OrderAdmin.inlines, SagaStepInline)


@admin.register(SagaStep)
class SagaStepAdmin(ReadOnlyAdminMixin, TrackedAdmin):
    """What the purchase saga did for each order: recorded by the saga, never edited by hand
    (re-running the saga resumes it; see apps.orders.saga)."""

    list_display = (
        "order",
        "name",
        "status",
        "attempts",
        "started_at",
        "finished_at",
        "next_retry_at",
    )
    list_filter = ("status", "name", "started_at")
    search_fields = ("order__order_number", "name", "error")
    list_select_related = ("order",)
    date_hierarchy = "created_at"
