from django.contrib import admin

from apps.core.admin import ReadOnlyAdminMixin, TrackedAdmin, transition_action
from apps.integrations.delivery import sync_retry_now
from apps.integrations.models import (
    ExternalSystemSync,
    IntegrationEvent,
    SandboxFault,
    SandboxLedgerEntry,
    WebhookEvent,
)

RETRY_PERMISSION = "integrations.retry_sync"


@admin.register(IntegrationEvent)
class IntegrationEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The outbox: the row is the record of what happened, so nobody edits it."""

    list_display = (
        "event_type",
        "aggregate_type",
        "aggregate_id",
        "published",
        "publish_attempts",
        "occurred_at",
        "published_at",
    )
    list_filter = ("published", "aggregate_type", "event_type", "occurred_at")
    search_fields = ("event_type", "aggregate_id", "correlation_id", "id")
    date_hierarchy = "occurred_at"


@admin.register(ExternalSystemSync)
class ExternalSystemSyncAdmin(TrackedAdmin):
    list_display = (
        "__str__",
        "external_system",
        "sync_status",
        "direction",
        "retry_count",
        "max_retries",
        "next_retry_at",
        "last_sync_at",
        "last_error_at",
    )
    list_filter = (
        "sync_status",
        "external_system",
        "direction",
        "entity_type",
        "last_error_at",
        "last_sync_at",
    )
    search_fields = ("entity_id", "external_entity_id", "entity_type", "last_error")
    date_hierarchy = "updated_at"
    fields = (
        "entity_type",
        "entity_id",
        "external_system",
        "external_entity_id",
        "direction",
        "sync_status",
        "last_event",
        "last_sync_at",
        "next_retry_at",
        "retry_count",
        "max_retries",
        "last_error",
        "last_error_at",
        "created_at",
        "updated_at",
    )
    readonly_fields = tuple(name for name in fields if name != "max_retries")
    actions = [
        transition_action(
            lambda sync, *, actor: sync_retry_now(
                sync=sync, actor=actor, reason="retry from admin"
            ),
            "Retry (queue again)",
            name="retry",
            permissions=["retry_sync"],
        ),
    ]

    def has_add_permission(self, request):
        # Sync rows are written by the event handlers, one per entity and system.
        return False

    def has_retry_sync_permission(self, request):
        return request.user.has_perm(RETRY_PERMISSION)


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdminMixin, TrackedAdmin):
    """The inbox: inbound webhooks as received, and how their processing went. A rejected
    request keeps who sent it, its size and hash, not its body (the payload is empty)."""

    list_display = (
        "provider",
        "external_id",
        "event_type",
        "status",
        "signature_valid",
        "source_ip",
        "body_size",
        "attempts",
        "received_at",
        "processed_at",
    )
    list_filter = ("status", "provider", "event_type", "signature_valid", "received_at")
    search_fields = ("external_id", "event_type", "provider", "source_ip", "body_sha256")
    date_hierarchy = "received_at"


@admin.register(SandboxLedgerEntry)
class SandboxLedgerEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """What the sandbox providers did "remotely": one row per effect (PII masked)."""

    list_display = ("system", "operation", "idempotency_key", "created_at")
    list_filter = ("system", "operation", "created_at")
    search_fields = ("idempotency_key", "operation")
    date_hierarchy = "created_at"


@admin.register(SandboxFault)
class SandboxFaultAdmin(admin.ModelAdmin):
    """Simulated outages and slowness of the sandbox providers, for demos and drills."""

    list_display = ("system", "operation", "kind", "remaining_failures", "latency_ms", "created_at")
    list_filter = ("system", "kind")
