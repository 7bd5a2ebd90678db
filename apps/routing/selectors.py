"""Read queries for the queue screens. Each list is a fixed number of queries whatever its
length (related rows joined or prefetched, never read per row) with an explicit order:
highest priority first, then the oldest."""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, F, Prefetch, Q, QuerySet
from django.utils import timezone

from apps.accounts import roles
from apps.core.admin import fsm_field_names
from apps.routing import calendars
from apps.routing.models import (
    HELD_STATUSES,
    OPEN_ASSIGNMENT_STATUSES,
    QUEUE_ROLE,
    AssignmentNote,
    AssignmentStatus,
    QueueAssignment,
    QueueType,
    RoutingQueue,
    sla_is_breached,
)

# At this share of the SLA elapsed without contact, an item is "due soon".
DUE_SOON_FRACTION = calendars.WARN_FRACTION
ITEM_ORDER = ("-priority", "queued_at", "pk")


# --- SLA clock (computed, never stored) -----------------------------------------------------


def _minutes(delta: timedelta) -> str:
    minutes = max(math.ceil(delta.total_seconds() / 60), 0)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


@dataclass(frozen=True)
class SlaClock:
    """Where an item's SLA clock stands at `now`.

    state: "none" (queue without SLA), "running", "due_soon" (75% or more of the SLA elapsed,
    not contacted), "overdue" (strictly past the deadline, not contacted), "met" / "missed"
    (first contact on time / late: the clock stopped), "stopped" (closed without contact).
    """

    state: str
    due_at: datetime | None
    remaining: timedelta | None = None

    @property
    def counting(self) -> bool:
        return self.state in ("running", "due_soon", "overdue")

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
            return f"Overdue by {_minutes(-self.remaining)}"
        if self.state == "due_soon":
            return f"Due soon · {_minutes(self.remaining)} left"
        return f"{_minutes(self.remaining)} left"


def sla_clock(assignment: QueueAssignment, now: datetime | None = None) -> SlaClock:
    """The SLA clock of one item (no query). The deadline is inclusive (models.sla_is_breached);
    "due soon" starts at exactly 75% of the time between queued_at and sla_due_at."""
    now = now or timezone.now()
    due = assignment.sla_due_at
    if due is None:
        return SlaClock("none", None)
    if assignment.first_contact_at is not None:
        return SlaClock("met" if assignment.first_contact_at <= due else "missed", due)
    if assignment.status not in OPEN_ASSIGNMENT_STATUSES:
        return SlaClock("stopped", due)
    remaining = due - now
    if sla_is_breached(due, now):
        return SlaClock("overdue", due, remaining)
    due_soon_from = assignment.sla_due_soon_from  # sla_warn_at: business time if a calendar
    return SlaClock("due_soon" if now >= due_soon_from else "running", due, remaining)


def is_due_soon(assignment: QueueAssignment, now: datetime | None = None) -> bool:
    return sla_clock(assignment, now).state == "due_soon"


# --- who sees which queue -------------------------------------------------------------------


def user_role_names(user) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


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


@dataclass(frozen=True)
class QueueCounts:
    waiting: int = 0
    held: int = 0
    mine: int = 0
    overdue: int = 0


def queue_counts(queues, *, user, now: datetime | None = None) -> dict:
    """{queue pk: QueueCounts}: items waiting, held by agents, held by `user`, and open items
    strictly past their deadline without contact. One query."""
    now = now or timezone.now()
    rows = (
        QueueAssignment.objects.filter(queue__in=list(queues), status__in=OPEN_ASSIGNMENT_STATUSES)
        .values("queue")
        .annotate(
            waiting=Count("pk", filter=Q(status=AssignmentStatus.QUEUED)),
            held=Count("pk", filter=Q(status__in=HELD_STATUSES)),
            mine=Count("pk", filter=Q(status__in=HELD_STATUSES, assigned_to=user)),
            overdue=Count("pk", filter=Q(first_contact_at__isnull=True, sla_due_at__lt=now)),
        )
        .values_list("queue", "waiting", "held", "mine", "overdue")
        .order_by()
    )
    counts = {queue.pk: QueueCounts() for queue in queues}
    for queue_id, waiting, held, mine, overdue in rows:
        counts[queue_id] = QueueCounts(waiting, held, mine, overdue)
    return counts


# --- the lists of a queue page --------------------------------------------------------------


def _state_fields(prefix: str, model) -> list[str]:
    """A model with ConcurrentTransitionMixin reads its state fields when loaded: deferring
    them would cost a query per row."""
    return [f"{prefix}__{name}" for name in fsm_field_names(model)]


def _items(queue: RoutingQueue) -> QuerySet[QueueAssignment]:
    from apps.leads.models import Lead
    from apps.merchants.models import Merchant

    return (
        QueueAssignment.objects.filter(queue=queue)
        .select_related("lead", "merchant", "assigned_to")
        .only(
            "id",
            "queue_id",
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
            "lead__id",
            "lead__business_name",
            "lead__email",
            "lead__first_name",
            "lead__last_name",
            "lead__cohort",
            "lead__annual_revenue_estimate",
            "lead__number_of_locations",
            *_state_fields("lead", Lead),
            "merchant__id",
            "merchant__legal_business_name",
            *_state_fields("merchant", Merchant),
            "assigned_to__id",
            "assigned_to__email",
            "assigned_to__first_name",
            "assigned_to__last_name",
        )
        .prefetch_related(
            Prefetch(
                "notes",
                queryset=AssignmentNote.objects.select_related("author").order_by(
                    "created_at", "pk"
                ),
            )
        )
        .order_by(*ITEM_ORDER)
    )


def assignment_list_mine(*, queue: RoutingQueue, user) -> QuerySet[QueueAssignment]:
    """Items of `queue` the user holds (assigned, contacted, in progress)."""
    return _items(queue).filter(assigned_to=user, status__in=HELD_STATUSES)


def assignment_list_waiting(*, queue: RoutingQueue) -> QuerySet[QueueAssignment]:
    """Unassigned items waiting to be claimed; the first one is what claim-next takes."""
    return _items(queue).filter(status=AssignmentStatus.QUEUED)


def assignment_list_others(*, queue: RoutingQueue, user) -> QuerySet[QueueAssignment]:
    """Items of `queue` held by other agents (read-only for the user)."""
    return _items(queue).filter(status__in=HELD_STATUSES).exclude(assigned_to=user)


def assignment_get(*, queue: RoutingQueue, assignment_id) -> QueueAssignment | None:
    """The whole row (services need every field), with its queue and lead, or None when it is
    not in `queue`."""
    return (
        QueueAssignment.objects.select_related("queue", "lead", "assigned_to")
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


def with_sla_clocks(items, now: datetime | None = None):
    """Attach `.sla` (SlaClock) to each item already fetched; no query."""
    now = now or timezone.now()
    for item in items:
        item.sla = sla_clock(item, now)
    return items
