"""Money moving for an order: one Payment per checkout attempt, through the billing provider
(pending → authorized → captured → refunded, or failed). The order mirrors the latest one's
status (Order.payment_status)."""

from django.db import models
from django.utils import timezone
from django_fsm import FSMField, transition
from simple_history.models import HistoricalRecords

from apps.core.models import BaseModel, StateMachineMixin, choices_check
from apps.orders.models.order import Order


class PaymentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    AUTHORIZED = "authorized", "Authorized"
    CAPTURED = "captured", "Captured"
    FAILED = "failed", "Failed"
    REFUNDED = "refunded", "Refunded"


class Payment(StateMachineMixin, BaseModel):
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
