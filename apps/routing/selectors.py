"""Read queries for the queue screens. Each list is a fixed number of queries whatever its
length (related rows joined or prefetched, never read per row) with an explicit order:
highest priority first, then the oldest."""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db.models import Count, F, Prefetch, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.accounts import roles
from apps.core.admin import fsm_field_names
from apps.routing.models import (
    HELD_STATUSES,
    OPEN_ASSIGNMENT_STATUSES,
    QUEUE_ROLE,
    AssignmentNote,
    AssignmentStatus,
    BusinessCalendar,
    QueueAssignment,
    QueueType,
    RoutingQueue,
    sla_is_breached,
)

ITEM_ORDER = ("-priority", "queued_at", "pk")


# --- SLA clock (computed, never stored) -----------------------------------------------------


def _minutes(delta: timedelta, *, up: bool = True) -> str:
    """A duration in words, to the minute (rounded up, or down when `up` is False)."""
    seconds = delta.total_seconds() / 60
    minutes = max(math.ceil(seconds) if up else math.floor(seconds), 0)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


# How each SLA state reads on a page: (severity for the colour, the short text beside it).
SLA_SEVERITY = {
    "none": ("neutral", "No SLA"),
    "running": ("ok", "On track"),
    "due_soon": ("warning", "Due soon"),
    "overdue": ("danger", "Breached"),
    "met": ("ok", "Met"),
    "missed": ("danger", "Missed"),
    "stopped": ("neutral", "Stopped"),
}


@dataclass(frozen=True)
class SlaClock:
    """Where an item's SLA clock stands at `now`.

    state: "none" (queue without SLA), "running", "due_soon" (past the warning point, not
    contacted), "overdue" (strictly past the deadline, not contacted), "met" / "missed"
    (first contact on time / late: the clock stopped), "stopped" (closed without contact).
    `severity` (ok, warning, danger, neutral) and `severity_text` say it in a colour and a
    word; `label` says it in words: "due in 3 h 20 min", "breached 25 min ago". When the
    queue follows a business calendar (`business_hours`), what is left is working time
    ("due in 57 min of business hours" on a Friday evening for a Monday 09:55 deadline);
    how long ago a deadline passed is always wall time.
    """

    state: str
    due_at: datetime | None
    remaining: timedelta | None = None
    business_hours: bool = False

    @property
    def counting(self) -> bool:
        return self.state in ("running", "due_soon", "overdue")

    @property
    def severity(self) -> str:
        return SLA_SEVERITY[self.state][0]

    @property
    def severity_text(self) -> str:
        return SLA_SEVERITY[self.state][1]

    @property
    def label(self) -> str:
        if self.state == "none":
            return "No SLA"
        if self.state == "met":
            return "Contacted on time · clock stopped"
        if self.state == "missed":
            return "Contacted late · clock stopped"
        if self.state == "stopped":
            return "Closed without contact · clock stopped"
        if self.state == "overdue":
            return f"Breached {_minutes(-self.remaining, up=False)} ago"
        if self.business_hours:
            return f"Due in {_minutes(self.remaining)} of business hours"
        return f"Due in {_minutes(self.remaining)}"


def sla_clock(
    assignment: QueueAssignment,
    now: datetime | None = None,
    calendar: BusinessCalendar | None = None,
) -> SlaClock:
    """The SLA clock of one item (no query when `calendar`, the queue's business calendar or
    None, comes loaded: calendars_by_queue): the one place pages read an item's SLA state
    from. The deadline is inclusive (models.sla_is_breached); "due soon" starts at
    `assignment.sla_due_soon_from` (business time when the queue follows a calendar); what
    is left before the deadline counts the calendar's working time only."""
    now = now or timezone.now()
    due = assignment.sla_due_at
    if due is None:
        return SlaClock("none", None)
    if assignment.first_contact_at is not None:
        return SlaClock("met" if assignment.first_contact_at <= due else "missed", due)
    if assignment.status not in OPEN_ASSIGNMENT_STATUSES:
        return SlaClock("stopped", due)
    if sla_is_breached(due, now):
        return SlaClock("overdue", due, due - now)
    state = "due_soon" if now >= assignment.sla_due_soon_from else "running"
    if calendar is None:
        return SlaClock(state, due, due - now)
    return SlaClock(state, due, calendar.working_time_between(now, due), business_hours=True)


def calendars_by_queue(queue_ids) -> dict[int, BusinessCalendar]:
    """The business calendar, hours and holidays loaded, of each of these queues that follows
    one: one query, three when any does."""
    queues = (
        RoutingQueue.objects.filter(pk__in=set(queue_ids), business_calendar__isnull=False)
        .select_related("business_calendar")
        .prefetch_related("business_calendar__hours", "business_calendar__holidays")
        .only("id", "business_calendar")
    )
    return {queue.pk: queue.business_calendar for queue in queues}


