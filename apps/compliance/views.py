"""Compliance pages: the KYB review queue (decide with notes), a merchant's audit timeline
with its CSV export and its state at any past moment, the data access log, the decision log
export, reveal with reason, and the operations page (retention runs, data access alerts).
For the compliance role (and superusers), except: reveal is for the compliance role only
(apps/compliance/reveal.py says why), the operations page for ops and compliance."""

import csv
import uuid
from datetime import UTC, datetime, time

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.dateparse import parse_date, parse_datetime
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import reswap, retarget

from apps.accounts import roles
from apps.compliance import reveal, selectors
from apps.compliance.as_of import merchant_state
from apps.compliance.csv_export import cell, csv_response
from apps.compliance.forms import (
    AccessLogFilterForm,
    DecisionExportForm,
    KybDecisionForm,
    RevealForm,
)
from apps.compliance.models import AccessAction, AccessAlert, RetentionRun
from apps.compliance.services import data_access_record
from apps.core.errors import ActionForbidden, DomainError, TransitionRefused
from apps.core.pagination import paginate
from apps.core.permissions import role_required
from apps.merchants.choices import CheckStatus
from apps.merchants.services.kyb import merchant_kyb_review_decide

REVIEW_TEMPLATE = "compliance/review.html"
AUDIT_TEMPLATE = "compliance/audit.html"
PAGE_SIZE = 25
EXPORT_PERMISSION = "compliance.export_audit"
EXPORT_FORBIDDEN = "You do not have permission to export audit timelines."
EXPORT_REASON = "Audit timeline exported from the compliance pages"
DECIDED = {
    CheckStatus.APPROVED: "KYB approved for {name}.",
    CheckStatus.REJECTED: "KYB rejected for {name}; the merchant sees your notes.",
}
UNKNOWN_KIND = "Unknown kind of entry: choose from the list."
CSV_COLUMNS = ["when", "kind", "subject", "who", "what", "why", "details"]


def _review_context(request, *, failed_case=None):
    page = paginate(request, selectors.kyb_review_list(), per_page=PAGE_SIZE)
    cases = []
    for merchant in page.object_list:
        case = selectors.review_case(merchant)
        if failed_case is not None and failed_case.pk == case.pk:
            case.form, case.message, case.message_level = (
                failed_case.form,
                failed_case.message,
                "error",
            )
        else:
            case.form = KybDecisionForm()
        cases.append(case)
    query = request.GET.get("q", "").strip()
    return {
        "page": page,
        "cases": cases,
        "query": query,
        "found": selectors.merchant_search(query=query) if query else None,
    }


@role_required(roles.COMPLIANCE)
@require_GET
def review_list(request):
    """/staff/compliance/: every KYB under review with the provider's answer, its audit rows
    so far and the approve/reject form."""
    return render(request, REVIEW_TEMPLATE, _review_context(request))


@role_required(roles.COMPLIANCE)
@require_POST
def kyb_decide(request, merchant_id):
    """Approve or reject one case with notes. htmx: the case's article comes back (decided,
    or with the refusal: 422 bad input, 409 no longer under review). Without JavaScript: a
    redirect with a message, or the page again with the case's errors."""
    merchant = selectors.review_merchant_get(merchant_id=merchant_id)
    if merchant is None:
        raise Http404("No such merchant.")
    form = KybDecisionForm(request.POST)
    status, message = 200, ""
    if form.is_valid():
        decision = form.cleaned_data["decision"]
        try:
            merchant_kyb_review_decide(
                merchant=merchant,
                decision=decision,
                notes=form.cleaned_data["notes"],
                actor=request.user,
            )
        except ActionForbidden as exc:
            raise PermissionDenied(exc.message) from exc
        except TransitionRefused as exc:
            status, message = 409, exc.message
        except DomainError as exc:
            status, message = 422, exc.message
            form.add_error("notes" if exc.code == "notes_required" else None, exc.message)
        else:
            message = DECIDED[decision].format(name=merchant.legal_business_name)
    else:
        status = 422

    case = selectors.review_case(merchant)
    case.form, case.message = form, message
    case.message_level = "error" if status >= 400 else "success"
    if status == 200:
        if not request.htmx:
            messages.success(request, message)
            return redirect("compliance:review")
        return render(request, f"{REVIEW_TEMPLATE}#case", {"case": case, "decided": True})
    if not request.htmx:
        if status == 409:
            messages.error(request, f"{merchant.legal_business_name}: {message}")
            return redirect("compliance:review")
        context = _review_context(request, failed_case=case)
        return render(request, REVIEW_TEMPLATE, context, status=422)
    response = render(request, f"{REVIEW_TEMPLATE}#case", {"case": case}, status=status)
    retarget(response, f"#case-{merchant.pk}")
    reswap(response, "outerHTML")
    return response


