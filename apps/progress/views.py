"""Staff pages of the progress app: the alerts inbox (ICs, AEs, ops) and the ops dashboard.

Inbox actions (claim, note, resolve, dismiss) answer htmx with the alert's card re-read after
the change (200), or with the card and the refusal (422, retargeted at the card, which the page
lets htmx swap). Without JavaScript they redirect back to the inbox with a message.
"""

import csv

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import reswap, retarget

from apps.accounts import roles
from apps.core.errors import ActionForbidden, DomainError
from apps.core.pagination import paginate
from apps.core.permissions import role_required
from apps.progress import selectors
from apps.progress.forms import (
    AlertDismissForm,
    AlertFilterForm,
    AlertNoteForm,
    AlertResolveForm,
)
from apps.progress.models import OPEN_ALERT_STATUSES
from apps.progress.ops_figures import REFRESH_MINUTES, ops_figures_get
from apps.progress.services import alert_claim, alert_dismiss, alert_note_add, alert_resolve

INBOX = "progress/alert_inbox.html"
DASHBOARD = "progress/ops_dashboard.html"
ALERT_ROLES = (roles.IC, roles.AE, roles.OPS)
PAGE_SIZE = 25
LIST_TARGET = "alert-list"

FILTERS_INVALID = "Unknown filter value: choose from the lists."
CLAIMED = "Claimed: it is yours."
NOTE_ADDED = "Note added."
RESOLVED = "Resolved."
DISMISSED = "Dismissed."


# --- Alerts inbox -------------------------------------------------------------------------------


@role_required(*ALERT_ROLES)
@require_GET
def alert_inbox(request):
    """Open alerts, most severe then oldest first, filtered by severity, type, cohort and
    who holds them. Paged over the alerts table alone; only the page's rows are joined."""
    form = AlertFilterForm(request.GET, user=request.user, agents=selectors.alert_agent_list())
    status = 200
    if form.is_valid():
        filters = {name: value or None for name, value in form.cleaned_data.items()}
        page = paginate(request, selectors.alert_inbox_list(**filters), per_page=PAGE_SIZE)
        page.object_list = selectors.alert_inbox_rows(alert_ids=list(page.object_list))
    else:
        status = 400
        page = None
    context = {
        "filter_form": form,
        "filters_invalid": FILTERS_INVALID if status == 400 else "",
        "alerts": page,
        "next": request.get_full_path(),
        "open_statuses": OPEN_ALERT_STATUSES,
    }
    template = INBOX
    if request.htmx and request.htmx.target == LIST_TARGET:
        template = f"{INBOX}#alert_list"
    return render(request, template, context, status=status)


def _next_url(request) -> str:
    inbox = reverse("progress:alert_inbox")
    candidate = request.POST.get("next", "")
    if candidate.startswith(inbox) and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return inbox


def _first_error(form) -> str:
    for errors in form.errors.values():
        return errors[0]
    return "Check the form."


def _alert_action(request, alert_id, *, form_class, perform, done: str, form_name: str):
    """Validate `form_class`, call `perform(alert, cleaned_data)` (one service), answer."""
    alert = selectors.alert_get(alert_id=alert_id)
    if alert is None:
        raise Http404("No such alert.")
    form = form_class(request.POST) if form_class else None
    refusal = None
    if form is not None and not form.is_valid():
        refusal = _first_error(form)
    else:
        try:
            perform(alert, form.cleaned_data if form is not None else {})
        except ActionForbidden as exc:
            raise PermissionDenied(exc.message) from exc
        except DomainError as exc:
            refusal = exc.message

    next_url = _next_url(request)
    if not request.htmx:
        if refusal:
            messages.error(request, f"{alert}: {refusal}")
        else:
            messages.success(request, f"{alert}: {done}")
        return redirect(next_url)

    context = {
        "alert": selectors.alert_get(alert_id=alert_id) or alert,
        "row_message": refusal or done,
        "row_message_level": "error" if refusal else "success",
        "next": next_url,
        "open_statuses": OPEN_ALERT_STATUSES,
    }
    if refusal is None:
        return render(request, f"{INBOX}#alert_card", context)
    # Keep what was typed, and open the form it was typed in.
    context[form_name] = form
    response = render(request, f"{INBOX}#alert_card", context, status=422)
    retarget(response, f"#alert-{alert_id}")
    reswap(response, "outerHTML")
    return response


@role_required(*ALERT_ROLES)
@require_POST
def alert_claim_view(request, alert_id):
    return _alert_action(
        request,
        alert_id,
        form_class=None,
        perform=lambda alert, data: alert_claim(
            alert=alert, agent=request.user, actor=request.user
        ),
        done=CLAIMED,
        form_name="claim_form",
    )


@role_required(*ALERT_ROLES)
@require_POST
def alert_note_view(request, alert_id):
    return _alert_action(
        request,
        alert_id,
        form_class=AlertNoteForm,
        perform=lambda alert, data: alert_note_add(
            alert=alert, actor=request.user, body=data["body"]
        ),
        done=NOTE_ADDED,
        form_name="note_form",
    )


