"""Step 8 (optional): importing products and customers from CSV files, all or nothing per
file; "done with imports" completes the step once a file was imported, "skip" skips it."""

import os

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from apps.core.errors import DomainError, TransitionRefused
from apps.core.fsm import save_tracked
from apps.integrations.outbox import event_emit
from apps.merchants import validators
from apps.merchants.choices import DataImportKind, DataImportStatus
from apps.merchants.models import DataImport, ImportedCustomer, ImportedProduct, Merchant
from apps.merchants.services.steps import (
    STEP_ALREADY_DONE,
    _setup_gate,
    _setup_step_fail,
    _setup_step_finish,
    _setup_step_open,
)
from apps.progress.models import DONE_STEP_STATUSES
from apps.progress.services import step_skip

IMPORT_KIND_UNKNOWN = "Choose what the file holds: products or customers."
IMPORT_DONE_NEEDS_AN_IMPORT = "Import a file first, or skip this step."
IMPORT_ERRORS_KEPT = 100
IMPORT_MORE_ERRORS = "… and {count} more problems."


def _import_upsert(merchant: Merchant, record, rows: list[dict], *, actor) -> tuple[int, int]:
    """Create the new rows and update those already imported (same SKU / email), with
    history. Returns (created, updated)."""
    if record.kind == DataImportKind.PRODUCTS:
        model, key, fields = ImportedProduct, "sku", ["name", "price", "quantity", "category"]
    else:
        model, key, fields = ImportedCustomer, "email", ["first_name", "last_name", "phone"]
    existing = {
        getattr(obj, key): obj
        for obj in model.objects.select_for_update().filter(
            merchant=merchant, **{f"{key}__in": [row[key] for row in rows]}
        )
    }
    now = timezone.now()
    created, updated = [], []
    for row in rows:
        obj = existing.get(row[key])
        if obj is None:
            obj = model(merchant=merchant, data_import=record, **{key: row[key]})
            created.append(obj)
        else:
            obj.data_import = record
            obj.updated_at = now
            updated.append(obj)
        for name in fields:
            setattr(obj, name, row[name])
    reason = f"data_import_run: {record.filename}"
    if created:
        bulk_create_with_history(
            created, model, batch_size=500, default_user=actor, default_change_reason=reason
        )
    if updated:
        bulk_update_with_history(
            updated,
            model,
            [*fields, "data_import", "updated_at"],
            batch_size=500,
            default_user=actor,
            default_change_reason=reason,
        )
    return len(created), len(updated)


def data_import_run(*, merchant: Merchant, kind: str, upload, actor):
    """Import one CSV of products or customers (step 8, which this starts). All or nothing:
    every row is checked first; one bad row, a wrong header, a wrong encoding or a file over
    the limits (settings DATA_IMPORT_MAX_BYTES / DATA_IMPORT_MAX_ROWS) saves no row and
    records the refused import with its errors by line (and counts an error on step 8).
    Rows already imported (same SKU or email) are updated. Returns the DataImport."""
    if kind not in DataImportKind.values:
        raise DomainError(IMPORT_KIND_UNKNOWN, code="import_kind_unknown")
    with transaction.atomic():
        _setup_step_open(merchant, 8, actor)
    limit = settings.DATA_IMPORT_MAX_BYTES
    filename = os.path.basename(str(getattr(upload, "name", "") or "upload.csv"))[:255]
    size = getattr(upload, "size", None)
    content = b"" if size is not None and size > limit else upload.read(limit + 1)
    if (size is not None and size > limit) or len(content) > limit:
        parsed = validators.ParsedImport(
            errors=[validators.import_too_large_message(max(size or 0, len(content)), limit)]
        )
    else:
        parsed = validators.parse_import_csv(
            kind, content, max_rows=settings.DATA_IMPORT_MAX_ROWS
        )
    record = DataImport(
        merchant=merchant,
        kind=kind,
        filename=filename,
        row_count=parsed.row_count,
        created_by=actor,
    )
    if parsed.errors:
        errors = parsed.errors[:IMPORT_ERRORS_KEPT]
        if len(parsed.errors) > IMPORT_ERRORS_KEPT:
            errors.append(IMPORT_MORE_ERRORS.format(count=len(parsed.errors) - IMPORT_ERRORS_KEPT))
        record.status = DataImportStatus.FAILED
        record.errors = errors
        with transaction.atomic():
            save_tracked(record, actor=actor, reason="data_import_run: refused")
            _setup_step_fail(
                merchant,
                8,
                actor=actor,
                error=f"Import of {filename} refused: {len(parsed.errors)} problem(s).",
            )
            event_emit(
                event_type="data_import.failed",
                aggregate=record,
                payload={"kind": kind, "errors": len(parsed.errors)},
            )
        return record
    with transaction.atomic():
        record.status = DataImportStatus.COMPLETED
        save_tracked(record, actor=actor, reason="data_import_run")
        record.created_count, record.updated_count = _import_upsert(
            merchant, record, parsed.rows, actor=actor
        )
        save_tracked(
            record,
            actor=actor,
            reason="data_import_run: counts",
            update_fields=["created_count", "updated_count", "updated_at"],
        )
        event_emit(
            event_type="data_import.completed",
            aggregate=record,
            payload={
                "kind": kind,
                "rows": record.row_count,
                "created": record.created_count,
                "updated": record.updated_count,
            },
        )
    return record


def _step_not_done(merchant: Merchant, step_id: int):
    gate = _setup_gate(merchant, step_id)
    if gate.status in DONE_STEP_STATUSES:
        raise TransitionRefused(STEP_ALREADY_DONE, code="step_done")
    return gate


def data_import_finish(*, merchant: Merchant, actor) -> None:
    """"Done with imports": step 8 completed, once at least one file was imported."""
    with transaction.atomic():
        _step_not_done(merchant, 8)
        if not merchant.data_imports.filter(status=DataImportStatus.COMPLETED).exists():
            raise DomainError(IMPORT_DONE_NEEDS_AN_IMPORT, code="no_import")
        _setup_step_open(merchant, 8, actor)
        _setup_step_finish(merchant, 8, actor=actor)


def data_import_skip(*, merchant: Merchant, actor) -> None:
    """"Skip this step": data import is optional."""
    with transaction.atomic():
        _step_not_done(merchant, 8)
        progress = _setup_step_open(merchant, 8, actor)
        step_skip(progress=progress, actor=actor)
