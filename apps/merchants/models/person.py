"""A representative or owner of the business, checked by KYC in step 7. Its SSN and date
of birth are stored encrypted and kept out of its history."""

from django.db import models
from django.utils import timezone
from django_fsm import FSMField, transition
from encrypted_fields.fields import EncryptedCharField, EncryptedDateField
from simple_history.models import HistoricalRecords

from apps.core.models import BaseModel, StateMachineMixin, choices_check
from apps.merchants import pii
from apps.merchants.choices import CheckStatus, PersonType
from apps.merchants.models.merchant import DECIDE_KYC, Merchant


class MerchantPerson(StateMachineMixin, BaseModel):
    """A representative or owner of the business, checked by KYC in step 7."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="persons")
    payments_person_id = models.CharField(max_length=255, blank=True)
    person_type = models.CharField(max_length=50, choices=PersonType.choices)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    email = models.EmailField(max_length=255, blank=True)
    phone = models.CharField(max_length=50, blank=True)
    ssn = EncryptedCharField("SSN", max_length=255, null=True, blank=True)
    date_of_birth = EncryptedDateField(null=True, blank=True)
    address_line1 = models.CharField(max_length=255, blank=True)
    address_line2 = models.CharField(max_length=255, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=50, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, default="US")
    title = models.CharField(max_length=100, blank=True)
    ownership_percentage = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True
    )

    kyc_status = FSMField(
        "KYC status",
        max_length=50,
        choices=CheckStatus.choices,
        default=CheckStatus.PENDING,
        protected=True,
    )
    kyc_submitted_at = models.DateTimeField(null=True, blank=True)
    kyc_approved_at = models.DateTimeField(null=True, blank=True)
    kyc_rejected_at = models.DateTimeField(null=True, blank=True)
    kyc_rejection_reason = models.TextField(blank=True)

    history = HistoricalRecords(excluded_fields=["ssn", "date_of_birth"])

    class Meta:
        ordering = ["merchant", "last_name", "first_name"]
        constraints = [
            choices_check("person_type", PersonType, name="person_valid_type"),
            choices_check("kyc_status", CheckStatus, name="person_valid_kyc_status"),
            models.CheckConstraint(
                condition=models.Q(ownership_percentage__isnull=True)
                | models.Q(ownership_percentage__gte=0, ownership_percentage__lte=100),
                name="person_valid_ownership_pct",
            ),
        ]
        indexes = [
            models.Index(fields=["person_type"], name="person_type"),
            models.Index(fields=["kyc_status"], name="person_kyc_status"),
        ]

    def __str__(self):
        return f"{self.first_name} {self.last_name}"

    @property
    def ssn_masked(self) -> str:
        return pii.mask(self.ssn)

    @transition(
        field=kyc_status,
        source=[CheckStatus.PENDING, CheckStatus.REJECTED],
        target=CheckStatus.SUBMITTED,
        custom={"label": "submit KYC"},
    )
    def kyc_submit(self):
        self.kyc_submitted_at = timezone.now()
        self.kyc_rejection_reason = ""

    @transition(
        field=kyc_status,
        source=[CheckStatus.SUBMITTED, CheckStatus.REVIEW_REQUIRED],
        target=CheckStatus.APPROVED,
        permission=DECIDE_KYC,
        custom={"label": "approve KYC"},
    )
    def kyc_approve(self):
        self.kyc_approved_at = timezone.now()

    @transition(
        field=kyc_status,
        source=[CheckStatus.SUBMITTED, CheckStatus.REVIEW_REQUIRED],
        target=CheckStatus.REJECTED,
        permission=DECIDE_KYC,
        custom={"label": "reject KYC"},
    )
    def kyc_reject(self, reason: str = ""):
        self.kyc_rejected_at = timezone.now()
        self.kyc_rejection_reason = reason

    @transition(
        field=kyc_status,
        source=CheckStatus.SUBMITTED,
        target=CheckStatus.REVIEW_REQUIRED,
        custom={"label": "send KYC to review"},
    )
    def kyc_require_review(self):
        """The provider could not decide: a compliance reviewer will."""
