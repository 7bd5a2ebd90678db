"""Step 8: the CSV imports (one row per upload, with its outcome) and the products and
customers they brought in."""

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from apps.core.models import BaseModel, choices_check
from apps.merchants.choices import DataImportKind, DataImportStatus
from apps.merchants.models.merchant import Merchant


class DataImport(BaseModel):
    """One CSV upload in step 8 and its outcome. All or nothing: a completed import saved
    every row, a failed one saved none and keeps the errors, by line, for the merchant and
    for the implementation consultant who helps. Written once, never changed."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="data_imports")
    kind = models.CharField(max_length=20, choices=DataImportKind.choices)
    filename = models.CharField(max_length=255)
    row_count = models.PositiveIntegerField(default=0, help_text="Data rows in the file.")
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=20, choices=DataImportStatus.choices)
    errors = models.JSONField(default=list, blank=True, help_text="What was wrong, by line.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="data_imports",
    )

    class Meta:
        ordering = ["merchant", "-created_at"]
        constraints = [
            choices_check("kind", DataImportKind, name="data_import_valid_kind"),
            choices_check("status", DataImportStatus, name="data_import_valid_status"),
        ]
        indexes = [models.Index(fields=["merchant", "-created_at"], name="data_import_latest")]

    def __str__(self):
        return f"{self.filename} ({self.get_kind_display()}, {self.get_status_display()})"


class ImportedProduct(BaseModel):
    """A product of the merchant's catalogue, brought in by a CSV import (step 8)."""

    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="imported_products"
    )
    data_import = models.ForeignKey(
        DataImport,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="products",
        help_text="The import that last wrote this product.",
    )
    sku = models.CharField("SKU", max_length=64)
    name = models.CharField(max_length=255)
    price = models.DecimalField(max_digits=12, decimal_places=2)
    quantity = models.PositiveIntegerField()
    category = models.CharField(max_length=100, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["merchant", "sku"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "sku"], name="imported_product_sku_unique"),
            models.CheckConstraint(
                condition=models.Q(price__gte=0), name="imported_product_price_not_negative"
            ),
        ]

    def __str__(self):
        return f"{self.sku} · {self.name}"


class ImportedCustomer(BaseModel):
    """A customer of the merchant, brought in by a CSV import (step 8). Emails are stored
    lower-case, so the unique key ignores case."""

    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="imported_customers"
    )
    data_import = models.ForeignKey(
        DataImport,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="customers",
        help_text="The import that last wrote this customer.",
    )
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    email = models.EmailField(max_length=255)
    phone = models.CharField(max_length=50, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["merchant", "last_name", "first_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "email"], name="imported_customer_email_unique"
            ),
        ]

    def __str__(self):
        return f"{self.first_name} {self.last_name} <{self.email}>"