@role_required(*ALERT_ROLES)
@require_POST
def alert_resolve_view(request, alert_id):
    return _alert_action(
        request,
        alert_id,
        form_class=AlertResolveForm,
        perform=lambda alert, data: alert_resolve(
            alert=alert, actor=request.user, action=data["action"]
        ),
        done=RESOLVED,
        form_name="resolve_form",
    )


@role_required(*ALERT_ROLES)
@require_POST
def alert_dismiss_view(request, alert_id):
    return _alert_action(
        request,
        alert_id,
        form_class=AlertDismissForm,
        perform=lambda alert, data: alert_dismiss(
            alert=alert, actor=request.user, reason=data["reason"]
        ),
        done=DISMISSED,
        form_name="dismiss_form",
    )


# --- Ops dashboard ------------------------------------------------------------------------------


def _duration(value) -> str:
    if value is None:
        return ""
    return str(round(value.total_seconds()))


# export name -> (file name, header, name of the kept figures, row(item) -> list)
EXPORTS = {
    "funnel": (
        "funnel-by-cohort",
        ["cohort", "leads", "accounts", "kyb_approved", "paid", "active", "lead_to_active_pct"],
        "funnel",
        lambda r: [
            r["cohort"],
            r["leads"],
            r["accounts"],
            r["kyb_approved"],
            r["paid"],
            r["active"],
            "" if r["conversion"] is None else r["conversion"],
        ],
    ),
    "dropoff": (
        "dropoff-by-step",
        ["step", "step_name", "in_progress", "stalled", "abandoned"],
        "dropoff",
        lambda r: [r["step"], r["step_name"], r["in_progress"], r["stalled"], r["abandoned"]],
    ),
    "step_times": (
        "median-time-in-step",
        ["step", "step_name", "completed", "median_seconds"],
        "step_times",
        lambda r: [
            r["step"],
            r["step_name"],
            r["completed"],
            "" if r["median_seconds"] is None else r["median_seconds"],
        ],
    ),
    "journeys": (
        "journey-duration",
        [
            "cohort",
            "completed",
            "completed_median_seconds",
            "not_completed",
            "not_completed_median_age_seconds",
        ],
        "journeys",
        lambda r: [
            r["cohort"],
            r["completed"],
            _duration(r["completed_median"]),
            r["open"],
            _duration(r["open_median"]),
        ],
    ),
    "sla": (
        "sla-by-queue",
        ["queue", "queue_name", "sla_minutes", "ended", "met", "missed", "met_pct"],
        "sla",
        lambda r: [
            r["queue"],
            r["queue_name"],
            "" if r["sla_minutes"] is None else r["sla_minutes"],
            r["ended"],
            r["met"],
            r["missed"],
            "" if r["met_percent"] is None else r["met_percent"],
        ],
    ),
    "alerts": (
        "open-alerts-by-severity",
        [
            "severity",
            "total",
            "stalled",
            "abandoned",
            "error_threshold",
            "sla_breach",
            "delivery_failed",
        ],
        "alerts",
        lambda r: [
            r["severity"],
            r["total"],
            r["stalled"],
            r["abandoned"],
            r["error_threshold"],
            r["sla_breach"],
            r["delivery_failed"],
        ],
    ),
    "integrations": (
        "failed-integrations",
        ["system", "failed", "conflict"],
        "integrations",
        lambda r: [r["system"], r["failed"], r["conflict"]],
    ),
}
UNKNOWN_EXPORT = "Unknown export “{name}”: choose one of {choices}."


def _csv_response(name: str, snapshot) -> HttpResponse:
    filename, header, figures, row = EXPORTS[name]
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    writer = csv.writer(response)
    writer.writerow(header)
    for item in snapshot.figures[figures]:
        writer.writerow(row(item))
    return response


@role_required(roles.OPS)
@require_GET
def ops_dashboard(request):
    """Funnel, drop-off, time in step, journey duration, SLAs, open alerts, failed syncs, as
    kept by the `ops-figures` job (one query, not an aggregate per view; the page says as of
    when); `?export=<table>` downloads one table as CSV, the same figures."""
    export = request.GET.get("export")
    if export is not None and export not in EXPORTS:
        message = UNKNOWN_EXPORT.format(name=export, choices=", ".join(EXPORTS))
        return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")
    snapshot = ops_figures_get()
    if export is not None:
        return _csv_response(export, snapshot)
    context = {
        **snapshot.figures,
        "funnel_stages": selectors.FUNNEL_STAGES,
        "charts": snapshot.charts,
        "figures_as_of": snapshot.computed_at,
        "figures_stale": snapshot.stale,
        "refresh_minutes": REFRESH_MINUTES,
    }
    return render(request, DASHBOARD, context)