@role_required(roles.COMPLIANCE)
@require_GET
def merchant_audit(request, merchant_id):
    """/staff/compliance/merchants/<id>/audit/: the full timeline, newest first;
    ?format=csv exports it and records the export in the data access log."""
    merchant = selectors.review_merchant_get(merchant_id=merchant_id)
    if merchant is None:
        raise Http404("No such merchant.")
    kinds = request.GET.getlist("kind")
    known = {key for key, _ in selectors.TIMELINE_KINDS}
    if any(kind not in known for kind in kinds):
        status, kinds_invalid, kinds = 400, UNKNOWN_KIND, []
    else:
        status, kinds_invalid = 200, ""
    if request.GET.get("format") == "csv" and status == 200:
        return _audit_csv(request, merchant, kinds)
    entries = selectors.merchant_audit_timeline(merchant=merchant, kinds=kinds)
    return render(
        request,
        AUDIT_TEMPLATE,
        {
            "merchant": merchant,
            "entries": entries,
            "can_export": request.user.has_perm(EXPORT_PERMISSION),
            "reveal_subjects": selectors.reveal_subjects(merchant=merchant),
            "kinds": selectors.TIMELINE_KINDS,
            "chosen_kinds": kinds,
            "kinds_invalid": kinds_invalid,
            "export_query": "&".join(f"kind={kind}" for kind in kinds),
        },
        status=status,
    )


def _audit_csv(request, merchant, kinds):
    if not request.user.has_perm(EXPORT_PERMISSION):
        raise PermissionDenied(EXPORT_FORBIDDEN)
    entries = selectors.merchant_audit_timeline(merchant=merchant, kinds=kinds)
    with transaction.atomic():
        data_access_record(
            actor=request.user,
            entity=merchant,
            fields=CSV_COLUMNS,
            action=AccessAction.EXPORT,
            reason=EXPORT_REASON,
            request=request,
        )
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audit-{merchant.pk}-{stamp}.csv"'
    writer = csv.writer(response)
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        row = [entry.at.isoformat(), entry.kind, entry.subject, entry.who, entry.what]
        writer.writerow([cell(value) for value in [*row, entry.why, entry.details_json]])
    return response


# --- Reveal with reason ---------------------------------------------------------------------

REVEAL_PARTIAL = "compliance/_reveal.html"
REVEAL_PAGE = "compliance/reveal.html"


@role_required(roles.COMPLIANCE)
@require_POST
def pii_reveal(request, kind, subject_id):
    """POST /staff/compliance/reveal/<kind>/<id>/: the full values of one merchant's EIN, a
    person's SSN and date of birth, or a bank account's numbers, for this response only
    (no-store), after a reason; one data access row per reveal. htmx gets the include's
    section back, a plain form post a page with it."""
    if not reveal.can_reveal(request.user):
        raise PermissionDenied(reveal.REVEAL_FORBIDDEN)
    subject = reveal.reveal_subject_get(kind=kind, subject_id=subject_id)
    if subject is None:
        raise Http404(reveal.SUBJECT_NOT_FOUND)
    form = RevealForm(request.POST)
    context = {"reveal_kind": kind, "reveal_subject": subject, "reveal_form": form}
    status = 200
    if form.is_valid():
        try:
            revealed = reveal.pii_reveal(
                actor=request.user,
                kind=kind,
                subject=subject,
                reason=form.cleaned_data["reason"],
                details=form.cleaned_data["details"],
                request=request,
            )
        except ActionForbidden as exc:
            raise PermissionDenied(exc.message) from exc
        except DomainError as exc:
            status, context["reveal_message"] = 422, exc.message
        else:
            context["revealed"] = revealed.values
            context["reveal_form"] = RevealForm()
    else:
        status = 422
    template = REVEAL_PARTIAL if request.htmx else REVEAL_PAGE
    context["merchant_id"] = getattr(subject, "merchant_id", None) or subject.pk
    response = render(request, template, context, status=status)
    patch_cache_control(response, private=True, no_store=True, max_age=0)
    return response


