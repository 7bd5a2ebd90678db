import uuid

from django.db import models
from django.utils import timezone
from django_fsm import FSMField, transition
from simple_history.models import HistoricalRecords

from apps.core.models import BaseModel, StateMachineMixin, choices_check


class IntegrationEvent(models.Model):
    """The outbox: one row per domain event, written in the transaction of the change it
    describes, delivered to its handlers after commit. Rows are never edited except for the
    publishing columns; the row itself is the audit, so it carries no history table."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event_type = models.CharField(max_length=100, db_index=True)
    event_version = models.CharField(max_length=10, default="1.0")
    aggregate_type = models.CharField(max_length=50)
    aggregate_id = models.UUIDField()
    event_payload = models.JSONField(default=dict)
    correlation_id = models.UUIDField(null=True, blank=True, db_index=True)
    causation_id = models.UUIDField(null=True, blank=True)
    published = models.BooleanField(default=False)
    published_at = models.DateTimeField(null=True, blank=True)
    publish_attempts = models.PositiveIntegerField(default=0)
    last_publish_error = models.TextField(blank=True)
    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    # When a dispatcher may take it next (apps/integrations/dispatch.py): now for a new event,
    # the end of a claim's lease while a dispatcher holds it, the end of the backoff after a
    # failed delivery.
    available_at = models.DateTimeField(default=timezone.now)
    partition_key = models.CharField(max_length=50, blank=True)

    class Meta:
        ordering = ["-occurred_at"]
        indexes = [
            models.Index(fields=["aggregate_type", "aggregate_id"], name="event_aggregate"),
            models.Index(
                fields=["occurred_at"],
                name="event_unpublished",
                condition=models.Q(published=False),
            ),
            # The dispatcher's claim: due unpublished events, oldest first.
            models.Index(
                fields=["available_at"],
                name="event_due",
                condition=models.Q(published=False),
            ),
        ]

    def __str__(self):
        return f"{self.event_type} {self.aggregate_type}:{self.aggregate_id}"


class ExternalSystem(models.TextChoices):
    CRM = "crm", "CRM"
    X_SERIES = "x_series", "X-Series"
    PAYMENTS = "payments", "Payments provider"
    HARDWARE = "hardware", "Hardware and shipping"
    BILLING = "billing", "Billing"
    EMAIL = "email", "Email"


class SyncDirection(models.TextChoices):
    TO_EXTERNAL = "to_external", "To external"
    FROM_EXTERNAL = "from_external", "From external"
    BIDIRECTIONAL = "bidirectional", "Both ways"


class SyncStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_PROGRESS = "in_progress", "In progress"
    SYNCED = "synced", "Synced"
    FAILED = "failed", "Failed"
    CONFLICT = "conflict", "Conflict"


# Syncs a person has to act on: the ops pages list them and offer "Retry now" on them only.
ATTENTION_STATUSES = (SyncStatus.FAILED, SyncStatus.CONFLICT)


class ExternalSystemSync(StateMachineMixin, BaseModel):
    """Where one entity stands with one external system, with its retry schedule."""

    entity_type = models.CharField(max_length=50)
    entity_id = models.UUIDField()
    external_system = models.CharField(max_length=50, choices=ExternalSystem.choices)
    external_entity_id = models.CharField(max_length=255, blank=True)
    sync_status = FSMField(
        max_length=50, choices=SyncStatus.choices, default=SyncStatus.PENDING, protected=True
    )
    direction = models.CharField(
        max_length=50, choices=SyncDirection.choices, default=SyncDirection.TO_EXTERNAL
    )
    last_event = models.ForeignKey(
        IntegrationEvent, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    synced_snapshot = models.JSONField(
        default=dict,
        blank=True,
        help_text="Field values both sides agreed on at the last sync (conflict detection).",
    )
    conflict_fields = models.JSONField(default=list, blank=True)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    next_retry_at = models.DateTimeField(null=True, blank=True)
    retry_count = models.PositiveIntegerField(default=0)
    max_retries = models.PositiveIntegerField(default=3)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-updated_at"]
        verbose_name = "external system sync"
        permissions = [("retry_sync", "Can retry a failed or conflicting sync")]
        constraints = [
            choices_check("sync_status", SyncStatus, name="sync_valid_status"),
            choices_check("direction", SyncDirection, name="sync_valid_direction"),
            models.UniqueConstraint(
                fields=["entity_type", "entity_id", "external_system"],
                name="sync_one_per_entity_system",
            ),
        ]
        indexes = [
            models.Index(fields=["external_system"], name="sync_system"),
            models.Index(fields=["sync_status"], name="sync_status"),
            models.Index(
                fields=["next_retry_at"],
                name="sync_due_retry",
                condition=models.Q(sync_status="failed"),
            ),
        ]

    def __str__(self):
        return f"{self.entity_type}:{self.entity_id} → {self.external_system}"

    @property
    def needs_a_person(self) -> bool:
        """Failed or conflicting: what a person may retry (see ATTENTION_STATUSES)."""
        return self.sync_status in ATTENTION_STATUSES

    @transition(
        field=sync_status,
        source=[SyncStatus.PENDING, SyncStatus.FAILED],
        target=SyncStatus.IN_PROGRESS,
        custom={"label": "start syncing"},
    )
    def start(self):
        self.next_retry_at = None
        self.conflict_fields = []

    @transition(
        field=sync_status,
        source=SyncStatus.IN_PROGRESS,
        target=SyncStatus.SYNCED,
        custom={"label": "mark synced"},
    )
    def succeed(self, external_entity_id: str = ""):
        self.last_sync_at = timezone.now()
        self.external_entity_id = external_entity_id or self.external_entity_id
        self.retry_count = 0
        self.last_error = ""

    @transition(
        field=sync_status,
        source=SyncStatus.IN_PROGRESS,
        target=SyncStatus.FAILED,
        custom={"label": "mark failed"},
    )
    def fail(self, error: str = "", next_retry_at=None, permanent: bool = False):
        now = timezone.now()
        self.retry_count = self.max_retries if permanent else self.retry_count + 1
        self.last_error = error
        self.last_error_at = now
        self.next_retry_at = next_retry_at

    @transition(
        field=sync_status,
        source=SyncStatus.IN_PROGRESS,
        target=SyncStatus.CONFLICT,
        custom={"label": "mark conflicting"},
    )
    def flag_conflict(self, detail: str = ""):
        self.last_error = detail
        self.last_error_at = timezone.now()

    @transition(
        field=sync_status,
        source=[SyncStatus.SYNCED, SyncStatus.FAILED, SyncStatus.CONFLICT],
        target=SyncStatus.PENDING,
        custom={"label": "queue again"},
    )
    def requeue(self):
        """A new change to send, or a person asked for a retry."""
        self.retry_count = 0
        self.next_retry_at = None


class WebhookStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSING = "processing", "Processing"
    PROCESSED = "processed", "Processed"
    FAILED = "failed", "Failed"
    REJECTED = "rejected", "Rejected"


class WebhookEvent(StateMachineMixin, BaseModel):
    """The inbox: each inbound webhook stored once, then processed by a task."""

    provider = models.CharField(max_length=50)
    external_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=100, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    signature_valid = models.BooleanField(default=False)
    status = FSMField(
        max_length=50, choices=WebhookStatus.choices, default=WebhookStatus.RECEIVED, protected=True
    )
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    # Processed, but its handler changed nothing, and why (e.g. a decision for a check we
    # never sent, or for a case only a reviewer may decide now).
    ignored_reason = models.TextField(blank=True)
    # Who sent the request and what its body was, without keeping it: a rejected row's
    # payload stays empty (the sender was not authenticated).
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    body_size = models.PositiveIntegerField(default=0)
    body_sha256 = models.CharField(max_length=64, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            choices_check("status", WebhookStatus, name="webhook_valid_status"),
            # Rejected (forged or malformed) rows must not block the genuine event's id.
            models.UniqueConstraint(
                fields=["provider", "external_id"],
                condition=~models.Q(status="rejected"),
                name="webhook_once_per_provider_id",
            ),
        ]
        indexes = [
            models.Index(fields=["status"], name="webhook_status"),
            # The per-source cap counts a source's rejected rows of the last minute.
            models.Index(
                fields=["source_ip", "received_at"],
                condition=models.Q(status="rejected"),
                name="webhook_rejected_by_source",
            ),
        ]

    def __str__(self):
        return f"{self.provider}:{self.external_id} ({self.status})"

    @transition(
        field=status,
        source=[WebhookStatus.RECEIVED, WebhookStatus.FAILED],
        target=WebhookStatus.PROCESSING,
        custom={"label": "start processing"},
    )
    def start_processing(self):
        self.attempts += 1

    @transition(
        field=status,
        source=WebhookStatus.PROCESSING,
        target=WebhookStatus.PROCESSED,
        custom={"label": "mark processed"},
    )
    def mark_processed(self, ignored_reason: str = ""):
        self.processed_at = timezone.now()
        self.error = ""
        self.ignored_reason = ignored_reason

    @transition(
        field=status,
        source=WebhookStatus.PROCESSING,
        target=WebhookStatus.FAILED,
        custom={"label": "mark failed"},
    )
    def mark_failed(self, error: str = ""):
        self.error = error

    @transition(
        field=status,
        source=WebhookStatus.RECEIVED,
        target=WebhookStatus.REJECTED,
        custom={"label": "reject"},
    )
    def reject(self, error: str = ""):
        self.error = error


# --- Sandbox providers


class SandboxLedgerEntry(models.Model):
    """One remote effect performed by a sandbox provider: what a real provider would keep on
    its side. Unique per (system, operation, idempotency key), so a repeated call finds its
    first answer here instead of acting twice; tests count rows to count remote effects.
    Requests are stored with PII masked (last 4 only)."""

    system = models.CharField(max_length=50, choices=ExternalSystem.choices)
    operation = models.CharField(max_length=100)
    idempotency_key = models.CharField(max_length=255)
    request = models.JSONField(default=dict, blank=True)
    response = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "sandbox ledger entry"
        verbose_name_plural = "sandbox ledger"
        constraints = [
            models.UniqueConstraint(
                fields=["system", "operation", "idempotency_key"],
                name="sandbox_ledger_once_per_key",
            ),
        ]

    def __str__(self):
        return f"{self.system}.{self.operation} [{self.idempotency_key}]"


class SandboxFaultKind(models.TextChoices):
    RETRYABLE = "retryable", "Retryable error (outage, 5xx)"
    PERMANENT = "permanent", "Permanent error (4xx)"
    LATENCY = "latency", "Latency only (the call then succeeds)"


class SandboxFault(models.Model):
    """A simulated outage or slowness of a sandbox provider, shared by every process through
    the database. Each matching call consumes one: it waits `latency_ms`, then fails with
    `kind` (a latency fault lets the call go on). `remaining_failures` null: until removed."""

    system = models.CharField(max_length=50, choices=ExternalSystem.choices)
    operation = models.CharField(max_length=100, default="*", help_text='"*": every operation')
    remaining_failures = models.PositiveIntegerField(
        null=True, blank=True, help_text="Calls still affected; empty: until removed."
    )
    kind = models.CharField(
        max_length=20, choices=SandboxFaultKind.choices, default=SandboxFaultKind.RETRYABLE
    )
    message = models.CharField(max_length=255, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [choices_check("kind", SandboxFaultKind, name="sandbox_fault_valid_kind")]

    def __str__(self):
        times = "until removed" if self.remaining_failures is None else self.remaining_failures
        return f"{self.system}.{self.operation}: {self.kind} ({times})"
