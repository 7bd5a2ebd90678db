import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.core.models import choices_check


class AppendOnlyError(Exception):
    pass


class AppendOnlyQuerySet(models.QuerySet):
    """Bulk update and delete would bypass the model's guard: refuse them too. On
    PostgreSQL a trigger refuses UPDATE and DELETE as well, whoever sends them (migration
    0003); only the retention job may delete, past the retention period."""

    def update(self, **kwargs):
        raise AppendOnlyError("Audit rows cannot be changed.")

    def bulk_update(self, objs, fields, batch_size=None):
        raise AppendOnlyError("Audit rows cannot be changed.")

    def delete(self):
        raise AppendOnlyError("Audit rows cannot be deleted.")

    def update_or_create(self, *args, **kwargs):
        raise AppendOnlyError("Audit rows cannot be changed.")

    def retention_delete(self) -> int:
        """The retention job's path (apps/compliance/retention.py), and no one else's: one
        DELETE without signals or cascades. The database trigger lets it through only in a
        transaction that said it is the retention job (retention.RETENTION_SETTING)."""
        return models.QuerySet._raw_delete(self, self.db)


class AppendOnlyModel(models.Model):
    """Audit rows are written once and never changed or deleted, by anyone."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError(f"{self._meta.verbose_name} rows cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(f"{self._meta.verbose_name} rows cannot be deleted.")


class CheckType(models.TextChoices):
    KYB = "kyb", "KYB (business)"
    KYC = "kyc", "KYC (person)"


class Decision(models.TextChoices):
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    REVIEW_REQUIRED = "review_required", "Review required"
    PENDING = "pending", "Pending"


class KybKycAuditLog(AppendOnlyModel):
    """One row per KYB/KYC decision, by the provider or by a person (rule 10)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    merchant = models.ForeignKey(
        "merchants.Merchant",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="kyb_kyc_audit",
    )
    person = models.ForeignKey(
        "merchants.MerchantPerson",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="kyc_audit",
    )
    check_type = models.CharField(max_length=50, choices=CheckType.choices)
    check_provider = models.CharField(max_length=100, blank=True)
    check_reference = models.CharField(max_length=255, blank=True)
    request_payload = models.JSONField(null=True, blank=True)
    response_payload = models.JSONField(null=True, blank=True)
    decision = models.CharField(max_length=50, choices=Decision.choices)
    risk_score = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewer_notes = models.TextField(blank=True)
    manual_override = models.BooleanField(default=False)
    submitted_at = models.DateTimeField()
    completed_at = models.DateTimeField()
    retention_until = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-submitted_at"]
        verbose_name = "KYB/KYC audit log"
        permissions = [("export_audit", "Can export a merchant's audit timeline")]
        constraints = [
            choices_check("check_type", CheckType, name="kyb_kyc_valid_check_type"),
            choices_check("decision", Decision, name="kyb_kyc_valid_decision"),
            models.CheckConstraint(
                condition=models.Q(merchant__isnull=False) | models.Q(person__isnull=False),
                name="kyb_kyc_has_subject",
            ),
        ]
        indexes = [
            models.Index(fields=["check_type"], name="kyb_kyc_type"),
            models.Index(fields=["decision"], name="kyb_kyc_decision"),
            models.Index(fields=["-submitted_at"], name="kyb_kyc_submitted"),
        ]

    def __str__(self):
        return f"{self.get_check_type_display()} {self.decision} · {self.merchant or self.person}"


class AccessAction(models.TextChoices):
    READ = "read", "Read"
    CREATE = "create", "Create"
    UPDATE = "update", "Update"
    DELETE = "delete", "Delete"
    EXPORT = "export", "Export"
    DECRYPT = "decrypt", "Reveal (decrypt)"


class DataAccessAuditLog(AppendOnlyModel):
    """Every staff read of unmasked PII (rule 9)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    user_email = models.EmailField(max_length=255, blank=True)
    user_role = models.CharField(max_length=50, blank=True)
    action = models.CharField(max_length=50, choices=AccessAction.choices)
    entity_type = models.CharField(max_length=50)
    entity_id = models.UUIDField()
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.TextField(blank=True)
    # The merchant the accessed data belongs to (its own row, a person's or a bank
    # account's), so the log is searchable by merchant. No foreign key: the log outlives
    # anything it names and must never block or cascade.
    merchant_id = models.UUIDField(null=True, blank=True, db_index=True)
    api_endpoint = models.CharField(max_length=255, blank=True)
    request_id = models.UUIDField(null=True, blank=True)
    fields_accessed = models.JSONField(default=list)
    access_reason = models.TextField(blank=True)
    ticket_reference = models.CharField(max_length=100, blank=True)
    accessed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-accessed_at"]
        verbose_name = "data access audit log"
        constraints = [choices_check("action", AccessAction, name="data_access_valid_action")]
        indexes = [
            models.Index(fields=["entity_type", "entity_id"], name="data_access_entity"),
            models.Index(fields=["-accessed_at"], name="data_access_time"),
            models.Index(fields=["user", "-accessed_at"], name="data_access_user_time"),
        ]

    def __str__(self):
        return f"{self.user_email} {self.action} {self.entity_type}:{self.entity_id}"


class AccessAlert(models.Model):
    """Ops are told of one user revealing much within a short window (settings
    REVEAL_ALERT_COUNT reveals in REVEAL_ALERT_WINDOW_MINUTES): shown on the compliance
    operations page (/staff/compliance/operations/) and emailed to the ops role."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    user_email = models.EmailField(max_length=255, blank=True)
    reveal_count = models.PositiveIntegerField()
    window_minutes = models.PositiveIntegerField()
    merchant_count = models.PositiveIntegerField(default=0)
    raised_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-raised_at"]
        verbose_name = "data access alert"

    def __str__(self):
        return f"{self.user_email}: {self.reveal_count} reveals in {self.window_minutes} min"


class RetentionRun(models.Model):
    """One run of the retention job (apps/compliance/retention.py) and what it did, per
    kind of data: counts only, never what was removed."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    dry_run = models.BooleanField(default=False)
    triggered_by = models.CharField(max_length=100, blank=True, help_text="schedule, command")
    counts = models.JSONField(default=dict)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self):
        kind = "dry run" if self.dry_run else "applied"
        return f"retention run {self.started_at:%Y-%m-%d %H:%M} ({kind})"
