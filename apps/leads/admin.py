from django.contrib import admin
from django.db import models

from apps.core.admin import ReadOnlyAdminMixin, TrackedAdmin, transition_action
from apps.leads.models import Lead, LeadSubmission
from apps.leads.services import (
    lead_disqualify,
    lead_mark_contacted,
    lead_mark_lost,
    lead_profile,
)

CLOSE_REASON_HELP = "Kept on the lead and in its history."


class SourceFilter(admin.SimpleListFilter):
    """The spec's sources as fixed choices: Django's default filter would read every distinct
    value of the column on each page view (a full scan at 100k leads)."""

    title = "source"
    parameter_name = "source"
    SOURCES = ("organic", "paid", "referral", "partner", "account_signup")

    def lookups(self, request, model_admin):
        return [(source, source.replace("_", " ")) for source in self.SOURCES]

    def queryset(self, request, queryset):
        return queryset.filter(source=self.value()) if self.value() else queryset


@admin.register(Lead)
class LeadAdmin(TrackedAdmin):
    # At 100k leads the changelist stays keyed: no distinct-value filters, no date bar (a
    # DISTINCT over every creation month), no second full count, 50 rows to render.
    list_display = (
        "__str__",
        "email",
        "status",
        "cohort",
        "selling_plan",
        "assigned_ae",
        "source",
        "created_at",
        "contacted_at",
    )
    list_filter = (
        "status",
        "cohort",
        "selling_plan",
        "setup_plan",
        "stage",
        SourceFilter,
        "created_at",
        "contacted_at",
    )
    search_fields = (
        "email",
        "business_name",
        "first_name",
        "last_name",
        "phone",
        "external_lead_id",
        "crm_lead_id",
    )
    list_select_related = ("assigned_ae",)
    list_per_page = 50
    show_full_result_count = False
    autocomplete_fields = ("assigned_ae", "assigned_ic")
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fieldsets = (
        ("Contact", {"fields": ("email", "phone", "first_name", "last_name")}),
        (
            "Business",
            {
                "fields": (
                    "business_name",
                    "business_category",
                    "business_type",
                    "annual_revenue_estimate",
                    "number_of_locations",
                    "country_code",
                    "region",
                    "language_code",
                    "timezone",
                )
            },
        ),
        (
            "Status",
            {
                "fields": (
                    "status",
                    "stage",
                    "contacted_at",
                    "qualified_at",
                    "converted_at",
                    "closed_at",
                    "close_reason",
                ),
                "description": "Changed by the actions of the lead list, never by hand.",
            },
        ),
        (
            "Cohort",
            {
                "fields": (
                    "cohort",
                    "selling_plan",
                    "setup_plan",
                    "gtv_score",
                    "complexity_score",
                    "risk_score",
                    "score_inputs",
                    "matched_rule",
                    "cohort_reason",
                    "profiled_at",
                    "cohort_overridden_at",
                    "cohort_overridden_by",
                    "cohort_override_reason",
                ),
                "description": (
                    "Set by profiling; an AE overrides the cohort with a reason on the staff "
                    "lead page."
                ),
            },
        ),
        (
            "Assignment",
            {"fields": ("assigned_ae", "ae_contacted_at", "assigned_ic", "ic_contacted_at")},
        ),
        (
            "Source",
            {
                "fields": (
                    "source",
                    "campaign_id",
                    "utm_source",
                    "utm_medium",
                    "utm_campaign",
                    "referrer",
                    "external_lead_id",
                    "crm_lead_id",
                ),
                "classes": ("collapse",),
            },
        ),
        ("Record", {"fields": ("created_at", "updated_at", "deleted_at")}),
    )
    readonly_fields = (
        "stage",
        "contacted_at",
        "qualified_at",
        "converted_at",
        "closed_at",
        "close_reason",
        "cohort",
        "selling_plan",
        "setup_plan",
        "gtv_score",
        "complexity_score",
        "risk_score",
        "score_inputs",
        "matched_rule",
        "cohort_reason",
        "profiled_at",
        "cohort_overridden_at",
        "cohort_overridden_by",
        "cohort_override_reason",
        "ae_contacted_at",
        "ic_contacted_at",
        "external_lead_id",
        "deleted_at",
    )
    actions = [
        transition_action(
            lambda lead, *, actor: lead_profile(lead=lead, actor=actor, reason="admin"),
            "Profile again",
            name="profile_again",
        ),
        transition_action(
            lambda lead, *, actor: lead_mark_contacted(lead=lead, actor=actor),
            "Mark contacted",
            name="mark_contacted",
        ),
        transition_action(
            lambda lead, *, actor, reason: lead_disqualify(lead=lead, actor=actor, reason=reason),
            "Disqualify…",
            name="disqualify",
            needs_reason=True,
            reason_label="Why is the lead disqualified",
            reason_help=CLOSE_REASON_HELP,
        ),
        transition_action(
            lambda lead, *, actor, reason: lead_mark_lost(lead=lead, actor=actor, reason=reason),
            "Mark lost…",
            name="mark_lost",
            needs_reason=True,
            reason_label="Why is the lead lost",
            reason_help=CLOSE_REASON_HELP,
        ),
    ]

    def has_add_permission(self, request):
        # Leads arrive through lead capture (page, API, marketing webhook), which profiles
        # and routes them; a lead typed in here would skip both.
        return False


@admin.register(LeadSubmission)
class LeadSubmissionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Repeats of the Get started form kept beside their lead: a record, never edited."""

    list_display = ("lead", "created_at", "source", "utm_source", "utm_campaign")
    list_select_related = ("lead",)
    search_fields = ("lead__email",)
    date_hierarchy = None
    raw_id_fields = ("lead",)
