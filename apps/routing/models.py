from datetime import datetime, time, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django_fsm import FSMField, transition
from simple_history.models import HistoricalRecords

from apps.accounts import roles
from apps.core.fsm import guard
from apps.core.models import BaseModel, StateMachineMixin, choices_check
from apps.leads.models import Cohort, SellingPlan, SetupPlan
from apps.routing import calendars


class CohortRule(BaseModel):
    """One row of the priority-ordered cohort table. `conditions` keys, all optional:
    gtv_min, gtv_max (annual USD), locations_min, locations_max, verticals [..],
    countries [..]. Every present key must match; `match` is an explicit "any" of
    groups: {"any": [{"gtv_min": ...}, {"locations_min": ...}]}."""

    rule_name = models.CharField(max_length=255, unique=True)
    rule_description = models.TextField(blank=True)
    priority = models.IntegerField(help_text="Lower number is evaluated first.")
    conditions = models.JSONField(default=dict, blank=True)
    cohort = models.CharField(max_length=50, choices=Cohort.choices)
    selling_plan = models.CharField(max_length=50, choices=SellingPlan.choices)
    setup_plan = models.CharField(max_length=50, choices=SetupPlan.choices)
    is_active = models.BooleanField(default=True)
    effective_from = models.DateTimeField(default=timezone.now)
    effective_to = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["priority", "rule_name"]
        constraints = [
            choices_check("cohort", Cohort, name="cohortrule_valid_cohort"),
            models.CheckConstraint(
                condition=models.Q(effective_to__isnull=True)
                | models.Q(effective_to__gt=models.F("effective_from")),
                name="cohortrule_effective_window",
            ),
        ]
        indexes = [
            models.Index(
                fields=["priority"],
                name="cohortrule_active_priority",
                condition=models.Q(is_active=True),
            )
        ]

    def __str__(self):
        return f"{self.priority}: {self.rule_name} → {self.cohort}"


