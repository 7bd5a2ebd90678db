from django.conf import settings
from django.db import models
from django.utils import timezone
from django_fsm import FSMField, transition
from simple_history.models import HistoricalRecords

from apps.core.fsm import guard
from apps.core.models import BaseModel, StateMachineMixin, choices_check
from apps.leads.models import Cohort, Stage


class JourneyStep(models.Model):
    """The ten steps of the journey (reference data, seeded by seed_rules)."""

    id = models.PositiveSmallIntegerField("step", primary_key=True)
    step_name = models.CharField(max_length=100)
    step_description = models.TextField(blank=True)
    stage = models.CharField(max_length=50, choices=Stage.choices)
    display_order = models.PositiveSmallIntegerField()
    icon = models.CharField(max_length=50, blank=True)
    is_required = models.BooleanField(default=True)
    estimated_duration_minutes = models.PositiveIntegerField(null=True, blank=True)
    depends_on = models.ManyToManyField(
        "self", symmetrical=False, blank=True, related_name="unlocks"
    )

    history = HistoricalRecords(m2m_fields=[depends_on])

    class Meta:
        ordering = ["display_order"]
        constraints = [
            choices_check("stage", Stage, name="step_valid_stage"),
            models.CheckConstraint(
                condition=models.Q(id__gte=1, id__lte=10), name="step_id_1_to_10"
            ),
        ]

    def __str__(self):
        return f"{self.id}. {self.step_name}"


class StepStatus(models.TextChoices):
    PENDING = "pending", "Not started"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    BLOCKED = "blocked", "Blocked"
    SKIPPED = "skipped", "Skipped"
    FAILED = "failed", "Failed"


DONE_STEP_STATUSES = [StepStatus.COMPLETED, StepStatus.SKIPPED]


@guard("The steps this one depends on must be completed first.")
def _dependencies_done(progress):
    depends_on = [step.id for step in progress.step.depends_on.all()]
    if not depends_on:
        return True
    done = MerchantStepProgress.objects.filter(
        merchant_id=progress.merchant_id, step_id__in=depends_on, status__in=DONE_STEP_STATUSES
    ).count()
    return done == len(depends_on)


@guard("Only optional steps can be skipped.")
def _step_is_optional(progress):
    return not progress.step.is_required


class MerchantStepProgress(StateMachineMixin, BaseModel):
    merchant = models.ForeignKey(
        "merchants.Merchant", on_delete=models.CASCADE, related_name="step_progress"
    )
    step = models.ForeignKey(JourneyStep, on_delete=models.PROTECT, related_name="progress")
    status = FSMField(
        max_length=50, choices=StepStatus.choices, default=StepStatus.PENDING, protected=True
    )
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    blocked_at = models.DateTimeField(null=True, blank=True)
    blocked_reason = models.TextField(blank=True)
    abandoned_at = models.DateTimeField(null=True, blank=True)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    # Working time in the step: completed_at - started_at minus the time spent blocked
    # (blocked_seconds, added up at each unblock), set when the step completes.
    time_spent_seconds = models.PositiveIntegerField(default=0)
    blocked_seconds = models.PositiveIntegerField(default=0)
    step_data = models.JSONField(default=dict, blank=True)
    error_count = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    intervention_required = models.BooleanField(default=False)
    intervention_reason = models.TextField(blank=True)
    intervention_triggered_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["merchant", "step__display_order"]
        verbose_name = "step progress"
        verbose_name_plural = "step progress"
        constraints = [
            choices_check("status", StepStatus, name="progress_valid_status"),
            models.UniqueConstraint(fields=["merchant", "step"], name="progress_one_per_step"),
        ]
        indexes = [
            models.Index(fields=["status"], name="progress_status"),
            models.Index(
                fields=["step", "completed_at"],
                name="progress_completed_by_step",
                condition=models.Q(status="completed"),
            ),
            models.Index(
                fields=["merchant", "step"],
                name="progress_incomplete",
                condition=~models.Q(status__in=["completed", "skipped"]),
            ),
            models.Index(
                fields=["intervention_required"],
                name="progress_intervention",
                condition=models.Q(intervention_required=True),
            ),
        ]

    def __str__(self):
        return f"{self.merchant} · step {self.step_id} · {self.status}"

    def _touch(self):
        now = timezone.now()
        self.last_activity_at = now
        return now

    def _add_time(self, now):
        if self.started_at:
            elapsed = int((now - self.started_at).total_seconds())
            self.time_spent_seconds = max(0, elapsed - self.blocked_seconds)

    @transition(
        field=status,
        source=StepStatus.PENDING,
        target=StepStatus.IN_PROGRESS,
        conditions=[_dependencies_done],
        custom={"label": "start this step"},
    )
    def start(self):
        self.started_at = self._touch()

    @transition(
        field=status,
        source=StepStatus.IN_PROGRESS,
        target=StepStatus.COMPLETED,
        custom={"label": "complete this step"},
    )
    def complete(self):
        now = self._touch()
        self.completed_at = now
        self._add_time(now)

    @transition(
        field=status,
        source=StepStatus.IN_PROGRESS,
        target=StepStatus.BLOCKED,
        custom={"label": "block this step"},
    )
    def block(self, reason: str = ""):
        self.blocked_at = self._touch()
        self.blocked_reason = reason

    @transition(
        field=status,
        source=StepStatus.BLOCKED,
        target=StepStatus.IN_PROGRESS,
        custom={"label": "unblock this step"},
    )
    def unblock(self):
        now = self._touch()
        if self.blocked_at:
            self.blocked_seconds += max(0, int((now - self.blocked_at).total_seconds()))
        self.blocked_reason = ""

    @transition(
        field=status,
        source=StepStatus.IN_PROGRESS,
        target=StepStatus.FAILED,
        custom={"label": "mark this step failed"},
    )
    def fail(self, error: str = ""):
        now = self._touch()
        self.error_count += 1
        self.last_error = error
        self.last_error_at = now

    @transition(
        field=status,
        source=StepStatus.FAILED,
        target=StepStatus.IN_PROGRESS,
        custom={"label": "retry this step"},
    )
    def retry(self):
        self._touch()

    @transition(
        field=status,
        source=StepStatus.COMPLETED,
        target=StepStatus.FAILED,
        custom={"label": "reopen this step"},
    )
    def undo(self, error: str = ""):
        """What completed it was undone (a refunded purchase): the merchant must do it again,
        and `error` says why in their words. Not counted as one of the step's errors."""
        self.last_error = error
        self.last_error_at = self._touch()
        self.completed_at = None

    @transition(
        field=status,
        source=[StepStatus.PENDING, StepStatus.IN_PROGRESS],
        target=StepStatus.SKIPPED,
        conditions=[_step_is_optional],
        custom={"label": "skip this step"},
    )
    def skip(self):
        now = self._touch()
        self.completed_at = now


