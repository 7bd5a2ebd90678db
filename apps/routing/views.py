"""Queue screens under /staff/queues/ for AEs, ICs and ops.

A queue page is one list of 25 items at a time (a screen or two; filters, sort and search
find the rest), filtered (status, assignee, cohort, search) and sorted (priority, age, SLA)
by its query string, with one small action per row (claim, record contact, start work) and a
link to the item's page, where the other actions (resolve,
reassign, release, escalate, notes) are. Every action is a POST through one service, sent to
an address that keeps the page's query string. With htmx the answer is the queue's list
(`queue.html#lists`), re-read so it shows the items as they are now: 200 when done, 422 with
the refusal in it when refused or when the form is incomplete (retargeted at #queue-lists,
which the page lets htmx swap). Without JavaScript: a redirect back to the queue page (or the
item's page when the form came from there) with the same message. A role outside ae/ic/ops
gets a 403, anonymous users the login page; an AE opening an IC queue (or the reverse) gets a
403, and only the queue's agents act on it (ops watch). Filter values not on offer are left
out with a message and a 400.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import reswap, retarget

from apps.accounts import roles
from apps.core.errors import DomainError
from apps.core.pagination import paginate
from apps.core.permissions import role_required
from apps.routing import selectors
from apps.routing.forms import (
    NoteForm,
    QueueFilterForm,
    ReasonForm,
    ReassignForm,
    ResolveForm,
    first_error,
)
from apps.routing.services import assignments, claims, notes
from apps.routing.templatetags.routing_tags import lead_url

PAGE_SIZE = 25
TEMPLATE = "routing/queue.html"
ITEM_TEMPLATE = "routing/item.html"
INDEX_TEMPLATE = "routing/queue_index.html"
LISTS_TARGET = "queue-lists"
QUEUE_ROLES = (roles.AE, roles.IC, roles.OPS)

QUEUE_EMPTY = "Nothing is waiting in this queue: there is no item to claim."
CLAIM_NEXT_DISABLED = "Nothing is waiting: claim next becomes available when an item arrives."
CLAIMED = "You took {item}."
NOT_YOUR_QUEUE = "This queue is worked by another team."
WATCH_ONLY = "You can watch this queue, but only its agents work its items."

# action → (form class or None, service call, success message)
ACTIONS = {
    "claim": (
        None,
        lambda item, user, data: claims.assignment_claim(assignment=item, actor=user),
        "You took {item}.",
    ),
    "contact": (
        None,
        lambda item, user, data: assignments.assignment_record_contact(assignment=item, actor=user),
        "First contact recorded for {item}: its SLA clock stopped.",
    ),
    "start": (
        None,
        lambda item, user, data: assignments.assignment_start_work(assignment=item, actor=user),
        "Work started on {item}.",
    ),
    "resolve": (
        ResolveForm,
        lambda item, user, data: assignments.assignment_resolve(
            assignment=item, actor=user, note=data["note"]
        ),
        "{item} resolved.",
    ),
    "escalate": (
        ReasonForm,
        lambda item, user, data: assignments.assignment_escalate(
            assignment=item, actor=user, reason=data["reason"]
        ),
        "{item} escalated.",
    ),
    "release": (
        ReasonForm,
        lambda item, user, data: assignments.assignment_release(
            assignment=item, actor=user, reason=data["reason"]
        ),
        "{item} released to the queue.",
    ),
    "reassign": (
        ReassignForm,
        lambda item, user, data: assignments.assignment_reassign(
            assignment=item, agent=data["agent"], actor=user, reason=data["reason"]
        ),
        "{item} handed to {agent}.",
    ),
    "note": (
        NoteForm,
        lambda item, user, data: notes.assignment_add_note(
            assignment=item, actor=user, body=data["body"]
        ),
        "Note added to {item}.",
    ),
}


def _query(request) -> str:
    """The page's filters as a query string (without the page number), kept by every link
    and form of the list."""
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def _queue_for(request, code: str, *, work: bool = False):
    """The queue named in the URL (404 when unknown) if the user may see it (else 403), and
    may work it when `work` (else 403)."""
    queue = selectors.queue_get(code=code)
    if queue is None:
        raise Http404("No such queue.")
    role_names = selectors.user_role_names(request.user)
    if not selectors.queue_may_view(request.user, queue, role_names):
        raise PermissionDenied(NOT_YOUR_QUEUE)
    may_work = selectors.queue_may_work(request.user, queue, role_names)
    if work and not may_work:
        raise PermissionDenied(WATCH_ONLY)
    return queue, may_work


_ANY_ID = "00000000-0000-0000-0000-000000000000"


def _row_links(items) -> None:
    """`.url` on each row: its merchant's hub, else its lead's page (two reverses for the
    whole page, not two per row)."""
    hub = reverse("staff:merchant", args=[_ANY_ID])
    lead = lead_url(_ANY_ID)
    for item in items:
        if item.hub_merchant_id:
            item.url = hub.replace(_ANY_ID, str(item.hub_merchant_id))
        else:
            item.url = lead.replace(_ANY_ID, str(item.lead_id))


def _lists_context(request, queue, may_work: bool) -> dict:
    now = timezone.now()
    user = request.user
    agents = list(selectors.queue_agent_list(queue))
    form = QueueFilterForm(request.GET, agents=agents)
    filters, problems = form.filters()
    counts = selectors.queue_counts([queue], user=user, now=now)[queue.pk]
    items = selectors.assignment_list(queue=queue, user=user, filters=filters)
    page = paginate(request, items, per_page=PAGE_SIZE)
    selectors.with_sla_clocks(page.object_list, now, queue=queue)
    _row_links(page.object_list)
    base = reverse("routing:queue_detail", args=[queue.code])
    query = _query(request)
    return {
        "queue": queue,
        "now": now,
        "can_work": may_work,
        "items": page,
        "filters": filters,
        "filter_form": form,
        "filter_problems": problems,
        "filtered": filters != selectors.QueueFilters(),
        "counts": counts,
        "query": query,
        "items_base": f"{base}items/",
        "sla": selectors.queue_sla_stats_recent(queue, now),
        "agents": [agent for agent in agents if agent.pk != user.pk] if may_work else [],
        "claim_next_disabled": CLAIM_NEXT_DISABLED if not counts.waiting else "",
    }


@role_required(*QUEUE_ROLES)
@require_GET
def queue_index(request):
    role_names = selectors.user_role_names(request.user)
    queues = selectors.queue_list_for(request.user, role_names)
    now = timezone.now()
    counts = selectors.queue_counts(queues, user=request.user, now=now)
    sla = selectors.queue_sla_stats(queues, now)
    rows = [(queue, counts[queue.pk], sla[queue.pk]) for queue in queues]
    return render(request, INDEX_TEMPLATE, {"rows": rows})


@role_required(*QUEUE_ROLES)
@require_GET
def queue_detail(request, code):
    queue, may_work = _queue_for(request, code)
    context = _lists_context(request, queue, may_work)
    status = 400 if context["filter_problems"] else 200
    if request.htmx and request.htmx.target == LISTS_TARGET:
        return render(request, f"{TEMPLATE}#lists", context, status=status)
    return render(request, TEMPLATE, context, status=status)


@role_required(*QUEUE_ROLES)
@require_GET
def item_detail(request, code, assignment_id):
    """/staff/queues/<code>/items/<id>/: one item with its notes and every action its holder
    may take (or claim, while it waits)."""
    queue, may_work = _queue_for(request, code)
    item = selectors.assignment_detail_get(queue=queue, assignment_id=assignment_id)
    if item is None:
        raise Http404("No such item in this queue.")
    selectors.with_sla_clocks([item], queue=queue)
    return render(
        request,
        ITEM_TEMPLATE,
        {
            "queue": queue,
            "item": item,
            "can_work": may_work,
            "mine": item.assigned_to_id == request.user.pk,
            "agents": selectors.queue_agent_list(queue, exclude=request.user) if may_work else [],
            "query": _query(request),
        },
    )


def _answer(request, queue, may_work: bool, *, message: str, refused: bool, item=None):
    if not request.htmx:
        (messages.error if refused else messages.success)(request, message)
        query = _query(request)
        if item is not None and request.POST.get("back") == "item":
            url = reverse("routing:item_detail", args=[queue.code, item.pk])
        else:
            url = reverse("routing:queue_detail", args=[queue.code])
        return redirect(f"{url}?{query}" if query else url)
    context = {
        **_lists_context(request, queue, may_work),
        "flash": message,
        "flash_level": "error" if refused else "success",
    }
    response = render(request, f"{TEMPLATE}#lists", context, status=422 if refused else 200)
    if refused:
        retarget(response, f"#{LISTS_TARGET}")
        reswap(response, "outerHTML")
    return response


def _subject(item) -> str:
    subject = item.lead or item.merchant
    return str(subject) if subject is not None else "the item"


@role_required(*QUEUE_ROLES)
@require_POST
def queue_claim_next(request, code):
    queue, may_work = _queue_for(request, code, work=True)
    try:
        item = claims.assignment_claim_next(queue=queue, actor=request.user)
    except DomainError as exc:
        return _answer(request, queue, may_work, message=exc.message, refused=True)
    if item is None:
        return _answer(request, queue, may_work, message=QUEUE_EMPTY, refused=True)
    return _answer(
        request, queue, may_work, message=CLAIMED.format(item=_subject(item)), refused=False
    )


@role_required(*QUEUE_ROLES)
@require_POST
def assignment_action(request, code, assignment_id, action):
    if action not in ACTIONS:
        raise Http404("No such action.")
    queue, may_work = _queue_for(request, code, work=True)
    item = selectors.assignment_get(queue=queue, assignment_id=assignment_id)
    if item is None:
        raise Http404("No such item in this queue.")
    form_class, perform, done = ACTIONS[action]
    data = {}
    if form_class is not None:
        extra = {}
        if form_class is ReassignForm:
            extra["agents"] = selectors.queue_agent_list(queue, exclude=request.user)
        form = form_class(request.POST, **extra)
        if not form.is_valid():
            return _answer(
                request, queue, may_work, message=first_error(form), refused=True, item=item
            )
        data = form.cleaned_data
    try:
        perform(item, request.user, data)
    except DomainError as exc:
        return _answer(request, queue, may_work, message=exc.message, refused=True, item=item)
    agent = data.get("agent")
    message = done.format(item=_subject(item), agent=agent.get_full_name() if agent else "")
    return _answer(request, queue, may_work, message=message, refused=False, item=item)
