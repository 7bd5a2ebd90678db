from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django_fsm import FSMField, transition
from simple_history.models import HistoricalRecords

from apps.core.models import BaseModel, StateMachineMixin, choices_check


class Cohort(models.TextChoices):
    SELF_SERVE = "self_serve", "Self-serve"
    ASSISTED = "assisted", "Assisted"
    MANAGED = "managed", "Managed"


class SellingPlan(models.TextChoices):
    SELF_SERVE = "self_serve", "Self-serve"
    AE_ASSISTED = "ae_assisted", "AE assisted"
    AE_MANAGED = "ae_managed", "AE managed"


class SetupPlan(models.TextChoices):
    SELF_SERVE = "self_serve", "Self-serve"
    IC_FREE = "ic_free", "Free IC setup"
    IC_PAID = "ic_paid", "Paid IC setup"


class Stage(models.TextChoices):
    QUALIFY_LEADS = "qualify_leads", "Qualify leads"
    BUYING_EXPERIENCE = "buying_experience", "Buying experience"
    GUIDED_SETUP = "guided_setup", "Guided setup"


class LeadStatus(models.TextChoices):
    NEW = "new", "New"
    CONTACTED = "contacted", "Contacted"
    QUALIFIED = "qualified", "Qualified"
    DISQUALIFIED = "disqualified", "Disqualified"
    CONVERTED = "converted", "Converted"
    LOST = "lost", "Lost"


OPEN_LEAD_STATUSES = [LeadStatus.NEW, LeadStatus.CONTACTED, LeadStatus.QUALIFIED]