class AlertType(models.TextChoices):
    STALLED = "stalled", "Stalled"
    ABANDONED = "abandoned", "Abandoned"
    ERROR_THRESHOLD = "error_threshold", "Repeated errors"
    SLA_BREACH = "sla_breach", "SLA breached"
    DELIVERY_FAILED = "delivery_failed", "Delivery failed"


class Severity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    ASSIGNED = "assigned", "Assigned"
    IN_PROGRESS = "in_progress", "In progress"
    RESOLVED = "resolved", "Resolved"
    DISMISSED = "dismissed", "Dismissed"


OPEN_ALERT_STATUSES = [AlertStatus.OPEN, AlertStatus.ASSIGNED, AlertStatus.IN_PROGRESS]
# Highest first: the inbox sorts by it, the sweep only ever raises an alert's severity.
SEVERITY_RANK = {Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3, Severity.CRITICAL: 4}


def severity_rank():
    """SEVERITY_RANK in SQL. The inbox orders by it and the index `alert_inbox_order` holds
    this very expression, so the planner walks the index instead of sorting every open
    alert (PostgreSQL matches an expression index only on the same expression)."""
    return models.Case(
        *[
            models.When(severity=severity.value, then=models.Value(rank))
            for severity, rank in SEVERITY_RANK.items()
        ],
        default=models.Value(0),
        output_field=models.IntegerField(),
    )


@guard("Pick who takes this alert.")
def _alert_has_owner(alert):
    return alert.assigned_to_id is not None