def is_due_soon(assignment: QueueAssignment, now: datetime | None = None) -> bool:
    return sla_clock(assignment, now).state == "due_soon"


# --- who sees which queue -------------------------------------------------------------------


def user_role_names(user) -> set[str]:
    """The user's roles, from the request user's cached role_names (no query once the page's
    role check has read them)."""
    return set(user.role_names)


def _viewable_types(user, role_names: set[str]) -> list[str] | None:
    """None: every type (ops and superusers)."""
    if user.is_superuser or roles.OPS in role_names:
        return None
    # The compliance queue has its own review page (apps.compliance); ops watch it here.
    return [
        qtype
        for qtype, role in QUEUE_ROLE.items()
        if role in role_names and qtype != QueueType.COMPLIANCE
    ]


def queue_may_view(user, queue: RoutingQueue, role_names: set[str]) -> bool:
    types = _viewable_types(user, role_names)
    return types is None or queue.queue_type in types


def queue_may_work(user, queue: RoutingQueue, role_names: set[str]) -> bool:
    """Claim and act on items: the queue type's role (or a superuser) with the permission."""
    if not user.is_active:
        return False
    if user.is_superuser:
        return True
    return QUEUE_ROLE.get(queue.queue_type) in role_names and user.has_perm("routing.work_queue")


def queue_list_for(user, role_names: set[str]) -> list[RoutingQueue]:
    """The active queues the user may open: AE queues for AEs, IC queues for ICs, every
    queue for ops. By type, then overflow rank."""
    queues = RoutingQueue.objects.filter(is_active=True)
    types = _viewable_types(user, role_names)
    if types is not None:
        queues = queues.filter(queue_type__in=types)
    order = {QueueType.AE: 0, QueueType.IC: 1, QueueType.COMPLIANCE: 2}
    return sorted(queues, key=lambda q: (order.get(q.queue_type, 9), q.overflow_rank, q.code))


def queue_get(*, code: str) -> RoutingQueue | None:
    return RoutingQueue.objects.filter(code=code).first()


# --- figures --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlaStats:
    ended: int
    met: int

    @property
    def percent(self) -> int | None:
        """Share of ended SLAs met, rounded down to a whole percent; None when none ended."""
        if not self.ended:
            return None
        return self.met * 100 // self.ended

    @property
    def label(self) -> str:
        if self.percent is None:
            return "—"
        return f"{self.percent}%"


def _sla_ended(now: datetime) -> Q:
    """An item's SLA has ended when it was contacted, or when its deadline is strictly past —
    except an item withdrawn (the lead became self-serve) before its deadline, which nobody
    had to contact."""
    return Q(sla_due_at__isnull=False) & (
        Q(first_contact_at__isnull=False)
        | (Q(sla_due_at__lt=now) & ~Q(withdrawn_at__lte=F("sla_due_at")))
    )


def _sla_met() -> Q:
    return Q(first_contact_at__lte=F("sla_due_at"))


def queue_sla_stats(queues, now: datetime | None = None) -> dict:
    """{queue pk: SlaStats} for `queues`: of the items whose SLA has ended, how many were
    first contacted on time (at or before the deadline). One query."""
    now = now or timezone.now()
    ended = _sla_ended(now)
    rows = (
        QueueAssignment.objects.filter(queue__in=list(queues))
        .values("queue")
        .annotate(ended=Count("pk", filter=ended), met=Count("pk", filter=ended & _sla_met()))
        .values_list("queue", "ended", "met")
        .order_by()
    )
    stats = {queue.pk: SlaStats(0, 0) for queue in queues}
    for queue_id, ended_count, met_count in rows:
        stats[queue_id] = SlaStats(ended_count, met_count)
    return stats


SLA_FIGURE_SECONDS = 60


def queue_sla_stats_recent(queue: RoutingQueue, now: datetime | None = None) -> SlaStats:
    """The queue page's "SLAs met" figure, computed at most once a minute per queue and
    process (an aggregate over every item the queue ever held, so not on every view of the
    page); the page says when it was refreshed."""
    now = now or timezone.now()
    key = f"routing:sla-stats:{queue.pk}:{int(now.timestamp()) // SLA_FIGURE_SECONDS}"
    return cache.get_or_set(
        key, lambda: queue_sla_stats([queue], now)[queue.pk], SLA_FIGURE_SECONDS
    )


@dataclass(frozen=True)
class QueueCounts:
    waiting: int = 0
    held: int = 0
    mine: int = 0
    overdue: int = 0
    escalated: int = 0

    @property
    def others(self) -> int:
        """Held by agents other than the user."""
        return self.held - self.mine

    @property
    def open(self) -> int:
        return self.waiting + self.held


