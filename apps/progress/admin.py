from django.contrib import admin

from apps.core.admin import ReadOnlyAdminMixin, TrackedAdmin, transition_action
from apps.progress.models import (
    JourneyStep,
    MerchantStepProgress,
    OpsFigures,
    StallAlert,
    StallPolicy,
)
from apps.progress.services import (
    alert_claim,
    alert_dismiss,
    alert_resolve,
    step_block,
    step_skip,
    step_unblock,
)


@admin.register(JourneyStep)
class JourneyStepAdmin(TrackedAdmin):
    list_display = (
        "id",
        "step_name",
        "stage",
        "display_order",
        "is_required",
        "estimated_duration_minutes",
        "dependencies",
    )
    list_display_links = ("id", "step_name")
    list_filter = ("stage", "is_required")
    search_fields = ("step_name", "step_description")
    filter_horizontal = ("depends_on",)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("depends_on")

    @admin.display(description="depends on steps")
    def dependencies(self, step):
        return ", ".join(str(dependency.id) for dependency in step.depends_on.all()) or "—"


@admin.register(MerchantStepProgress)
class MerchantStepProgressAdmin(TrackedAdmin):
    list_display = (
        "merchant",
        "step",
        "status",
        "started_at",
        "last_activity_at",
        "completed_at",
        "error_count",
        "intervention_required",
    )
    list_filter = (
        "status",
        "step",
        "intervention_required",
        "merchant__cohort",
        "last_activity_at",
    )
    search_fields = ("merchant__legal_business_name", "merchant__lead__email")
    list_select_related = ("merchant", "step")
    date_hierarchy = "created_at"
    fields = (
        "merchant",
        "step",
        "status",
        "started_at",
        "last_activity_at",
        "completed_at",
        "time_spent_seconds",
        "blocked_seconds",
        "blocked_at",
        "blocked_reason",
        "abandoned_at",
        "error_count",
        "last_error",
        "last_error_at",
        "intervention_required",
        "intervention_reason",
        "intervention_triggered_at",
        "step_data",
        "created_at",
        "updated_at",
    )
    readonly_fields = tuple(
        name for name in fields if name not in ("intervention_required", "intervention_reason")
    )
    actions = [
        transition_action(
            lambda progress, *, actor, reason: step_block(
                progress=progress, actor=actor, reason=reason
            ),
            "Block step…",
            name="block",
            needs_reason=True,
            reason_label="What blocks the step",
        ),
        transition_action(
            lambda progress, *, actor: step_unblock(progress=progress, actor=actor),
            "Unblock step",
            name="unblock",
        ),
        transition_action(
            lambda progress, *, actor: step_skip(progress=progress, actor=actor),
            "Skip step (optional steps only)",
            name="skip",
        ),
    ]

    def has_add_permission(self, request):
        # One row per step is created with the merchant (merchant_progress_create).
        return False


@admin.register(StallAlert)
class StallAlertAdmin(TrackedAdmin):
    list_display = (
        "alert_type",
        "subject",
        "step",
        "severity",
        "alert_status",
        "days_stalled",
        "assigned_to",
        "stall_detected_at",
    )
    list_filter = (
        "alert_status",
        "alert_type",
        "severity",
        "merchant__cohort",
        "step",
        "stall_detected_at",
    )
    search_fields = (
        "merchant__legal_business_name",
        "lead__email",
        "lead__business_name",
        "assigned_to__email",
    )
    list_select_related = ("merchant", "lead", "step", "assigned_to")
    date_hierarchy = "stall_detected_at"
    fields = (
        "merchant",
        "lead",
        "queue_assignment",
        "step",
        "alert_type",
        "severity",
        "alert_status",
        "stall_detected_at",
        "days_stalled",
        "current_status",
        "last_activity_at",
        "error_count",
        "assigned_to",
        "assigned_at",
        "resolved_at",
        "resolution_action",
        "notes",
        "created_at",
        "updated_at",
    )
    # Severity may be raised or lowered by hand; the rest is the sweep's finding or the
    # result of the actions below.
    readonly_fields = tuple(name for name in fields if name != "severity")
    actions = [
        transition_action(
            lambda alert, *, actor: alert_claim(alert=alert, agent=actor, actor=actor),
            "Claim (assign to me)",
            name="claim",
        ),
        transition_action(
            lambda alert, *, actor, reason: alert_resolve(alert=alert, actor=actor, action=reason),
            "Resolve…",
            name="resolve",
            needs_reason=True,
            reason_label="What was done",
        ),
        transition_action(
            lambda alert, *, actor, reason: alert_dismiss(alert=alert, actor=actor, reason=reason),
            "Dismiss…",
            name="dismiss",
            needs_reason=True,
            reason_label="Why dismiss it",
        ),
    ]

    def has_add_permission(self, request):
        # Alerts are raised by the stall and SLA sweeps.
        return False

    @admin.display(description="merchant or lead")
    def subject(self, alert):
        return alert.merchant or alert.lead


@admin.register(StallPolicy)
class StallPolicyAdmin(TrackedAdmin):
    list_display = (
        "cohort",
        "stalled_after_days",
        "abandoned_after_days",
        "lost_after_days",
        "error_threshold",
        "high_severity_after_days",
        "critical_severity_after_days",
        "intervention_queue",
    )
    list_filter = ("cohort",)
    search_fields = ("cohort",)
    list_select_related = ("intervention_queue",)


@admin.register(OpsFigures)
class OpsFiguresAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The ops dashboard's kept figures (written by the "ops-figures" job), for reading."""

    list_display = ("name", "computed_at", "duration_ms")
    search_fields = ("name",)
