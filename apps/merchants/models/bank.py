"""Where payouts go: the merchant's bank accounts and their verification state machine.
Account and routing numbers are stored encrypted and kept out of the history."""

from django.db import models
from django.utils import timezone
from django_fsm import FSMField, transition
from encrypted_fields.fields import EncryptedCharField
from simple_history.models import HistoricalRecords

from apps.core.models import BaseModel, StateMachineMixin, choices_check
from apps.merchants import pii
from apps.merchants.choices import AccountType, VerificationStatus
from apps.merchants.models.merchant import Merchant


class MerchantBankAccount(StateMachineMixin, BaseModel):
    """Where payouts go. Payouts stay held until the primary account is verified."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="bank_accounts")
    payments_bank_id = models.CharField(max_length=255, blank=True)
    account_holder_name = models.CharField(max_length=255)
    account_type = models.CharField(
        max_length=50, choices=AccountType.choices, default=AccountType.CHECKING
    )
    account_number = EncryptedCharField(max_length=255)
    routing_number = EncryptedCharField(max_length=255)
    bank_name = models.CharField(max_length=255, blank=True)

    verification_status = FSMField(
        max_length=50,
        choices=VerificationStatus.choices,
        default=VerificationStatus.PENDING,
        protected=True,
    )
    verification_method = models.CharField(max_length=50, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    verification_failed_at = models.DateTimeField(null=True, blank=True)
    verification_failure_reason = models.TextField(blank=True)

    is_primary = models.BooleanField(default=True)
    is_active = models.BooleanField(default=False)

    history = HistoricalRecords(excluded_fields=["account_number", "routing_number"])

    class Meta:
        ordering = ["merchant", "-is_primary", "-created_at"]
        constraints = [
            choices_check(
                "verification_status", VerificationStatus, name="bank_valid_verification_status"
            ),
            models.UniqueConstraint(
                fields=["merchant"],
                condition=models.Q(is_primary=True),
                name="bank_one_primary_per_merchant",
            ),
        ]

    def __str__(self):
        return f"{self.account_holder_name} {self.account_number_masked}"

    @property
    def account_number_masked(self) -> str:
        return pii.mask(self.account_number)

    @property
    def routing_number_masked(self) -> str:
        return pii.mask(self.routing_number)

    @transition(
        field=verification_status,
        source=[VerificationStatus.PENDING, VerificationStatus.FAILED],
        target=VerificationStatus.IN_PROGRESS,
        custom={"label": "start verification"},
    )
    def verification_start(self, verification_method: str = "instant"):
        self.verification_method = verification_method
        self.verification_failure_reason = ""

    @transition(
        field=verification_status,
        source=VerificationStatus.IN_PROGRESS,
        target=VerificationStatus.VERIFIED,
        custom={"label": "mark verified"},
    )
    def verification_succeed(self):
        self.verified_at = timezone.now()
        self.is_active = True

    @transition(
        field=verification_status,
        source=VerificationStatus.IN_PROGRESS,
        target=VerificationStatus.FAILED,
        custom={"label": "mark verification failed"},
    )
    def verification_fail(self, reason: str = ""):
        self.verification_failed_at = timezone.now()
        self.verification_failure_reason = reason
        self.is_active = False