class QueueType(models.TextChoices):
    AE = "ae", "Account executive"
    IC = "ic", "Implementation consultant"
    COMPLIANCE = "compliance", "Compliance review"


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class BusinessCalendar(BaseModel):
    """Working hours per weekday and holidays, in a time zone: a queue that follows it counts
    its SLA in working time only (apps.routing.calendars). Edited by ops in the admin."""

    name = models.CharField(max_length=100, unique=True)
    time_zone = models.CharField(
        max_length=64,
        default="America/New_York",
        validators=[calendars.validate_time_zone],
        help_text="IANA name, e.g. America/New_York; working hours are wall times there.",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.time_zone})"

    def _rules(self) -> tuple[dict, set]:
        """Its hours by weekday and its holidays, read once per instance (two queries)."""
        if not hasattr(self, "_rules_cache"):
            hours: dict = {}
            for row in self.hours.all():
                hours.setdefault(row.weekday, []).append((row.opens_at, row.closes_at))
            holidays = {row.date for row in self.holidays.all()}
            self._rules_cache = (hours, holidays)
        return self._rules_cache

    def sla_deadlines(self, start: datetime, minutes: int) -> tuple[datetime, datetime]:
        """(warn_at, due_at) of an SLA of `minutes` of working time started at `start`."""
        hours, holidays = self._rules()
        return calendars.sla_deadlines(
            start, minutes, time_zone=self.time_zone, hours=hours, holidays=holidays
        )

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Working time from `start` to `end` (negative when `end` is earlier)."""
        hours, holidays = self._rules()
        return calendars.working_time_between(
            start, end, time_zone=self.time_zone, hours=hours, holidays=holidays
        )


class BusinessHours(BaseModel):
    """One working interval of a weekday (a day may have several: 09:00-12:00, 13:00-18:00).
    A closing time of 00:00 means midnight at the end of the day."""

    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens_at = models.TimeField()
    closes_at = models.TimeField(help_text="00:00 means midnight at the end of the day.")

    class Meta:
        ordering = ["calendar", "weekday", "opens_at"]
        verbose_name = "working hours"
        verbose_name_plural = "working hours"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(weekday__gte=0, weekday__lte=6), name="hours_valid_weekday"
            ),
            models.CheckConstraint(
                condition=models.Q(closes_at__gt=models.F("opens_at"))
                | models.Q(closes_at=time(0, 0)),
                name="hours_close_after_open",
            ),
        ]

    def __str__(self):
        return f"{self.get_weekday_display()} {self.opens_at:%H:%M}-{self.closes_at:%H:%M}"


class BusinessHoliday(BaseModel):
    """A day without working hours in one calendar."""

    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="holidays"
    )
    date = models.DateField()
    name = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["calendar", "date"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "date"], name="holiday_once_per_calendar")
        ]

    def __str__(self):
        return f"{self.date:%Y-%m-%d} {self.name}".strip()


class RoutingQueue(BaseModel):
    code = models.SlugField(max_length=100, unique=True, help_text="ae_high_priority, ...")
    queue_name = models.CharField(max_length=100)
    queue_type = models.CharField(max_length=50, choices=QueueType.choices)
    sla_minutes = models.PositiveIntegerField(null=True, blank=True)
    max_queue_size = models.PositiveIntegerField(null=True, blank=True)
    overflow_rank = models.PositiveIntegerField(
        default=0, help_text="Order among queues of one type; a full queue overflows to the next."
    )
    auto_assign = models.BooleanField(default=True)
    is_active = models.BooleanField(default=True)
    business_calendar = models.ForeignKey(
        BusinessCalendar,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="queues",
        help_text="Count the SLA in these working hours only; empty: around the clock.",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["queue_type", "overflow_rank", "queue_name"]
        constraints = [choices_check("queue_type", QueueType, name="queue_valid_type")]

    def __str__(self):
        return self.queue_name

    def sla_deadlines(self, start: datetime) -> tuple[datetime | None, datetime | None]:
        """(sla_warn_at, sla_due_at) of an item queued at `start`: in working time when the
        queue follows a business calendar, around the clock otherwise; (None, None) without
        an SLA."""
        if not self.sla_minutes:
            return None, None
        if self.business_calendar_id:
            return self.business_calendar.sla_deadlines(start, self.sla_minutes)
        return calendars.sla_deadlines(start, self.sla_minutes)


class AssignmentStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    ASSIGNED = "assigned", "Assigned"
    CONTACTED = "contacted", "Contacted"
    IN_PROGRESS = "in_progress", "In progress"
    RESOLVED = "resolved", "Resolved"
    ESCALATED = "escalated", "Escalated"


OPEN_ASSIGNMENT_STATUSES = [
    AssignmentStatus.QUEUED,
    AssignmentStatus.ASSIGNED,
    AssignmentStatus.CONTACTED,
    AssignmentStatus.IN_PROGRESS,
]
# Items an agent holds: they count against `User.max_open_assignments`.
HELD_STATUSES = [
    AssignmentStatus.ASSIGNED,
    AssignmentStatus.CONTACTED,
    AssignmentStatus.IN_PROGRESS,
]
# Who works each type of queue (and may be given its items).
QUEUE_ROLE = {
    QueueType.AE: roles.AE,
    QueueType.IC: roles.IC,
    QueueType.COMPLIANCE: roles.COMPLIANCE,
}


def sla_is_breached(due_at: datetime | None, now: datetime) -> bool:
    """The deadline is inclusive: due at 10:00:00, contact at 10:00:00 is on time and the
    item is breached from any instant after it (the sweep uses `sla_due_at < now`)."""
    return due_at is not None and now > due_at


@guard("Pick the agent who takes this item.")
def _has_agent(assignment):
    return assignment.assigned_to_id is not None


class QueueAssignment(StateMachineMixin, BaseModel):
    """A lead or merchant waiting in (or taken from) a routing queue, with its SLA clock."""

    lead = models.ForeignKey(
        "leads.Lead", on_delete=models.CASCADE, null=True, blank=True, related_name="assignments"
    )
    merchant = models.ForeignKey(
        "merchants.Merchant",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="assignments",
    )
    queue = models.ForeignKey(RoutingQueue, on_delete=models.PROTECT, related_name="assignments")
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="queue_assignments",
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    auto_assigned = models.BooleanField(default=False)

    status = FSMField(
        max_length=50,
        choices=AssignmentStatus.choices,
        default=AssignmentStatus.QUEUED,
        protected=True,
    )
    priority = models.IntegerField(default=0, help_text="Higher is more urgent.")
    reason = models.TextField(blank=True, help_text="Why it was queued, escalated or released.")

    queued_at = models.DateTimeField(default=timezone.now)
    sla_due_at = models.DateTimeField(null=True, blank=True)
    sla_warn_at = models.DateTimeField(
        null=True, blank=True, help_text="When the SLA is 75% used: the item is due soon."
    )
    first_contact_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When routing took it back because the lead no longer needs this queue "
        "(it became self-serve); such an item does not count in the SLA figures.",
    )
    sla_breached = models.BooleanField(default=False)
    sla_breached_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-priority", "queued_at"]
        permissions = [("work_queue", "Can claim and work queue items")]
        constraints = [
            choices_check("status", AssignmentStatus, name="assignment_valid_status"),
            models.CheckConstraint(
                condition=models.Q(lead__isnull=False) | models.Q(merchant__isnull=False),
                name="assignment_has_subject",
            ),
            models.UniqueConstraint(
                fields=["queue", "lead"],
                condition=models.Q(status__in=OPEN_ASSIGNMENT_STATUSES),
                name="assignment_one_open_per_lead_queue",
            ),
            models.UniqueConstraint(
                fields=["queue", "merchant"],
                condition=models.Q(status__in=OPEN_ASSIGNMENT_STATUSES, lead__isnull=True),
                name="assignment_one_open_per_merchant_queue",
            ),
        ]
        indexes = [
            # The queue screens' order (priority, then oldest, then id) over every open item,
            # so a page of 25 is an index walk, not a sort of the whole queue joined to its
            # leads and merchants (issue 12: 85 ms → 7 ms for ae_standard at 100k leads).
            models.Index(
                "queue",
                models.F("priority").desc(),
                "queued_at",
                "id",
                name="assignment_open_queue_order",
                condition=models.Q(status__in=OPEN_ASSIGNMENT_STATUSES),
            ),
            models.Index(fields=["status"], name="assignment_status"),
            # The queue counts (waiting, held, mine, overdue, escalated) from the index alone:
            # an index-only scan of a queue's open items instead of its heap pages, closed
            # items included (issue 12: 4.9 ms a page at 100k leads).
            models.Index(
                fields=["queue", "status"],
                include=["assigned_to", "first_contact_at", "sla_due_at"],
                name="assignment_open_counts",
                condition=models.Q(
                    status__in=[*OPEN_ASSIGNMENT_STATUSES, AssignmentStatus.ESCALATED]
                ),
            ),
        ]

    def __str__(self):
        return f"{self.queue} · {self.lead or self.merchant}"

    @property
    def sla_due_soon_from(self) -> datetime | None:
        """When the item becomes "due soon" (75% of its SLA, in business time when its queue
        follows a calendar): the stored sla_warn_at, or for items queued before it was
        stored (or loaded without it: no query per row), 75% of the wall time from queued_at
        to sla_due_at."""
        warn_at = self.__dict__.get("sla_warn_at")  # deferred by .only(): not in __dict__
        if warn_at is not None:
            return warn_at
        if self.sla_due_at is None:
            return None
        return self.queued_at + (self.sla_due_at - self.queued_at) * calendars.WARN_FRACTION

    @transition(
        field=status,
        source=AssignmentStatus.QUEUED,
        target=AssignmentStatus.ASSIGNED,
        conditions=[_has_agent],
        permission="routing.work_queue",
    )
    def assign(self):
        """Claimed by an agent or auto-assigned; the service sets assigned_to first."""

    @transition(
        field=status,
        source=AssignmentStatus.ASSIGNED,
        target=AssignmentStatus.ASSIGNED,
        conditions=[_has_agent],
        permission="routing.work_queue",
    )
    def reassign(self):
        """Handed to another agent."""

    @transition(
        field=status,
        source=AssignmentStatus.ASSIGNED,
        target=AssignmentStatus.QUEUED,
        permission="routing.work_queue",
    )
    def release(self):
        """Given back to the queue."""

    @transition(
        field=status,
        source=AssignmentStatus.ASSIGNED,
        target=AssignmentStatus.CONTACTED,
        permission="routing.work_queue",
    )
    def record_contact(self):
        """First contact made: stops the SLA clock."""

    @transition(
        field=status,
        source=AssignmentStatus.CONTACTED,
        target=AssignmentStatus.IN_PROGRESS,
        permission="routing.work_queue",
    )
    def start_work(self):
        """Working with the merchant."""

    @transition(
        field=status,
        source=[AssignmentStatus.CONTACTED, AssignmentStatus.IN_PROGRESS],
        target=AssignmentStatus.RESOLVED,
        permission="routing.work_queue",
    )
    def resolve(self):
        """Done with this item."""

    @transition(
        field=status,
        source=OPEN_ASSIGNMENT_STATUSES,
        target=AssignmentStatus.ESCALATED,
        permission="routing.work_queue",
    )
    def escalate(self):
        """Raised to someone more senior; the reason is kept on the row."""

    @transition(
        field=status,
        source=OPEN_ASSIGNMENT_STATUSES,
        target=AssignmentStatus.RESOLVED,
        custom={"label": "withdraw from the queue"},
    )
    def withdraw(self):
        """Routing takes it back: the lead no longer needs this queue (it became self-serve).
        A system step (no permission): the service records who caused it and why."""


class AssignmentNote(BaseModel):
    """A note an agent leaves on a queue item for the next person. Written once through
    assignment_add_note; never edited (the admin shows them read-only)."""

    assignment = models.ForeignKey(QueueAssignment, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assignment_notes",
    )
    body = models.TextField()

    history = HistoricalRecords()

    class Meta:
        ordering = ["assignment", "created_at"]
        indexes = [models.Index(fields=["assignment", "created_at"], name="note_by_assignment")]

    def __str__(self):
        return f"Note on {self.assignment_id} by {self.author or 'system'}"