# --- Data access log ------------------------------------------------------------------------

ACCESS_LOG_TEMPLATE = "compliance/access_log.html"
ACCESS_LOG_COLUMNS = [
    "accessed_at",
    "user",
    "role",
    "action",
    "merchant_id",
    "merchant",
    "entity_type",
    "entity_id",
    "fields",
    "reason",
    "ip_address",
    "endpoint",
]
ACCESS_LOG_EXPORT_REASON = "Data access log exported"
FILTERS_INVALID = "Check the search: {errors}"


@role_required(roles.COMPLIANCE)
@require_GET
def access_log(request):
    """/staff/compliance/access-log/: who saw or exported what, searchable by user,
    merchant and dates; ?format=csv exports the search (and logs that export)."""
    form = AccessLogFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return render(request, ACCESS_LOG_TEMPLATE, {"form": form, "page": None}, status=400)
    filters = form.cleaned_data if form.is_bound else {}
    rows = selectors.data_access_list(
        user=filters.get("user", ""),
        merchant=filters.get("merchant", ""),
        date_from=filters.get("date_from"),
        date_to=filters.get("date_to"),
    )
    if request.GET.get("format") == "csv":
        return _access_log_csv(request, rows)
    page = paginate(request, rows, per_page=PAGE_SIZE)
    names = selectors.merchant_names(row.merchant_id for row in page.object_list)
    for row in page.object_list:
        row.merchant_name = names.get(row.merchant_id, "")
    return render(request, ACCESS_LOG_TEMPLATE, {"form": form, "page": page})


def _access_log_csv(request, rows):
    export_id = uuid.uuid4()
    with transaction.atomic():
        data_access_record(
            actor=request.user,
            entity_type="data_access_log",
            entity_id=export_id,
            fields=ACCESS_LOG_COLUMNS,
            action=AccessAction.EXPORT,
            reason=f"{ACCESS_LOG_EXPORT_REASON}: {request.GET.urlencode()}"[:1000],
            request=request,
        )
    names = selectors.merchant_names(rows.values_list("merchant_id", flat=True).distinct())

    def lines():
        for row in rows.iterator(chunk_size=2000):
            yield [
                row.accessed_at.isoformat(),
                row.user_email,
                row.user_role,
                row.action,
                row.merchant_id or "",
                names.get(row.merchant_id, ""),
                row.entity_type,
                row.entity_id,
                ",".join(row.fields_accessed or []),
                row.access_reason,
                row.ip_address or "",
                row.api_endpoint,
            ]

    return csv_response(
        filename=f"data-access-{export_id}", header=ACCESS_LOG_COLUMNS, rows=lines()
    )


# --- Decision log export --------------------------------------------------------------------

DECISIONS_TEMPLATE = "compliance/decisions.html"
DECISION_COLUMNS = [
    "completed_at",
    "check_type",
    "merchant_id",
    "merchant",
    "person",
    "decision",
    "previous_decision",
    "actor",
    "reason",
    "provider",
    "provider_check_id",
    "risk_score",
    "manual_override",
]
DECISIONS_EXPORT_REASON = "KYB/KYC decision log exported"


