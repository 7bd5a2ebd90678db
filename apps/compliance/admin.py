"""Audit rows are append-only (STYLE.md "Audit"): readable by compliance in the admin,
never added, changed or deleted there, not even by a superuser."""

from django.contrib import admin

from apps.compliance.models import (
    AccessAlert,
    DataAccessAuditLog,
    KybKycAuditLog,
    RetentionRun,
)
from apps.core.admin import ReadOnlyAdminMixin


@admin.register(KybKycAuditLog)
class KybKycAuditLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "submitted_at",
        "check_type",
        "merchant",
        "person",
        "decision",
        "check_provider",
        "reviewed_by",
        "manual_override",
        "completed_at",
    )
    list_filter = ("check_type", "decision", "manual_override", "check_provider", "submitted_at")
    search_fields = (
        "merchant__legal_business_name",
        "person__first_name",
        "person__last_name",
        "person__email",
        "check_reference",
        "reviewed_by__email",
    )
    list_select_related = ("merchant", "person", "reviewed_by")
    date_hierarchy = "submitted_at"


@admin.register(DataAccessAuditLog)
class DataAccessAuditLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "accessed_at",
        "user_email",
        "user_role",
        "action",
        "entity_type",
        "entity_id",
        "fields_accessed",
        "access_reason",
    )
    list_filter = ("action", "entity_type", "user_role", "accessed_at")
    search_fields = ("user_email", "entity_id", "ticket_reference", "access_reason")
    date_hierarchy = "accessed_at"


@admin.register(AccessAlert)
class AccessAlertAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("raised_at", "user_email", "reveal_count", "merchant_count", "window_minutes")
    search_fields = ("user_email",)
    date_hierarchy = "raised_at"


@admin.register(RetentionRun)
class RetentionRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("started_at", "finished_at", "dry_run", "triggered_by", "counts")
    list_filter = ("dry_run", "triggered_by")
    date_hierarchy = "started_at"