def queue_counts(queues, *, user, now: datetime | None = None) -> dict:
    """{queue pk: QueueCounts}: items waiting, held by agents, held by `user`, open items
    strictly past their deadline without contact, and escalated items. One query, an
    index-only scan of assignment_open_counts (it counts queue_id: no column outside it)."""
    now = now or timezone.now()
    open_q = Q(status__in=OPEN_ASSIGNMENT_STATUSES)
    rows = (
        QueueAssignment.objects.filter(
            queue__in=list(queues),
            status__in=[*OPEN_ASSIGNMENT_STATUSES, AssignmentStatus.ESCALATED],
        )
        .values("queue")
        .annotate(
            waiting=Count("queue", filter=Q(status=AssignmentStatus.QUEUED)),
            held=Count("queue", filter=Q(status__in=HELD_STATUSES)),
            mine=Count("queue", filter=Q(status__in=HELD_STATUSES, assigned_to=user)),
            overdue=Count(
                "queue", filter=open_q & Q(first_contact_at__isnull=True, sla_due_at__lt=now)
            ),
            escalated=Count("queue", filter=Q(status=AssignmentStatus.ESCALATED)),
        )
        .values_list("queue", "waiting", "held", "mine", "overdue", "escalated")
        .order_by()
    )
    counts = {queue.pk: QueueCounts() for queue in queues}
    for queue_id, *figures in rows:
        counts[queue_id] = QueueCounts(*figures)
    return counts


# --- the list of a queue page ---------------------------------------------------------------

# Filter and sort vocabularies of the queue page (apps.routing.forms checks them).
STATUS_FILTERS = {
    "open": ("Every open item", OPEN_ASSIGNMENT_STATUSES),
    "queued": ("Waiting", [AssignmentStatus.QUEUED]),
    "assigned": ("Assigned", [AssignmentStatus.ASSIGNED]),
    "contacted": ("Contacted", [AssignmentStatus.CONTACTED]),
    "in_progress": ("In progress", [AssignmentStatus.IN_PROGRESS]),
    "escalated": ("Escalated", [AssignmentStatus.ESCALATED]),
}
SORTS = {
    "priority": ("Priority, then oldest", ITEM_ORDER),
    "age": ("Oldest first", ("queued_at", "pk")),
    "sla": ("SLA due first", (F("sla_due_at").asc(nulls_last=True), "-priority", "pk")),
}
SEARCH_WORDS = 5


@dataclass(frozen=True)
class QueueFilters:
    """What the queue page shows: `status` a key of STATUS_FILTERS; `assignee` "" (anyone),
    "me", "none" (unassigned), "others" or an agent's id; `cohort` "" or a lead cohort;
    `q` words each found in the business or contact name; `sort` a key of SORTS."""

    status: str = "open"
    assignee: str = ""
    cohort: str = ""
    q: str = ""
    sort: str = "priority"


def _state_fields(prefix: str, model) -> list[str]:
    """A model with ConcurrentTransitionMixin reads its state fields when loaded: deferring
    them would cost a query per row."""
    return [f"{prefix}__{name}" for name in fsm_field_names(model)]


def _optional_fields() -> list[str]:
    """Fields read by sla_clock that only some versions of the model have (loaded when they
    exist, so that reading them never costs a query per row)."""
    names = {f.name for f in QueueAssignment._meta.concrete_fields}
    return [name for name in ("sla_warn_at",) if name in names]


def _items(queue: RoutingQueue) -> QuerySet[QueueAssignment]:
    """The rows of a queue page: the item, its lead and merchant (names only) and holder, and
    `hub_merchant_id`, the merchant whose staff page the row links to (the item's, else its
    lead's; None while the lead has no merchant)."""
    from apps.leads.models import Lead
    from apps.merchants.models import Merchant

    return (
        QueueAssignment.objects.filter(queue=queue)
        .select_related("lead", "merchant", "assigned_to")
        .annotate(hub_merchant_id=Coalesce("merchant_id", "lead__merchant__id"))
        .only(
            "id",
            "queue_id",
            "lead_id",
            "merchant_id",
            "assigned_to_id",
            "status",
            "priority",
            "reason",
            "queued_at",
            "sla_due_at",
            "sla_warn_at",
            "first_contact_at",
            "sla_breached",
            "assigned_at",
            "auto_assigned",
            "withdrawn_at",
            *_optional_fields(),
            "lead__id",
            "lead__business_name",
            "lead__email",
            "lead__first_name",
            "lead__last_name",
            "lead__cohort",
            *_state_fields("lead", Lead),
            "merchant__id",
            "merchant__legal_business_name",
            *_state_fields("merchant", Merchant),
            "assigned_to__id",
            "assigned_to__email",
            "assigned_to__first_name",
            "assigned_to__last_name",
        )
    )


