"""Queue screens under /staff/queues/ for AEs, ICs and ops.

Every action is a POST through one service. With htmx the answer is the queue's lists
(`queue.html#lists`), re-read so they show the items as they are now: 200 when done, 422 with
the refusal in the lists when refused or when the form is incomplete (retargeted at
#queue-lists, which the page lets htmx swap). Without JavaScript: a redirect back to the
queue with the same message. A role outside ae/ic/ops gets a 403, anonymous users the login
page; an AE opening an IC queue (or the reverse) gets a 403, and only the queue's agents act
on it (ops watch).
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import reswap, retarget

from apps.accounts import roles
from apps.core.errors import DomainError
from apps.core.pagination import paginate
from apps.core.permissions import role_required
from apps.routing import selectors
from apps.routing.forms import NoteForm, ReasonForm, ReassignForm, ResolveForm, first_error
from apps.routing.services import assignments, claims, notes

PAGE_SIZE = 50
TEMPLATE = "routing/queue.html"
INDEX_TEMPLATE = "routing/queue_index.html"
LISTS_TARGET = "queue-lists"
QUEUE_ROLES = (roles.AE, roles.IC, roles.OPS)

QUEUE_EMPTY = "Nothing is waiting in this queue: there is no item to claim."
CLAIMED = "You took {item}."
NOT_YOUR_QUEUE = "This queue is worked by another team."
WATCH_ONLY = "You can watch this queue, but only its agents work its items."

# action → (form class or None, service call, success message)
ACTIONS = {
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


def _page(request, queryset, param: str, now):
    page = paginate(request, queryset, per_page=PAGE_SIZE, param=param)
    selectors.with_sla_clocks(page, now)
    return page


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


def _lists_context(request, queue, may_work: bool) -> dict:
    now = timezone.now()
    user = request.user
    return {
        "queue": queue,
        "now": now,
        "can_work": may_work,
        "mine": _page(
            request, selectors.assignment_list_mine(queue=queue, user=user), "mine_page", now
        ),
        "waiting": _page(
            request, selectors.assignment_list_waiting(queue=queue), "waiting_page", now
        ),
        "others": _page(
            request, selectors.assignment_list_others(queue=queue, user=user), "others_page", now
        ),
        "sla": selectors.queue_sla_stats([queue], now)[queue.pk],
        "agents": list(selectors.queue_agent_list(queue, exclude=user)) if may_work else [],
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
    if request.htmx and request.htmx.target == LISTS_TARGET:
        return render(request, f"{TEMPLATE}#lists", context)
    return render(request, TEMPLATE, context)


def _answer(request, queue, may_work: bool, *, message: str, refused: bool):
    if not request.htmx:
        (messages.error if refused else messages.success)(request, message)
        return redirect("routing:queue_detail", code=queue.code)
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
            return _answer(request, queue, may_work, message=first_error(form), refused=True)
        data = form.cleaned_data
    try:
        perform(item, request.user, data)
    except DomainError as exc:
        return _answer(request, queue, may_work, message=exc.message, refused=True)
    agent = data.get("agent")
    message = done.format(item=_subject(item), agent=agent.get_full_name() if agent else "")
    return _answer(request, queue, may_work, message=message, refused=False)
