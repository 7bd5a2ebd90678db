from django.contrib import admin

from apps.core.admin import ReadOnlyAdminMixin, ReadOnlyInline, TrackedAdmin, transition_action
from apps.routing.models import (
    AssignmentNote,
    BusinessCalendar,
    BusinessHoliday,
    BusinessHours,
    CohortRule,
    QueueAssignment,
    RoutingQueue,
)
from apps.routing.services.assignments import (
    assignment_escalate,
    assignment_record_contact,
    assignment_release,
    assignment_resolve,
    assignment_start_work,
)
from apps.routing.services.claims import assignment_assign


@admin.register(CohortRule)
class CohortRuleAdmin(TrackedAdmin):
    list_display = (
        "priority",
        "rule_name",
        "cohort",
        "selling_plan",
        "setup_plan",
        "is_active",
        "effective_from",
        "effective_to",
    )
    list_display_links = ("priority", "rule_name")
    list_filter = ("is_active", "cohort", "selling_plan", "setup_plan", "effective_from")
    search_fields = ("rule_name", "rule_description")
    ordering = ("priority", "rule_name")


class BusinessHoursInline(admin.TabularInline):
    model = BusinessHours
    fields = ("weekday", "opens_at", "closes_at")
    extra = 0
    ordering = ("weekday", "opens_at")


class BusinessHolidayInline(admin.TabularInline):
    model = BusinessHoliday
    fields = ("date", "name")
    extra = 0
    ordering = ("date",)


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(TrackedAdmin):
    """Ops keep the working hours and holidays that business-hours queues count SLAs in. A
    change applies to items queued from then on; deadlines already set are kept."""

    list_display = ("name", "time_zone")
    search_fields = ("name",)
    inlines = [BusinessHoursInline, BusinessHolidayInline]


@admin.register(BusinessHours)
class BusinessHoursAdmin(admin.ModelAdmin):
    """Working hours across calendars (each calendar's page edits its own inline)."""

    list_display = ("calendar", "weekday", "opens_at", "closes_at")
    list_filter = ("calendar", "weekday")
    list_select_related = ("calendar",)
    search_fields = ("calendar__name",)
    ordering = ("calendar__name", "weekday", "opens_at")


@admin.register(BusinessHoliday)
class BusinessHolidayAdmin(admin.ModelAdmin):
    """Holidays across calendars, by date (each calendar's page edits its own inline)."""

    list_display = ("date", "name", "calendar")
    list_filter = ("calendar",)
    list_select_related = ("calendar",)
    search_fields = ("name", "calendar__name")
    date_hierarchy = None
    ordering = ("-date",)


@admin.register(RoutingQueue)
class RoutingQueueAdmin(TrackedAdmin):
    list_select_related = ("business_calendar",)
    list_display = (
        "queue_name",
        "code",
        "queue_type",
        "sla_minutes",
        "business_calendar",
        "max_queue_size",
        "overflow_rank",
        "auto_assign",
        "is_active",
    )
    list_filter = ("queue_type", "auto_assign", "is_active")
    search_fields = ("code", "queue_name")


class AssignmentNoteInline(ReadOnlyInline):
    """Notes are written from the queue screens (assignment_add_note) and never edited."""

    model = AssignmentNote
    fields = ("created_at", "author", "body")
    readonly_fields = fields
    show_change_link = False
    ordering = ("created_at",)


@admin.register(AssignmentNote)
class AssignmentNoteAdmin(ReadOnlyAdminMixin, TrackedAdmin):
    """Notes are written from the queue screens and never edited: view only."""

    list_display = ("created_at", "assignment", "author", "body")
    list_select_related = (
        "assignment__queue",
        "assignment__lead",
        "assignment__merchant",
        "author",
    )
    search_fields = ("body", "author__email", "assignment__lead__business_name")
    date_hierarchy = "created_at"


@admin.register(QueueAssignment)
class QueueAssignmentAdmin(TrackedAdmin):
    inlines = [AssignmentNoteInline]
    list_display = (
        "subject",
        "queue",
        "status",
        "priority",
        "assigned_to",
        "queued_at",
        "sla_due_at",
        "sla_breached",
        "first_contact_at",
    )
    list_filter = (
        "status",
        "queue__queue_type",
        "queue",
        "sla_breached",
        "auto_assigned",
        "queued_at",
    )
    search_fields = (
        "lead__email",
        "lead__business_name",
        "merchant__legal_business_name",
        "assigned_to__email",
    )
    list_select_related = ("queue", "lead", "merchant", "assigned_to")
    date_hierarchy = "queued_at"
    fields = (
        "lead",
        "merchant",
        "queue",
        "status",
        "priority",
        "reason",
        "assigned_to",
        "assigned_at",
        "auto_assigned",
        "queued_at",
        "sla_due_at",
        "first_contact_at",
        "resolved_at",
        "withdrawn_at",
        "sla_breached",
        "sla_breached_at",
        "created_at",
        "updated_at",
    )
    # Only the priority is edited by hand; who holds the item and why change through the
    # actions (claim, release, escalate), which keep the history and the SLA clock right.
    readonly_fields = tuple(name for name in fields if name != "priority")
    actions = [
        transition_action(
            lambda assignment, *, actor: assignment_assign(
                assignment=assignment, agent=actor, actor=actor
            ),
            "Assign to me",
            name="assign_to_me",
        ),
        transition_action(
            lambda assignment, *, actor: assignment_record_contact(
                assignment=assignment, actor=actor
            ),
            "Record first contact",
            name="record_contact",
        ),
        transition_action(
            lambda assignment, *, actor: assignment_start_work(assignment=assignment, actor=actor),
            "Start work",
            name="start_work",
        ),
        transition_action(
            lambda assignment, *, actor: assignment_resolve(assignment=assignment, actor=actor),
            "Resolve",
            name="resolve",
        ),
        transition_action(
            lambda assignment, *, actor, reason: assignment_escalate(
                assignment=assignment, actor=actor, reason=reason
            ),
            "Escalate…",
            name="escalate",
            needs_reason=True,
            reason_label="Why escalate",
        ),
        transition_action(
            lambda assignment, *, actor, reason: assignment_release(
                assignment=assignment, actor=actor, reason=reason
            ),
            "Release to the queue…",
            name="release",
            needs_reason=True,
            reason_label="Why release it",
        ),
    ]

    def has_add_permission(self, request):
        # Items are queued by routing (assignment_enqueue), which starts the SLA clock.
        return False

    @admin.display(description="lead or merchant")
    def subject(self, assignment):
        return assignment.lead or assignment.merchant
