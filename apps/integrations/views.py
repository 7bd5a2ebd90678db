"""The ops console for integrations: what failed, what is stuck, and a retry per sync."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import reswap, retarget

from apps.accounts import roles
from apps.core import recovery
from apps.core.errors import ActionForbidden, DomainError
from apps.core.pagination import paginate
from apps.core.permissions import role_required
from apps.integrations import selectors
from apps.integrations.delivery import sync_retry_now

PAGE_SIZE = 50
TEMPLATE = "integrations/ops_console.html"
RETRY_QUEUED = "Queued for retry."
STUCK_RETRIED = "{label}: {count} sent back to work."


def _page(request, queryset, param: str):
    return paginate(request, queryset, per_page=PAGE_SIZE, param=param)


def _syncs_page(request):
    page = _page(request, selectors.sync_attention_list(), "syncs_page")
    page.object_list = selectors.syncs_with_owners(page.object_list)
    return page


def _back_to(request) -> str:
    """Where a retry without JavaScript returns: the page that asked (the POST's `next`, a
    path on this site such as the merchant hub's syncs), else the ops console. Only a
    relative path is followed, never a URL of another site (no open redirect)."""
    target = request.POST.get("next", "")
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts=None, require_https=request.is_secure()
    ):
        return target
    return reverse("integrations:ops_console")


@role_required(roles.OPS)
@require_GET
def ops_console(request):
    return render(
        request,
        TEMPLATE,
        {
            "syncs": _syncs_page(request),
            "events": _page(request, selectors.event_stuck_list(), "events_page"),
            "webhooks": _page(request, selectors.webhook_problem_list(), "webhooks_page"),
            "stuck_minutes": int(selectors.STUCK_AFTER.total_seconds() // 60),
            "webhook_days": selectors.WEBHOOK_PROBLEM_WINDOW.days,
            "stuck_work": recovery.stuck_summary(),
        },
    )


@role_required(roles.OPS)
@require_POST
def stuck_retry(request, kind):
    """ "Retry now" for one kind of stuck background work: its sweep runs at once (claims
    ignored) and the run is recorded with who asked. Back to the console with the outcome."""
    try:
        run = recovery.stuck_retry_now(key=kind, actor=request.user)
    except ActionForbidden as exc:
        raise PermissionDenied(exc.message) from exc
    except DomainError as exc:
        raise Http404(exc.message) from exc
    label = recovery.stuck_kind_get(kind).label
    messages.success(request, STUCK_RETRIED.format(label=label, count=run.recovered))
    return redirect(f"{reverse('integrations:ops_console')}#stuck-{kind}")


@role_required(roles.OPS)
@require_POST
def sync_retry(request, sync_id):
    """Send one failed or conflicting sync again: back to pending, its push enqueued after
    commit. With htmx the answer is its table row, re-read so it shows the state as it is
    now: 200 once queued, 422 with the reason when refused (retargeted at the row, which the
    page lets htmx swap). Without JavaScript: a redirect back with a message, to the page
    named by `next` (the merchant hub) or to the console."""
    sync = selectors.sync_get(sync_id=sync_id)
    if sync is None:
        raise Http404("No such sync.")
    try:
        sync_retry_now(sync=sync, actor=request.user, reason="ops console")
    except ActionForbidden as exc:
        raise PermissionDenied(exc.message) from exc
    except DomainError as exc:
        refusal = exc.message
    else:
        refusal = None

    if not request.htmx:
        if refusal:
            messages.error(request, f"{sync}: {refusal}")
        else:
            messages.success(request, f"{sync}: {RETRY_QUEUED}")
        return redirect(_back_to(request))

    [fresh] = selectors.syncs_with_owners([selectors.sync_get(sync_id=sync_id) or sync])
    row = {
        "sync": fresh,
        "row_message": refusal or RETRY_QUEUED,
        "row_message_level": "error" if refusal else "success",
    }
    if refusal is None:
        return render(request, f"{TEMPLATE}#sync_row", row)
    response = render(request, f"{TEMPLATE}#sync_row", row, status=422)
    retarget(response, f"#sync-{sync_id}")
    reswap(response, "outerHTML")
    return response