def _search(words: list[str]) -> Q:
    """Every word in the lead's business or contact name or email, or the merchant's name."""
    found = Q()
    for word in words:
        found &= (
            Q(lead__business_name__icontains=word)
            | Q(lead__first_name__icontains=word)
            | Q(lead__last_name__icontains=word)
            | Q(lead__email__icontains=word)
            | Q(merchant__legal_business_name__icontains=word)
        )
    return found


def assignment_list(*, queue: RoutingQueue, user, filters: QueueFilters) -> QuerySet:
    """The items of `queue` that match `filters`, in the chosen order (two fixed queries
    once paginated: a count and a page)."""
    items = _items(queue).filter(status__in=STATUS_FILTERS[filters.status][1])
    assignee = filters.assignee
    if assignee == "me":
        items = items.filter(assigned_to=user)
    elif assignee == "none":
        items = items.filter(assigned_to__isnull=True)
    elif assignee == "others":
        items = items.filter(assigned_to__isnull=False).exclude(assigned_to=user)
    elif assignee:
        items = items.filter(assigned_to_id=assignee)
    if filters.cohort:
        items = items.filter(
            Q(lead__cohort=filters.cohort)
            | Q(lead__isnull=True, merchant__lead__cohort=filters.cohort)
        )
    words = filters.q.split()[:SEARCH_WORDS]
    if words:
        items = items.filter(_search(words))
    return items.order_by(*SORTS[filters.sort][1])


def assignment_list_mine(*, queue: RoutingQueue, user) -> QuerySet[QueueAssignment]:
    """Items of `queue` the user holds (assigned, contacted, in progress)."""
    return _items(queue).filter(assigned_to=user, status__in=HELD_STATUSES).order_by(*ITEM_ORDER)


def assignment_list_waiting(*, queue: RoutingQueue) -> QuerySet[QueueAssignment]:
    """Unassigned items waiting to be claimed; the first one is what claim-next takes."""
    return _items(queue).filter(status=AssignmentStatus.QUEUED).order_by(*ITEM_ORDER)


def assignment_list_others(*, queue: RoutingQueue, user) -> QuerySet[QueueAssignment]:
    """Items of `queue` held by other agents."""
    return (
        _items(queue)
        .filter(status__in=HELD_STATUSES)
        .exclude(assigned_to=user)
        .order_by(*ITEM_ORDER)
    )


def assignment_get(*, queue: RoutingQueue, assignment_id) -> QueueAssignment | None:
    """The whole row (services need every field), with its queue and lead, or None when it is
    not in `queue`."""
    return (
        QueueAssignment.objects.select_related("queue", "lead", "assigned_to")
        .filter(pk=assignment_id, queue=queue)
        .first()
    )


def assignment_detail_get(*, queue: RoutingQueue, assignment_id) -> QueueAssignment | None:
    """One item for its own page: the row, its lead, merchant and holder, `hub_merchant_id`,
    and its notes (oldest first) with their authors. Three queries."""
    return (
        QueueAssignment.objects.select_related("queue", "lead", "merchant", "assigned_to")
        .annotate(hub_merchant_id=Coalesce("merchant_id", "lead__merchant__id"))
        .prefetch_related(
            Prefetch(
                "notes",
                queryset=AssignmentNote.objects.select_related("author").order_by(
                    "created_at", "pk"
                ),
            )
        )
        .filter(pk=assignment_id, queue=queue)
        .first()
    )


def queue_agent_list(queue: RoutingQueue, *, exclude=None) -> QuerySet:
    """Active people who work this type of queue (reassignment choices), by name."""
    from django.contrib.auth import get_user_model

    agents = (
        get_user_model()
        .objects.filter(is_active=True, groups__name=QUEUE_ROLE.get(queue.queue_type))
        .only("id", "email", "first_name", "last_name")
        .order_by("first_name", "last_name", "email")
    )
    if exclude is not None:
        agents = agents.exclude(pk=exclude.pk)
    return agents


def with_sla_clocks(items, now: datetime | None = None, *, queue: RoutingQueue | None = None):
    """Attach `.sla` (SlaClock) and `.age` (how long ago it was queued, in words) to each
    item already fetched: calendars_by_queue's queries, whatever the number of items, none
    when the items are of one `queue` the caller has that follows no calendar."""
    now = now or timezone.now()
    items = list(items)
    if not items or (queue is not None and queue.business_calendar_id is None):
        calendars = {}
    else:
        calendars = calendars_by_queue(item.queue_id for item in items)
    for item in items:
        item.sla = sla_clock(item, now, calendars.get(item.queue_id))
        item.age = _minutes(now - item.queued_at, up=False)
    return items
