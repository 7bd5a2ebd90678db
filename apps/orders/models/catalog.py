"""The catalog the quotes are priced from: products (software tiers, licences, hardware,
services) and the sales tax rate of each state, both seeded. ItemType is the kind of a
product and of an order line."""

from django.db import models
from simple_history.models import HistoricalRecords

from apps.core.models import BaseModel, choices_check


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