class Lead(StateMachineMixin, BaseModel):
    """A prospective merchant, from first interest to conversion (steps 1-3)."""

    external_lead_id = models.CharField(max_length=255, blank=True, null=True, unique=True)
    crm_lead_id = models.CharField(max_length=255, blank=True, db_index=True)

    email = models.EmailField(max_length=255, unique=True)
    phone = models.CharField(max_length=50, blank=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)

    business_name = models.CharField(max_length=255, blank=True)
    business_category = models.CharField(
        "vertical", max_length=100, blank=True, help_text="Restaurant, retail, golf..."
    )
    business_type = models.CharField(
        max_length=50, blank=True, help_text="LLC, corporation, sole proprietor..."
    )
    annual_revenue_estimate = models.DecimalField(
        "annual GTV estimate", max_digits=15, decimal_places=2, null=True, blank=True
    )
    number_of_locations = models.PositiveIntegerField(null=True, blank=True)

    country_code = models.CharField(max_length=2, default="US")
    region = models.CharField(max_length=100, blank=True)
    language_code = models.CharField(max_length=5, default="en")
    timezone = models.CharField(max_length=50, blank=True)

    source = models.CharField(max_length=50, blank=True, help_text="organic, paid, referral...")
    campaign_id = models.CharField(max_length=255, blank=True)
    utm_source = models.CharField(max_length=255, blank=True)
    utm_medium = models.CharField(max_length=255, blank=True)
    utm_campaign = models.CharField(max_length=255, blank=True)
    referrer = models.URLField(max_length=1000, blank=True)

    status = FSMField(
        max_length=50, choices=LeadStatus.choices, default=LeadStatus.NEW, protected=True
    )
    stage = models.CharField(
        max_length=50, choices=Stage.choices, default=Stage.QUALIFY_LEADS, blank=True
    )

    # NULL until profiled (spec: cohort may be NULL), distinct from any cohort value.
    cohort = models.CharField(max_length=50, choices=Cohort.choices, null=True, blank=True)  # noqa: DJ001
    selling_plan = models.CharField(max_length=50, choices=SellingPlan.choices, blank=True)
    setup_plan = models.CharField(max_length=50, choices=SetupPlan.choices, blank=True)
    gtv_score = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    complexity_score = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    risk_score = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    # What profiling read and how each score was built (apps/leads/scoring.py), so a person
    # can see why a lead scored what it did.
    score_inputs = models.JSONField(default=dict, blank=True)
    # The rule the cohort rules chose at the last profiling (null: no rule matched, the
    # self-serve fallback) and why, in the domain's words. They keep the rules' verdict even
    # when an AE overrode the cohort, so both can be read side by side.
    matched_rule = models.ForeignKey(
        "routing.CohortRule",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="leads",
    )
    cohort_reason = models.TextField(blank=True)
    profiled_at = models.DateTimeField(null=True, blank=True)
    # A manual override (DESIGN.md rule 5): re-profiling never undoes it.
    cohort_overridden_at = models.DateTimeField(null=True, blank=True)
    cohort_overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="cohort_overrides",
    )
    cohort_override_reason = models.TextField(blank=True)

    assigned_ae = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="ae_leads",
    )
    assigned_ic = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="ic_leads",
    )
    ae_contacted_at = models.DateTimeField(null=True, blank=True)
    ic_contacted_at = models.DateTimeField(null=True, blank=True)

    contacted_at = models.DateTimeField(null=True, blank=True)
    qualified_at = models.DateTimeField(null=True, blank=True, help_text="When KYB was approved")
    converted_at = models.DateTimeField(null=True, blank=True, help_text="When first paid")
    closed_at = models.DateTimeField(null=True, blank=True, help_text="Disqualified or lost")
    close_reason = models.TextField(blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # Retention (apps/compliance/retention.py): when the person's details were replaced,
    # and the keyed hash of the address kept so intake still knows a returning address.
    anonymised_at = models.DateTimeField(null=True, blank=True)
    email_hash = models.CharField(max_length=64, blank=True, editable=False)
    # Set by intake on a new lead whose address belongs to an anonymised one.
    returning_from = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        permissions = [("override_cohort", "Can override a lead's cohort")]
        constraints = [
            choices_check("status", LeadStatus, name="lead_valid_status"),
            choices_check("cohort", Cohort, name="lead_valid_cohort", nullable=True),
            models.CheckConstraint(
                condition=models.Q(cohort_overridden_at__isnull=True)
                | ~models.Q(cohort_override_reason=""),
                name="lead_override_has_reason",
            ),
            # One lead per address whatever its case (capture matches emails that way).
            models.UniqueConstraint(Lower("email"), name="lead_email_ci_unique"),
        ]
        indexes = [
            models.Index(
                fields=["email_hash"],
                name="lead_anonymised_email_hash",
                condition=~models.Q(email_hash=""),
            ),
            models.Index(
                fields=["status"], name="lead_status_live", condition=models.Q(deleted_at=None)
            ),
            models.Index(
                fields=["cohort"], name="lead_cohort_live", condition=models.Q(deleted_at=None)
            ),
            models.Index(
                fields=["assigned_ae"],
                name="lead_assigned_ae_live",
                condition=models.Q(deleted_at=None),
            ),
            models.Index(
                fields=["status", "cohort"],
                name="lead_active",
                condition=models.Q(deleted_at=None),
            ),
        ]

    def __str__(self):
        return self.business_name or self.email

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def is_cohort_overridden(self) -> bool:
        return self.cohort_overridden_at is not None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_LEAD_STATUSES

    # --- transitions (state only; services do the rest) ---------------------------------
    @transition(field=status, source=LeadStatus.NEW, target=LeadStatus.CONTACTED)
    def mark_contacted(self):
        """First contact by an AE or IC."""
        self.contacted_at = timezone.now()

    @transition(
        field=status,
        source=[LeadStatus.NEW, LeadStatus.CONTACTED],
        target=LeadStatus.QUALIFIED,
    )
    def qualify(self):
        """The merchant's KYB was approved."""
        self.qualified_at = timezone.now()

    @transition(field=status, source=LeadStatus.QUALIFIED, target=LeadStatus.CONVERTED)
    def convert(self):
        """The merchant's first order was paid."""
        self.converted_at = timezone.now()

    @transition(field=status, source=LeadStatus.CONVERTED, target=LeadStatus.QUALIFIED)
    def undo_conversion(self):
        """The paid order that converted it was refunded (the purchase was undone): the lead
        is qualified again, ready to buy."""
        self.converted_at = None

    @transition(field=status, source=OPEN_LEAD_STATUSES, target=LeadStatus.DISQUALIFIED)
    def disqualify(self, reason: str = ""):
        """Not a fit (out of market, failed compliance...)."""
        self.closed_at = timezone.now()
        self.close_reason = reason

    @transition(field=status, source=OPEN_LEAD_STATUSES, target=LeadStatus.LOST)
    def mark_lost(self, reason: str = ""):
        """Went silent, chose someone else, or abandoned the journey."""
        self.closed_at = timezone.now()
        self.close_reason = reason


class LeadSubmission(BaseModel):
    """The Get started form sent again for an address we already have a lead for. Anyone can
    type anyone's email on a public page, so a repeat never writes over what the owner or an
    AE entered: it is kept here, beside the lead (staff read it on the lead page), and only
    fills the lead's empty fields (named in `filled_fields`). Append-only."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="submissions")
    # The answers as sent (contact and business details, without attribution).
    details = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    filled_fields = models.JSONField(default=list, blank=True)
    source = models.CharField(max_length=50, blank=True)
    campaign_id = models.CharField(max_length=255, blank=True)
    utm_source = models.CharField(max_length=255, blank=True)
    utm_medium = models.CharField(max_length=255, blank=True)
    utm_campaign = models.CharField(max_length=255, blank=True)
    referrer = models.URLField(max_length=1000, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["lead", "-created_at"], name="lead_submission_recent")]

    def __str__(self):
        return f"{self.lead} again at {self.created_at:%Y-%m-%d %H:%M}"