@role_required(roles.COMPLIANCE)
@require_GET
def decision_export(request):
    """/staff/compliance/decisions/: choose a date range; ?date_from=&date_to=&format=csv
    downloads every KYB/KYC decision in it (actor, reason, provider check id, the decision
    before it) and records the export in the data access log."""
    if not request.user.has_perm(EXPORT_PERMISSION):
        raise PermissionDenied(EXPORT_FORBIDDEN)
    form = DecisionExportForm(request.GET or None)
    if not form.is_bound:
        return render(request, DECISIONS_TEMPLATE, {"form": form})
    if not form.is_valid():
        return render(request, DECISIONS_TEMPLATE, {"form": form}, status=400)
    start, end = form.cleaned_data["date_from"], form.cleaned_data["date_to"]
    export_id = uuid.uuid4()
    with transaction.atomic():
        data_access_record(
            actor=request.user,
            entity_type="kyb_kyc_decisions",
            entity_id=export_id,
            fields=DECISION_COLUMNS,
            action=AccessAction.EXPORT,
            reason=f"{DECISIONS_EXPORT_REASON}: {start.isoformat()} to {end.isoformat()}",
            request=request,
        )
    rows = selectors.decision_list(date_from=start, date_to=end)

    def lines():
        for row in rows.iterator(chunk_size=2000):
            if row.reviewed_by is not None:
                actor = row.reviewed_by.email
            else:
                actor = f"provider ({row.check_provider})" if row.check_provider else "provider"
            yield [
                row.completed_at.isoformat(),
                row.check_type,
                row.merchant_id or (row.person.merchant_id if row.person else ""),
                row.merchant.legal_business_name if row.merchant else "",
                str(row.person) if row.person else "",
                row.decision,
                row.previous_decision or "",
                actor,
                row.reviewer_notes or row.decision_reason,
                row.check_provider,
                row.check_reference,
                "" if row.risk_score is None else row.risk_score,
                "yes" if row.manual_override else "no",
            ]

    return csv_response(
        filename=f"decisions-{start.isoformat()}-{end.isoformat()}",
        header=DECISION_COLUMNS,
        rows=lines(),
    )


# --- State as of a moment -------------------------------------------------------------------

AS_OF_TEMPLATE = "compliance/as_of.html"
AT_REQUIRED = "Say which moment: ?at=2025-03-03T14:00 (ISO 8601; a time zone is optional)."
MOMENT_YEARS = (1970, 9000)
AT_INVALID = "“{value}” is not a moment: use ISO 8601, e.g. 2025-03-03T14:00:00+01:00."


def moment_parse(value: str) -> datetime:
    """?at= as an aware datetime: ISO 8601 with or without offset (the viewer's time zone
    then), or a date alone (its midnight). ValueError with the message to show."""
    value = (value or "").strip()
    if not value:
        raise ValueError(AT_REQUIRED)
    shown = value[:60]
    try:
        moment = parse_datetime(value)
        if moment is None:
            day = parse_date(value)
            moment = datetime.combine(day, time.min) if day else None
    except (ValueError, OverflowError):
        moment = None
    if moment is None:
        raise ValueError(AT_INVALID.format(value=shown))
    try:
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        # In UTC, so the database never sees an offset it cannot store.
        moment = moment.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise ValueError(AT_INVALID.format(value=shown)) from exc
    if not MOMENT_YEARS[0] <= moment.year <= MOMENT_YEARS[1]:
        raise ValueError(AT_INVALID.format(value=shown))
    return moment


@role_required(roles.COMPLIANCE)
@require_GET
def merchant_as_of(request, merchant_id):
    """/staff/compliance/merchants/<id>/as-of/?at=<ISO time>: the merchant as it was then."""
    merchant = selectors.review_merchant_get(merchant_id=merchant_id)
    if merchant is None:
        raise Http404("No such merchant.")
    try:
        at = moment_parse(request.GET.get("at", ""))
    except ValueError as exc:
        return render(
            request,
            AS_OF_TEMPLATE,
            {"merchant": merchant, "error": str(exc), "at_value": request.GET.get("at", "")[:60]},
            status=400,
        )
    state = merchant_state(merchant=merchant, at=at)
    return render(request, AS_OF_TEMPLATE, {"merchant": merchant, "state": state, "at": at})


# --- Operations: retention runs and data access alerts --------------------------------------

OPERATIONS_TEMPLATE = "compliance/operations.html"
OPERATIONS_LIMIT = 30


@role_required(roles.OPS, roles.COMPLIANCE)
@require_GET
def operations(request):
    """/staff/compliance/operations/: the last retention runs with their counts, and the
    data access alerts (bulk reveals), newest first."""
    return render(
        request,
        OPERATIONS_TEMPLATE,
        {
            "runs": RetentionRun.objects.order_by("-started_at")[:OPERATIONS_LIMIT],
            "alerts": AccessAlert.objects.order_by("-raised_at")[:OPERATIONS_LIMIT],
        },
    )