class StallAlert(StateMachineMixin, BaseModel):
    """Something needs a person: a stalled or abandoned journey, repeated errors, a missed
    SLA, a failed delivery."""

    merchant = models.ForeignKey(
        "merchants.Merchant",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="alerts",
    )
    lead = models.ForeignKey(
        "leads.Lead", on_delete=models.CASCADE, null=True, blank=True, related_name="alerts"
    )
    queue_assignment = models.ForeignKey(
        "routing.QueueAssignment",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="alerts",
    )
    step = models.ForeignKey(JourneyStep, on_delete=models.PROTECT, null=True, blank=True)
    alert_type = models.CharField(max_length=50, choices=AlertType.choices)
    severity = models.CharField(max_length=50, choices=Severity.choices, default=Severity.MEDIUM)
    stall_detected_at = models.DateTimeField(default=timezone.now)
    days_stalled = models.PositiveIntegerField(null=True, blank=True)
    current_status = models.CharField(max_length=50, blank=True)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    error_count = models.PositiveIntegerField(null=True, blank=True)

    alert_status = FSMField(
        max_length=50, choices=AlertStatus.choices, default=AlertStatus.OPEN, protected=True
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="stall_alerts",
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_action = models.TextField(blank=True)
    # What the people working the alert wrote, oldest first: [{"at": iso datetime,
    # "author_id": str, "author": email, "body": str}]. Appended by alert_note_add under a
    # row lock, each note also a history row with its author.
    notes = models.JSONField(default=list, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-stall_detected_at"]
        constraints = [
            choices_check("alert_type", AlertType, name="alert_valid_type"),
            choices_check("severity", Severity, name="alert_valid_severity"),
            choices_check("alert_status", AlertStatus, name="alert_valid_status"),
            models.CheckConstraint(
                condition=models.Q(merchant__isnull=False) | models.Q(lead__isnull=False),
                name="alert_has_subject",
            ),
            models.UniqueConstraint(
                fields=["merchant", "step", "alert_type"],
                condition=models.Q(alert_status__in=OPEN_ALERT_STATUSES),
                name="alert_one_open_per_merchant_step_type",
            ),
            models.UniqueConstraint(
                fields=["queue_assignment"],
                condition=models.Q(alert_type="sla_breach"),
                name="alert_one_sla_breach_per_assignment",
            ),
        ]
        indexes = [
            models.Index(fields=["alert_status"], name="alert_status"),
            models.Index(fields=["severity", "alert_status"], name="alert_severity_status"),
            # The inbox's order over the open alerts (apps.progress.selectors).
            models.Index(
                severity_rank().desc(),
                models.F("stall_detected_at"),
                models.F("id"),
                name="alert_inbox_order",
                condition=models.Q(alert_status__in=OPEN_ALERT_STATUSES),
            ),
            models.Index(
                fields=["assigned_to"],
                name="alert_open_assignee",
                condition=models.Q(alert_status__in=OPEN_ALERT_STATUSES),
            ),
        ]

    def __str__(self):
        return f"{self.get_alert_type_display()} · {self.merchant or self.lead}"

    @transition(
        field=alert_status,
        source=[AlertStatus.OPEN, AlertStatus.ASSIGNED],
        target=AlertStatus.ASSIGNED,
        conditions=[_alert_has_owner],
        custom={"label": "claim this alert"},
    )
    def claim(self):
        self.assigned_at = timezone.now()

    @transition(
        field=alert_status,
        source=AlertStatus.ASSIGNED,
        target=AlertStatus.IN_PROGRESS,
        custom={"label": "start work on this alert"},
    )
    def start_work(self):
        """The assignee is working on it."""

    @transition(
        field=alert_status,
        source=OPEN_ALERT_STATUSES,
        target=AlertStatus.RESOLVED,
        custom={"label": "resolve this alert"},
    )
    def resolve(self, action: str = ""):
        self.resolved_at = timezone.now()
        self.resolution_action = action

    @transition(
        field=alert_status,
        source=OPEN_ALERT_STATUSES,
        target=AlertStatus.DISMISSED,
        custom={"label": "dismiss this alert"},
    )
    def dismiss(self, reason: str = ""):
        self.resolved_at = timezone.now()
        self.resolution_action = f"Dismissed: {reason}"


class StallPolicy(BaseModel):
    """Stall thresholds per cohort; the sweep reads these rows, not constants in code."""

    cohort = models.CharField(max_length=50, choices=Cohort.choices, unique=True)
    stalled_after_days = models.PositiveIntegerField()
    abandoned_after_days = models.PositiveIntegerField(default=14)
    lost_after_days = models.PositiveIntegerField(default=30)
    error_threshold = models.PositiveIntegerField(default=3)
    high_severity_after_days = models.PositiveIntegerField(default=7)
    critical_severity_after_days = models.PositiveIntegerField(default=10)
    intervention_queue = models.ForeignKey(
        "routing.RoutingQueue", on_delete=models.SET_NULL, null=True, blank=True
    )

    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "stall policies"
        ordering = ["cohort"]
        constraints = [
            choices_check("cohort", Cohort, name="stallpolicy_valid_cohort"),
            models.CheckConstraint(
                condition=models.Q(stalled_after_days__lt=models.F("abandoned_after_days"))
                & models.Q(abandoned_after_days__lte=models.F("lost_after_days")),
                name="stallpolicy_thresholds_ordered",
            ),
        ]

    def __str__(self):
        return f"{self.get_cohort_display()}: stalled after {self.stalled_after_days} d"


class OpsFigures(models.Model):
    """The ops dashboard's figures as last computed by the `ops-figures` periodic job
    (apps.progress.ops_figures): one row per set of figures, read by /staff/ops/ in one query
    instead of aggregating whole tables on every view. Not history-tracked: it is a cache of
    what the tables say, rewritten in place."""

    name = models.CharField(max_length=50, primary_key=True)
    figures = models.JSONField(default=dict)
    # The charts as SVG (pygal is slow): rendered once per refresh, not per view.
    charts = models.JSONField(default=dict)
    computed_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "ops figures"
        verbose_name_plural = "ops figures"

    def __str__(self):
        return f"{self.name} as of {self.computed_at:%Y-%m-%d %H:%M}"
