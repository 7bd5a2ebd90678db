"""Step 8 (optional): import products and customers from CSV files. All or nothing per
file; the errors are listed by line; "Done with imports" completes the step and "Skip this
step" skips it."""

from django.conf import settings
from django.views.decorators.http import require_http_methods, require_POST

from apps.merchants.access import merchant_required
from apps.merchants.choices import DataImportStatus
from apps.merchants.forms_setup import DataImportForm
from apps.merchants.selectors.data_import import data_import_counts, data_import_list
from apps.merchants.selectors.steps import DATA_IMPORT_STEP, HARDWARE_SETUP_STEP, step_page_url
from apps.merchants.services import data_import as data_import_services
from apps.merchants.validators import IMPORT_COLUMNS, human_size
from apps.merchants.views.setup import (
    call_service,
    done_response,
    fresh_merchant,
    gate_context,
    page_response,
    refusal_status,
)

TEMPLATE = "merchants/data_import.html"
IMPORTED = "{count} {kind} imported from {filename}."
IMPORTED_WITH_UPDATES = (
    "{count} {kind} imported from {filename} ({updated} already there, updated)."
)
IMPORT_REFUSED = (
    "Nothing was imported from {filename}: correct these problems and upload it again."
)
IMPORTS_DONE = "Data import done: step 8 is complete."
IMPORTS_SKIPPED = "Data import skipped. You can still ask your implementation consultant later."


def import_summary(record) -> str:
    kind = record.get_kind_display().lower()
    if record.row_count == 1:
        kind = kind.rstrip("s")
    if record.updated_count:
        return IMPORTED_WITH_UPDATES.format(
            count=record.row_count,
            kind=kind,
            filename=record.filename,
            updated=record.updated_count,
        )
    return IMPORTED.format(count=record.row_count, kind=kind, filename=record.filename)


def _context(request, *, form=None, error: str = "", notice: str = "", result=None) -> dict:
    merchant = fresh_merchant(request)
    context = {"merchant": merchant, "error": error, "notice": notice, "result": result}
    context.update(gate_context(merchant, DATA_IMPORT_STEP))
    if context["locked"]:
        return context
    context.update(
        form=form if form is not None else DataImportForm(),
        imports=data_import_list(merchant=merchant),
        counts=data_import_counts(merchant=merchant),
        columns=IMPORT_COLUMNS,
        max_size=human_size(settings.DATA_IMPORT_MAX_BYTES),
        max_rows=f"{settings.DATA_IMPORT_MAX_ROWS:,}",
        done=context["gate"].done,
        next_url=step_page_url(HARDWARE_SETUP_STEP),
    )
    context["has_import"] = any(
        record.status == DataImportStatus.COMPLETED for record in context["imports"]
    )
    return context


def _page(request, *, status: int = 200, **context):
    return page_response(
        request, TEMPLATE, _context(request, **context), main="import_main", status=status
    )


@merchant_required
@require_http_methods(["GET", "POST"])
def data_import(request):
    """/data-import/: GET the upload form and past imports; POST imports one CSV file:
    the summary, or 422 with the problems by line and nothing saved."""
    if request.method == "GET":
        return _page(request)
    form = DataImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, form=form, status=422)
    result = []

    def run():
        result.append(
            data_import_services.data_import_run(
                merchant=request.merchant,
                kind=form.cleaned_data["kind"],
                upload=form.cleaned_data["file"],
                actor=request.user,
            )
        )

    refusal = call_service(run)
    if refusal is not None:
        return _page(request, form=form, error=refusal.message, status=refusal_status(refusal))
    record = result[0]
    if record.status == DataImportStatus.FAILED:
        return _page(
            request,
            error=IMPORT_REFUSED.format(filename=record.filename),
            result=record,
            status=422,
        )
    return done_response(
        request,
        url_name="merchants:data_import",
        notice=import_summary(record),
        rerender=lambda message: _page(request, notice=message),
    )


@merchant_required
@require_POST
def data_import_done(request):
    refusal = call_service(
        lambda: data_import_services.data_import_finish(
            merchant=request.merchant, actor=request.user
        )
    )
    if refusal is not None:
        return _page(request, error=refusal.message, status=refusal_status(refusal))
    return done_response(
        request,
        url_name="merchants:data_import",
        notice=IMPORTS_DONE,
        rerender=lambda message: _page(request, notice=message),
    )


@merchant_required
@require_POST
def data_import_skip(request):
    refusal = call_service(
        lambda: data_import_services.data_import_skip(
            merchant=request.merchant, actor=request.user
        )
    )
    if refusal is not None:
        return _page(request, error=refusal.message, status=refusal_status(refusal))
    return done_response(
        request,
        url_name="merchants:data_import",
        notice=IMPORTS_SKIPPED,
        rerender=lambda message: _page(request, notice=message),
    )
