"""Lead pages: the public Get started form and its thank-you page; for staff, the lead list
and the lead detail page with its cohort override form."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, reswap, retarget, trigger_client_event

from apps.accounts import roles
from apps.core.errors import ActionForbidden, DomainError
from apps.core.links import request_base_url
from apps.core.pagination import paginate
from apps.core.permissions import role_required
from apps.leads import selectors, services
from apps.leads.forms import (
    UTM_FIELDS,
    CohortOverrideForm,
    LeadCaptureForm,
    LeadFilterForm,
    clean_attribution,
    clean_referrer,
)
from apps.leads.models import Cohort

GET_STARTED = "leads/get_started.html"
THANKS = "leads/get_started_thanks.html"
LIST = "leads/staff_lead_list.html"
DETAIL = "leads/staff_lead_detail.html"
PAGE_SIZE = 50
# The list says "10000+ leads" past this, instead of counting 100k rows on every view; a
# search counts less far (each match is a row to recheck: a common word matches thousands).
COUNT_LIMIT = 10_000
SEARCH_COUNT_LIMIT = 1_000

FORM_INVALID = "Some answers need a second look: see the messages beside the fields."
FILTERS_INVALID = "These filters are not valid: see the messages beside them."
STAFF_LEAD_ROLES = (roles.AE, roles.IC, roles.OPS, roles.COMPLIANCE)


# --- Get started (public) ----------------------------------------------------------------------


def _add_model_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _capture_form_invalid(request, form):
    if request.htmx:
        response = render(request, f"{GET_STARTED}#capture_form", {"form": form}, status=422)
        retarget(response, "#capture-form")
        reswap(response, "outerHTML")
        return response
    return render(request, GET_STARTED, {"form": form}, status=422)


@require_http_methods(["GET", "POST"])
def get_started(request):
    """GET keeps the visit's attribution (UTM parameters of the query string, the Referer
    header) in hidden fields; POST captures the lead and goes to the thank-you page."""
    if request.method == "GET":
        initial = {name: clean_attribution(request.GET.get(name)) for name in UTM_FIELDS}
        initial["referrer"] = clean_referrer(request.META.get("HTTP_REFERER"))
        return render(request, GET_STARTED, {"form": LeadCaptureForm(initial=initial)})

    form = LeadCaptureForm(request.POST)
    if not form.is_valid():
        return _capture_form_invalid(request, form)
    actor = request.user if request.user.is_authenticated else None
    try:
        services.lead_capture(
            data=form.lead_data(), actor=actor, public=True, base_url=request_base_url(request)
        )
    except ValidationError as exc:
        _add_model_errors(form, exc)
        return _capture_form_invalid(request, form)
    except DomainError as exc:
        form.add_error(None, exc.message)
        return _capture_form_invalid(request, form)
    # The same answer for a new and a known address: the link goes to the address itself.
    url = reverse("leads:get_started_thanks")
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)


@require_GET
def get_started_thanks(request):
    return render(request, THANKS)


# --- Staff: lead list --------------------------------------------------------------------------


@role_required(*STAFF_LEAD_ROLES)
@require_GET
def staff_lead_list(request):
    form = LeadFilterForm(request.GET)
    status = 200
    if form.is_valid():
        filters = form.cleaned_data
        search = filters["q"].strip()
        leads = selectors.lead_list(
            search=search, cohort=filters["cohort"], status=filters["status"]
        )
        limit = SEARCH_COUNT_LIMIT if search else COUNT_LIMIT
        page = paginate(request, leads, per_page=PAGE_SIZE, count_limit=limit)
    else:
        status = 400
        page = paginate(request, selectors.lead_list().none(), per_page=PAGE_SIZE)
    context = {"form": form, "page": page, "filters_invalid": FILTERS_INVALID}
    template = f"{LIST}#lead_results" if request.htmx else LIST
    return render(request, template, context, status=status)


# --- Staff: lead detail and cohort override ----------------------------------------------------

SCORES = (
    ("gtv_score", "GTV score"),
    ("complexity_score", "Complexity score"),
    ("risk_score", "Risk score"),
)


def _detail_context(request, lead, *, form=None, message=None) -> dict:
    inputs = lead.score_inputs or {}
    can_override = request.user.has_perm("leads.override_cohort")
    if form is None and can_override:
        form = CohortOverrideForm(initial={"cohort": lead.cohort or Cohort.SELF_SERVE})
    return {
        "lead": lead,
        "scores": [
            {"label": label, "value": getattr(lead, name), "parts": inputs.get(name) or []}
            for name, label in SCORES
        ],
        "facts": inputs.get("inputs") or {},
        # Read only by the templates that show it (not by the override partials).
        "timeline": lambda: selectors.lead_timeline(lead=lead),
        "submissions": lambda: selectors.lead_submission_list(lead=lead),
        "work": lambda: selectors.lead_work(lead=lead),
        "can_override": can_override,
        "form": form,
        "message": message,
    }


def _lead_or_404(lead_id):
    lead = selectors.lead_profile_get(lead_id=lead_id)
    if lead is None:
        raise Http404("No such lead.")
    return lead


@role_required(*STAFF_LEAD_ROLES)
@require_GET
def staff_lead_detail(request, lead_id):
    """With htmx and ?part=timeline: only the timeline (refreshed after an override)."""
    lead = _lead_or_404(lead_id)
    context = _detail_context(request, lead)
    if request.htmx and request.GET.get("part") == "timeline":
        return render(request, f"{DETAIL}#timeline", context)
    return render(request, DETAIL, context)


@role_required(*STAFF_LEAD_ROLES)
@require_POST
def staff_lead_cohort_override(request, lead_id):
    """With htmx: the cohort panel once done (and a leadChanged event that refreshes the
    timeline), or the form with its errors as a 422. Without: a redirect back with a
    message, or the page with the form's errors (422)."""
    lead = _lead_or_404(lead_id)
    if not request.user.has_perm("leads.override_cohort"):
        raise PermissionDenied(services.OVERRIDE_FORBIDDEN)
    form = CohortOverrideForm(request.POST)
    if form.is_valid():
        try:
            services.lead_cohort_override(
                lead=lead,
                cohort=form.cleaned_data["cohort"],
                reason=form.cleaned_data["reason"],
                actor=request.user,
            )
        except ActionForbidden as exc:
            raise PermissionDenied(exc.message) from exc
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            message = f"Cohort set to {Cohort(form.cleaned_data['cohort']).label}."
            if not request.htmx:
                messages.success(request, message)
                return redirect("leads:staff_lead_detail", lead_id=lead.pk)
            lead = _lead_or_404(lead_id)
            response = render(
                request, f"{DETAIL}#cohort_panel", _detail_context(request, lead, message=message)
            )
            trigger_client_event(response, "leadChanged")
            return response

    context = _detail_context(request, lead, form=form)
    if not request.htmx:
        return render(request, DETAIL, context, status=422)
    response = render(request, f"{DETAIL}#override_form", context, status=422)
    retarget(response, "#override-form")
    reswap(response, "outerHTML")
    return response
