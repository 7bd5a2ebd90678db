"""Compliance pages: the KYB and KYC cases under review and each case's page (decide with
notes), a merchant's audit timeline with its CSV export and its state at any past moment, the
data access log, the decision log export, reveal with reason, and the operations page
(retention runs, data access alerts). For the compliance role (and superusers), except:
reveal is for the compliance role only (apps/compliance/reveal.py says why), the operations
page for ops and compliance."""

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
    CaseDecisionForm,
    DecisionExportForm,
    RevealForm,
)
from apps.compliance.models import AccessAction, AccessAlert, RetentionRun
from apps.compliance.services import data_access_record
from apps.core.errors import ActionForbidden, DomainError, TransitionRefused
from apps.core.pagination import paginate
from apps.core.permissions import role_required
from apps.merchants.choices import CheckStatus
from apps.merchants.services.kyb import merchant_kyb_review_decide
from apps.merchants.services.kyc import person_kyc_review_decide

REVIEW_TEMPLATE = "compliance/review.html"
CASE_TEMPLATE = "compliance/case.html"
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
DECIDED_KYC = {
    CheckStatus.APPROVED: "KYC approved for {name}.",
    CheckStatus.REJECTED: "KYC rejected for {name}; the merchant sees your notes.",
}
CSV_COLUMNS = ["when", "kind", "subject", "who", "what", "why", "details"]


@role_required(roles.COMPLIANCE)
@require_GET
def review_list(request):
    """/staff/compliance/: every KYB and KYC case under review, longest waiting first, with
    why it was flagged and its age against the review SLA; each links to its case page."""
    page = paginate(request, selectors.review_case_list(), per_page=PAGE_SIZE)
    query = request.GET.get("q", "").strip()[:100]
    context = {
        "page": page,
        "cases": selectors.review_cases_load(page.object_list),
        "counts": selectors.review_counts(),
        "query": query,
        "found": selectors.merchant_search(query=query) if query else None,
    }
    return render(request, REVIEW_TEMPLATE, context)


def _case_or_404(kind: str, subject_id):
    case = selectors.review_case_get(kind=kind, subject_id=subject_id)
    if case is None:
        raise Http404("No such case.")
    return case


def _case_page(request, case, *, status: int = 200):
    context = {"case": case, "history": selectors.subject_history(case)}
    return render(request, CASE_TEMPLATE, context, status=status)


@role_required(roles.COMPLIANCE)
@require_GET
def case_detail(request, kind, subject_id):
    """/staff/compliance/cases/<kyb|kyc>/<id>/: what was sent to the provider and what it
    answered, the decisions and changes so far, and the decision form while under review."""
    case = _case_or_404(kind, subject_id)
    case.form = CaseDecisionForm()
    return _case_page(request, case)


def _decide(case, form, actor) -> tuple[int, str]:
    """Apply a valid form's decision through the merchants' decision services:
    (HTTP status, message)."""
    decision, notes = form.cleaned_data["decision"], form.cleaned_data["notes"]
    try:
        if case.kind == "kyb":
            merchant_kyb_review_decide(
                merchant=case.merchant, decision=decision, notes=notes, actor=actor
            )
            return 200, DECIDED[decision].format(name=case.merchant.legal_business_name)
        person_kyc_review_decide(person=case.person, decision=decision, notes=notes, actor=actor)
        return 200, DECIDED_KYC[decision].format(name=case.person)
    except ActionForbidden as exc:
        raise PermissionDenied(exc.message) from exc
    except TransitionRefused as exc:
        return 409, exc.message
    except DomainError as exc:
        form.add_error("notes" if exc.code == "notes_required" else None, exc.message)
        return 422, exc.message


@role_required(roles.COMPLIANCE)
@require_POST
def case_decide(request, kind, subject_id):
    """Approve or reject one case (KYB or a person's KYC) with notes. htmx: the case's
    decision section comes back (decided, or with the refusal: 422 bad input, 409 no longer
    under review or held by another reviewer). Without JavaScript: a redirect to the list
    with a message, or the case page again with its errors (422)."""
    case = _case_or_404(kind, subject_id)
    form = CaseDecisionForm(request.POST)
    status, message = (422, "") if not form.is_valid() else _decide(case, form, request.user)
    case = _case_or_404(kind, subject_id)  # as it is now
    case.form, case.message = form, message
    case.message_level = "error" if status >= 400 else "success"
    if not request.htmx:
        if status == 200:
            messages.success(request, message)
            return redirect("compliance:review")
        if status == 409:
            messages.error(request, f"{case.merchant.legal_business_name}: {message}")
            return redirect("compliance:review")
        return _case_page(request, case, status=status)
    response = render(
        request,
        f"{CASE_TEMPLATE}#decision",
        {"case": case, "decided": status == 200},
        status=status,
    )
    if status != 200:
        retarget(response, f"#{case.dom_id}")
        reswap(response, "outerHTML")
    return response


@role_required(roles.COMPLIANCE)
@require_POST
def kyb_decide(request, merchant_id):
    """The KYB decision at its earlier address (the same as case_decide for kind kyb)."""
    return case_decide(request, kind="kyb", subject_id=merchant_id)


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
