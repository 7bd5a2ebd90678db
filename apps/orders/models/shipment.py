"""A hardware shipment of an order, one per shipment the supplier announces, moved by the
carrier's tracking (pending → processing → shipped → in transit → delivered, or failed
delivery, returned, cancelled)."""

from django.db import models
from django.utils import timezone
from django_fsm import FSMField, transition
from simple_history.models import HistoricalRecords

from apps.core.models import BaseModel, StateMachineMixin, choices_check
from apps.orders.models.order import Order


class ShipmentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    SHIPPED = "shipped", "Shipped"
    IN_TRANSIT = "in_transit", "In transit"
    DELIVERED = "delivered", "Delivered"
    FAILED_DELIVERY = "failed_delivery", "Delivery failed"
    RETURNED = "returned", "Returned"
    CANCELLED = "cancelled", "Cancelled"


class HardwareShipment(StateMachineMixin, BaseModel):
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
