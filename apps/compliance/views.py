"""Compliance pages: the KYB and KYC cases under review, each case's page (decide with
notes), and a merchant's audit timeline with its CSV export. For the compliance role only
(and superusers)."""

import csv

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import reswap, retarget

from apps.accounts import roles
from apps.compliance import selectors
from apps.compliance.forms import CaseDecisionForm
from apps.compliance.models import AccessAction
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
    if request.GET.get("format") == "csv":
        return _audit_csv(request, merchant)
    entries = selectors.merchant_audit_timeline(merchant=merchant)
    return render(
        request,
        AUDIT_TEMPLATE,
        {
            "merchant": merchant,
            "entries": entries,
            "can_export": request.user.has_perm(EXPORT_PERMISSION),
        },
    )


def _cell(value) -> str:
    """A CSV cell a spreadsheet will not run as a formula (text typed by merchants ends up
    here: a legal name starting with "=" stays text)."""
    text = str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _audit_csv(request, merchant):
    if not request.user.has_perm(EXPORT_PERMISSION):
        raise PermissionDenied(EXPORT_FORBIDDEN)
    entries = selectors.merchant_audit_timeline(merchant=merchant)
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
        writer.writerow([_cell(value) for value in [*row, entry.why, entry.details_json]])
    return response
