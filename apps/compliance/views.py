"""Compliance pages: the KYB review queue (decide with notes) and a merchant's audit
timeline with its CSV export. For the compliance role only (and superusers)."""

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
from apps.compliance.forms import KybDecisionForm
from apps.compliance.models import AccessAction
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
            "kinds": selectors.TIMELINE_KINDS,
            "chosen_kinds": kinds,
            "kinds_invalid": kinds_invalid,
            "export_query": "&".join(f"kind={kind}" for kind in kinds),
        },
        status=status,
    )


def _cell(value) -> str:
    """A CSV cell a spreadsheet will not run as a formula (text typed by merchants ends up
    here: a legal name starting with "=" stays text)."""
    text = str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


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
        writer.writerow([_cell(value) for value in [*row, entry.why, entry.details_json]])
    return response
