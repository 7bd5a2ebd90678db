"""The merchant (the business going through steps 2-10, with its KYB, derived KYC and
journey state machines) and its locations. The permissions a compliance reviewer needs to
decide KYB or KYC are declared here, on the merchant."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django_fsm import FSMField, transition
from encrypted_fields.fields import EncryptedCharField
from simple_history.models import HistoricalRecords

from apps.core.fsm import guard
from apps.core.models import BaseModel, StateMachineMixin, choices_check
from apps.leads.models import Cohort
from apps.merchants import pii
from apps.merchants.choices import BusinessStructure, CheckStatus, JourneyStatus

DECIDE_KYB = "merchants.decide_kyb"
DECIDE_KYC = "merchants.decide_kyc"


@guard("Enter the legal business name, EIN and registered address before submitting KYB.")
def _legal_entity_complete(merchant):
    return bool(
        merchant.legal_business_name
        and merchant.ein_hash
        and merchant.registered_address_line1
        and merchant.registered_city
        and merchant.registered_state
        and merchant.registered_postal_code
    )


@guard("Add at least one person (a representative) before submitting KYC.")
def _has_persons(merchant):
    return merchant.persons.exists()


@guard("Every owner and representative must pass KYC first.")
def _every_person_approved(merchant):
    persons = merchant.persons.all()
    return persons.exists() and not persons.exclude(kyc_status=CheckStatus.APPROVED).exists()


@guard("Every required step must be completed first.")
def _required_steps_done(merchant):
    return (
        not merchant.step_progress.filter(step__is_required=True)
        .exclude(status="completed")
        .exists()
    )


class Merchant(StateMachineMixin, BaseModel):
    """A lead that created an account: the business going through steps 2-10."""

    lead = models.OneToOneField("leads.Lead", on_delete=models.PROTECT, related_name="merchant")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="merchant",
        help_text="The merchant's own login.",
    )
    cohort = models.CharField(max_length=50, choices=Cohort.choices, default=Cohort.SELF_SERVE)

    x_series_account_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    payments_account_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    billing_customer_id = models.CharField(max_length=255, blank=True)

    legal_business_name = models.CharField(max_length=255)
    business_structure = models.CharField(
        max_length=50, choices=BusinessStructure.choices, blank=True
    )
    ein = EncryptedCharField("EIN", max_length=20, null=True, blank=True)
    ein_hash = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    registered_address_line1 = models.CharField(max_length=255, blank=True)
    registered_address_line2 = models.CharField(max_length=255, blank=True)
    registered_city = models.CharField(max_length=100, blank=True)
    registered_state = models.CharField(max_length=50, blank=True)
    registered_postal_code = models.CharField(max_length=20, blank=True)
    registered_country = models.CharField(max_length=2, default="US")

    kyb_status = FSMField(
        "KYB status",
        max_length=50,
        choices=CheckStatus.choices,
        default=CheckStatus.PENDING,
        protected=True,
    )
    kyb_submitted_at = models.DateTimeField(null=True, blank=True)
    kyb_approved_at = models.DateTimeField(null=True, blank=True)
    kyb_rejected_at = models.DateTimeField(null=True, blank=True)
    kyb_rejection_reason = models.TextField(blank=True)

    kyc_status = FSMField(
        "KYC status",
        max_length=50,
        choices=CheckStatus.choices,
        default=CheckStatus.PENDING,
        protected=True,
        help_text="Derived from the persons: approved when every person is approved.",
    )
    kyc_all_approved_at = models.DateTimeField(null=True, blank=True)

    payments_activated = models.BooleanField(default=False)
    payments_activated_at = models.DateTimeField(null=True, blank=True)
    payouts_enabled = models.BooleanField(default=False)
    payouts_enabled_at = models.DateTimeField(null=True, blank=True)

    subscription_tier = models.CharField(max_length=50, blank=True)
    number_of_location_licenses = models.PositiveIntegerField(null=True, blank=True)
    number_of_register_licenses = models.PositiveIntegerField(null=True, blank=True)

    current_step = models.PositiveSmallIntegerField(default=1)
    journey_status = FSMField(
        max_length=50,
        choices=JourneyStatus.choices,
        default=JourneyStatus.IN_PROGRESS,
        protected=True,
    )
    journey_started_at = models.DateTimeField(default=timezone.now)
    journey_completed_at = models.DateTimeField(null=True, blank=True)
    journey_abandoned_at = models.DateTimeField(null=True, blank=True)
    blocked_reason = models.TextField(blank=True)
    is_active = models.BooleanField(default=False)
    activated_at = models.DateTimeField(null=True, blank=True)
    # Retention (apps/compliance/retention.py): an abandoned merchant that never went live
    # has its people's details replaced after the retention period.
    anonymised_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords(excluded_fields=["ein"])

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("decide_kyb", "Can approve or reject a KYB under review"),
            ("decide_kyc", "Can approve or reject a KYC under review"),
            ("reveal_pii", "Can reveal unmasked PII (logged)"),
        ]
        constraints = [
            choices_check("kyb_status", CheckStatus, name="merchant_valid_kyb_status"),
            choices_check("kyc_status", CheckStatus, name="merchant_valid_kyc_status"),
            choices_check("journey_status", JourneyStatus, name="merchant_valid_journey_status"),
            choices_check("cohort", Cohort, name="merchant_valid_cohort"),
            # Rule 1: no X-Series account (no purchase) before KYB approval.
            models.CheckConstraint(
                condition=models.Q(kyb_status=CheckStatus.APPROVED)
                | models.Q(x_series_account_id__isnull=True),
                name="kyb_before_purchase",
            ),
            # Rules 2-3: payments and payouts need every person KYC-approved.
            models.CheckConstraint(
                condition=models.Q(payments_activated=False)
                | models.Q(kyc_status=CheckStatus.APPROVED),
                name="payments_activation_needs_kyc",
            ),
            models.CheckConstraint(
                condition=models.Q(payouts_enabled=False)
                | models.Q(kyc_status=CheckStatus.APPROVED),
                name="payouts_need_kyc",
            ),
            models.CheckConstraint(
                condition=models.Q(current_step__gte=1, current_step__lte=10),
                name="merchant_current_step_1_to_10",
            ),
        ]
        indexes = [
            models.Index(fields=["journey_status"], name="merchant_journey_status"),
            models.Index(fields=["current_step"], name="merchant_current_step"),
            models.Index(fields=["kyb_status"], name="merchant_kyb_status"),
            models.Index(
                fields=["journey_status", "cohort", "current_step"],
                name="merchant_active_cohort_step",
                condition=models.Q(journey_status="in_progress"),
            ),
            models.Index(
                fields=["journey_status", "updated_at"],
                name="merchant_last_activity",
                condition=models.Q(journey_status="in_progress"),
            ),
        ]

    def __str__(self):
        return self.legal_business_name

    def set_ein(self, value: str | None) -> None:
        """Store the EIN encrypted and its keyed hash (the unique key) together."""
        normalized = pii.digits(value)
        self.ein = f"{normalized[:2]}-{normalized[2:]}" if normalized else None
        self.ein_hash = pii.keyed_hash(normalized) if normalized else None

    @property
    def ein_masked(self) -> str:
        return pii.mask(self.ein)

    # --- KYB ------------------------------------------------------------------------------
    @transition(
        field=kyb_status,
        source=[CheckStatus.PENDING, CheckStatus.REJECTED],
        target=CheckStatus.SUBMITTED,
        conditions=[_legal_entity_complete],
        custom={"label": "submit KYB"},
    )
    def kyb_submit(self):
        self.kyb_submitted_at = timezone.now()
        self.kyb_rejection_reason = ""

    @transition(
        field=kyb_status,
        source=[CheckStatus.SUBMITTED, CheckStatus.REVIEW_REQUIRED],
        target=CheckStatus.APPROVED,
        permission=DECIDE_KYB,
        custom={"label": "approve KYB"},
    )
    def kyb_approve(self):
        self.kyb_approved_at = timezone.now()

    @transition(
        field=kyb_status,
        source=[CheckStatus.SUBMITTED, CheckStatus.REVIEW_REQUIRED],
        target=CheckStatus.REJECTED,
        permission=DECIDE_KYB,
        custom={"label": "reject KYB"},
    )
    def kyb_reject(self, reason: str = ""):
        self.kyb_rejected_at = timezone.now()
        self.kyb_rejection_reason = reason

    @transition(
        field=kyb_status,
        source=CheckStatus.SUBMITTED,
        target=CheckStatus.REVIEW_REQUIRED,
        custom={"label": "send KYB to review"},
    )
    def kyb_require_review(self):
        """The provider could not decide: a compliance reviewer will."""

    # --- KYC (derived from the persons) -----------------------------------------------------
    @transition(
        field=kyc_status,
        source=[
            CheckStatus.PENDING,
            CheckStatus.REJECTED,
            CheckStatus.REVIEW_REQUIRED,
            CheckStatus.APPROVED,
        ],
        target=CheckStatus.SUBMITTED,
        conditions=[_has_persons],
        custom={"label": "submit KYC"},
    )
    def kyc_submit(self):
        self.kyc_all_approved_at = None

    @transition(
        field=kyc_status,
        source=[CheckStatus.SUBMITTED, CheckStatus.REVIEW_REQUIRED],
        target=CheckStatus.APPROVED,
        conditions=[_every_person_approved],
        custom={"label": "approve KYC"},
    )
    def kyc_approve(self):
        self.kyc_all_approved_at = timezone.now()

    @transition(
        field=kyc_status,
        source=[CheckStatus.SUBMITTED, CheckStatus.REVIEW_REQUIRED],
        target=CheckStatus.REJECTED,
        custom={"label": "reject KYC"},
    )
    def kyc_reject(self):
        """At least one person was rejected."""

    @transition(
        field=kyc_status,
        source=CheckStatus.SUBMITTED,
        target=CheckStatus.REVIEW_REQUIRED,
        custom={"label": "send KYC to review"},
    )
    def kyc_require_review(self):
        """At least one person is under review."""

    # --- Journey --------------------------------------------------------------------------
    @transition(
        field=journey_status,
        source=JourneyStatus.IN_PROGRESS,
        target=JourneyStatus.COMPLETED,
        conditions=[_required_steps_done],
        custom={"label": "complete the journey"},
    )
    def journey_complete(self):
        now = timezone.now()
        self.journey_completed_at = now
        self.is_active = True
        self.activated_at = now

    @transition(
        field=journey_status,
        source=JourneyStatus.IN_PROGRESS,
        target=JourneyStatus.BLOCKED,
        custom={"label": "block the journey"},
    )
    def journey_block(self, reason: str = ""):
        self.blocked_reason = reason

    @transition(
        field=journey_status,
        source=JourneyStatus.IN_PROGRESS,
        target=JourneyStatus.ABANDONED,
        custom={"label": "mark the journey abandoned"},
    )
    def journey_abandon(self):
        self.journey_abandoned_at = timezone.now()

    @transition(
        field=journey_status,
        source=[JourneyStatus.BLOCKED, JourneyStatus.ABANDONED],
        target=JourneyStatus.IN_PROGRESS,
        custom={"label": "resume the journey"},
    )
    def journey_resume(self):
        self.blocked_reason = ""
        self.journey_abandoned_at = None


class MerchantLocation(BaseModel):
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="locations")
    x_series_location_id = models.CharField(max_length=255, blank=True, db_index=True)
    payments_location_id = models.CharField(max_length=255, blank=True)
    location_name = models.CharField("DBA name", max_length=255, blank=True)
    location_number = models.PositiveIntegerField(default=1)
    is_primary = models.BooleanField(default=False)
    address_line1 = models.CharField(max_length=255)
    address_line2 = models.CharField(max_length=255, blank=True)
    city = models.CharField(max_length=100)
    state = models.CharField(max_length=50)
    postal_code = models.CharField(max_length=20)
    country = models.CharField(max_length=2, default="US")
    phone = models.CharField(max_length=50, blank=True)
    email = models.EmailField(max_length=255, blank=True)
    is_active = models.BooleanField(default=False)
    activated_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["merchant", "location_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant"],
                condition=models.Q(is_primary=True),
                name="location_one_primary_per_merchant",
            ),
            models.UniqueConstraint(
                fields=["merchant", "location_number"], name="location_number_unique"
            ),
        ]

    def __str__(self):
        return self.location_name or f"{self.address_line1}, {self.city}"
