"""Read queries of the progress pages: the alerts inbox, time in step and journey duration,
and the ops dashboard's figures.

Every list here is a fixed number of queries whatever the number of rows (grouped counts in
the database, related rows joined), with an explicit order.

Medians run in the database on PostgreSQL (percentile_cont(0.5) as a Django aggregate, no
raw SQL); elsewhere (SQLite, the embedded development setup) they are computed in Python
from one values_list query. Both give the same figures (tests/progress/test_ops_dashboard.py).
"""

import statistics
from collections import defaultdict
from datetime import timedelta

from django.db import connection
from django.db.models import (
    Aggregate,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    OuterRef,
    Q,
    QuerySet,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.leads.models import Cohort
from apps.progress.models import (
    OPEN_ALERT_STATUSES,
    SEVERITY_RANK,
    AlertType,
    JourneyStep,
    MerchantStepProgress,
    Severity,
    StallAlert,
    StepStatus,
    severity_rank,
)

# An order counts as paid from `paid` on, while it is not refunded or cancelled.
PAID_ORDER_STATUSES = ["paid", "hardware_ordered", "shipped", "delivered", "activated"]
NOT_PROFILED = "not_profiled"
COHORT_LABELS = {**dict(Cohort.choices), NOT_PROFILED: "Not profiled"}
COHORT_ORDER = [*Cohort.values, NOT_PROFILED]
FUNNEL_STAGES = [
    ("leads", "Leads"),
    ("accounts", "Account created"),
    ("kyb_approved", "KYB approved"),
    ("paid", "Paid"),
    ("active", "Active"),
]
SEVERITIES_HIGH_FIRST = sorted(SEVERITY_RANK, key=SEVERITY_RANK.get, reverse=True)


class Median(Aggregate):
    """PostgreSQL's median: percentile_cont(0.5) WITHIN GROUP (ORDER BY expression)."""

    function = "percentile_cont"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    allow_distinct = False


def database_has_percentile() -> bool:
    return connection.vendor == "postgresql"


# --- Alerts inbox -------------------------------------------------------------------------------


UNASSIGNED = "none"


def alert_inbox_list(
    *,
    severity: str | None = None,
    alert_type: str | None = None,
    cohort: str | None = None,
    assignee=None,
) -> QuerySet:
    """Ids of the open alerts (open, assigned, in progress), most severe first, then oldest
    first: the inbox pages this, then reads the page's rows with `alert_inbox_rows`.
    Ordered and counted on the alerts table alone (the index `alert_inbox_order`), so paging
    through 24k open alerts never joins their merchants, leads and users; only a cohort
    filter joins (the merchant's cohort, or the lead's for an alert about a lead alone).
    `assignee`: a user id, or UNASSIGNED for alerts nobody holds."""
    alerts = StallAlert.objects.filter(alert_status__in=OPEN_ALERT_STATUSES)
    if severity:
        alerts = alerts.filter(severity=severity)
    if alert_type:
        alerts = alerts.filter(alert_type=alert_type)
    if cohort:
        alerts = alerts.annotate(cohort=Coalesce("merchant__cohort", "lead__cohort")).filter(
            cohort=cohort
        )
    if assignee == UNASSIGNED:
        alerts = alerts.filter(assigned_to__isnull=True)
    elif assignee:
        alerts = alerts.filter(assigned_to_id=assignee)
    return alerts.order_by(severity_rank().desc(), "stall_detected_at", "pk").values_list(
        "pk", flat=True
    )


def alert_inbox_rows(*, alert_ids: list) -> list[StallAlert]:
    """The alerts of one inbox page, in the order of `alert_ids`, with what a card shows."""
    rows = {
        alert.pk: alert
        for alert in StallAlert.objects.select_related("merchant", "lead", "step", "assigned_to")
        .annotate(cohort=Coalesce("merchant__cohort", "lead__cohort"))
        .filter(pk__in=alert_ids)
    }
    return [rows[pk] for pk in alert_ids if pk in rows]


def alert_agent_list() -> list:
    """Active people who work alerts (IC, AE, ops), for the inbox's "claimed by" filter."""
    from django.contrib.auth import get_user_model

    from apps.accounts import roles

    return list(
        get_user_model()
        .objects.filter(is_active=True, groups__name__in=[roles.IC, roles.AE, roles.OPS])
        .distinct()
        .only("id", "email")
        .order_by("email")
    )


def alert_get(*, alert_id) -> StallAlert | None:
    return (
        StallAlert.objects.select_related("merchant", "lead", "step", "assigned_to")
        .annotate(cohort=Coalesce("merchant__cohort", "lead__cohort"))
        .filter(pk=alert_id)
        .first()
    )


# --- Time in step and journey duration ------------------------------------------------------------


def step_time_spent(progress: MerchantStepProgress, *, now=None) -> int:
    """Seconds of work in the step: time_spent_seconds once completed; while it is open,
    the time since it started less the time it spent blocked (a current block included)."""
    if progress.status == StepStatus.COMPLETED or not progress.started_at:
        return progress.time_spent_seconds
    now = now or timezone.now()
    blocked = progress.blocked_seconds
    if progress.status == StepStatus.BLOCKED and progress.blocked_at:
        blocked += int((now - progress.blocked_at).total_seconds())
    return max(0, int((now - progress.started_at).total_seconds()) - blocked)


def journey_duration(merchant, *, now=None) -> timedelta:
    """From journey_started_at to journey_completed_at, or to now while it is not complete."""
    end = merchant.journey_completed_at or now or timezone.now()
    return max(timedelta(0), end - merchant.journey_started_at)


def step_median_times(*, in_database: bool | None = None) -> list[dict]:
    """Per journey step, in journey order: how many merchants completed it and the median of
    their time in it (seconds of work, blocked time excluded; None when nobody completed it)."""
    in_database = database_has_percentile() if in_database is None else in_database
    completed = MerchantStepProgress.objects.filter(status=StepStatus.COMPLETED)
    if in_database:
        figures = {
            row["step_id"]: (row["completed"], row["median"])
            for row in completed.values("step_id")
            .annotate(
                completed=Count("id"),
                median=Median("time_spent_seconds", output_field=FloatField()),
            )
            .order_by("step_id")
        }
    else:
        values = defaultdict(list)
        for step_id, seconds in completed.values_list("step_id", "time_spent_seconds").order_by(
            "step_id"
        ):
            values[step_id].append(seconds)
        figures = {
            step_id: (len(seconds), statistics.median(seconds))
            for step_id, seconds in values.items()
        }
    rows = []
    for step in JourneyStep.objects.order_by("display_order"):
        count, median = figures.get(step.id, (0, None))
        rows.append(
            {
                "step": step.id,
                "step_name": step.step_name,
                "completed": count,
                "median_seconds": round(median) if median is not None else None,
            }
        )
    return rows


def journey_median_durations(*, now=None, in_database: bool | None = None) -> list[dict]:
    """Per cohort: completed journeys (count and median duration) and journeys not complete
    yet (count and median age so far)."""
    from apps.merchants.choices import JourneyStatus
    from apps.merchants.models import Merchant

    now = now or timezone.now()
    in_database = database_has_percentile() if in_database is None else in_database
    done = Q(journey_status=JourneyStatus.COMPLETED, journey_completed_at__isnull=False)
    figures: dict[str, dict] = defaultdict(dict)
    if in_database:
        completed = (
            Merchant.objects.filter(done)
            .values("cohort")
            .annotate(
                n=Count("id"),
                median=Median(
                    ExpressionWrapper(
                        F("journey_completed_at") - F("journey_started_at"),
                        output_field=DurationField(),
                    ),
                    output_field=DurationField(),
                ),
            )
            .order_by("cohort")
        )
        open_ = (
            Merchant.objects.exclude(done)
            .values("cohort")
            .annotate(
                n=Count("id"),
                median=Median(
                    ExpressionWrapper(
                        Value(now) - F("journey_started_at"), output_field=DurationField()
                    ),
                    output_field=DurationField(),
                ),
            )
            .order_by("cohort")
        )
        for key, rows in (("completed", completed), ("open", open_)):
            for row in rows:
                figures[row["cohort"]][key] = (row["n"], row["median"])
    else:
        durations: dict[tuple, list] = defaultdict(list)
        for cohort, status, started, completed_at in Merchant.objects.values_list(
            "cohort", "journey_status", "journey_started_at", "journey_completed_at"
        ).order_by("cohort"):
            if status == JourneyStatus.COMPLETED and completed_at:
                durations[(cohort, "completed")].append(completed_at - started)
            else:
                durations[(cohort, "open")].append(now - started)
        for (cohort, key), values in durations.items():
            figures[cohort][key] = (len(values), statistics.median(values))
    rows = []
    for cohort in Cohort.values:
        completed_n, completed_median = figures[cohort].get("completed", (0, None))
        open_n, open_median = figures[cohort].get("open", (0, None))
        rows.append(
            {
                "cohort": cohort,
                "cohort_label": COHORT_LABELS[cohort],
                "completed": completed_n,
                "completed_median": _whole_seconds(completed_median),
                "open": open_n,
                "open_median": _whole_seconds(open_median),
            }
        )
    return rows


def _whole_seconds(value: timedelta | None) -> timedelta | None:
    return timedelta(seconds=round(value.total_seconds())) if value is not None else None


# --- Ops dashboard --------------------------------------------------------------------------------


def funnel_by_cohort() -> list[dict]:
    """Per cohort (the merchant's, else the lead's; leads not profiled yet apart): leads,
    accounts (a merchant exists), KYB approved, paid (an order paid and not refunded), active.
    Deleted leads are left out. One query."""
    from apps.leads.models import Lead
    from apps.merchants.choices import CheckStatus
    from apps.orders.models import Order

    paid_order = Order.objects.filter(
        merchant_id=OuterRef("merchant__id"), status__in=PAID_ORDER_STATUSES
    )
    rows = (
        Lead.objects.filter(deleted_at__isnull=True)
        .annotate(
            cohort_key=Coalesce("merchant__cohort", "cohort", Value(NOT_PROFILED)),
            has_paid=Exists(paid_order),
        )
        .values("cohort_key")
        .annotate(
            leads=Count("id"),
            accounts=Count("merchant"),
            kyb_approved=Count("merchant", filter=Q(merchant__kyb_status=CheckStatus.APPROVED)),
            paid=Count("merchant", filter=Q(has_paid=True)),
            active=Count("merchant", filter=Q(merchant__is_active=True)),
        )
        .order_by("cohort_key")
    )
    by_cohort = {row["cohort_key"]: row for row in rows}
    table = []
    for cohort in COHORT_ORDER:
        row = by_cohort.get(cohort)
        if row is None and cohort == NOT_PROFILED:
            continue
        counts = {stage: (row or {}).get(stage, 0) for stage, _ in FUNNEL_STAGES}
        table.append({"cohort": cohort, "cohort_label": COHORT_LABELS[cohort], **counts})
    total = {stage: sum(row[stage] for row in table) for stage, _ in FUNNEL_STAGES}
    table.append({"cohort": "all", "cohort_label": "All cohorts", **total})
    for row in table:
        row["conversion"] = round(100 * row["active"] / row["leads"], 1) if row["leads"] else None
    return table


def dropoff_by_step() -> list[dict]:
    """Per journey step: merchants whose current step it is, with the journey in progress,
    stalled (in progress with an open stalled alert on that step) and abandoned. One query
    (plus the step names)."""
    from apps.merchants.choices import JourneyStatus
    from apps.merchants.models import Merchant

    stalled_alert = StallAlert.objects.filter(
        merchant_id=OuterRef("pk"),
        step_id=OuterRef("current_step"),
        alert_type=AlertType.STALLED,
        alert_status__in=OPEN_ALERT_STATUSES,
    )
    in_progress = Q(journey_status=JourneyStatus.IN_PROGRESS)
    figures = {
        row["current_step"]: row
        for row in Merchant.objects.annotate(is_stalled=Exists(stalled_alert))
        .values("current_step")
        .annotate(
            in_progress=Count("id", filter=in_progress),
            stalled=Count("id", filter=in_progress & Q(is_stalled=True)),
            abandoned=Count("id", filter=Q(journey_status=JourneyStatus.ABANDONED)),
        )
        .order_by("current_step")
    }
    rows = []
    for step in JourneyStep.objects.order_by("display_order"):
        row = figures.get(step.id, {})
        rows.append(
            {
                "step": step.id,
                "step_name": step.step_name,
                "in_progress": row.get("in_progress", 0),
                "stalled": row.get("stalled", 0),
                "abandoned": row.get("abandoned", 0),
            }
        )
    return rows


def queue_sla_stats(*, now=None, use_routing: bool | None = None) -> list[dict]:
    """Per routing queue (by code): of the items whose SLA has ended (contacted, or past the
    deadline and not withdrawn before it), how many were first contacted by the deadline, and
    the % met, rounded down (None when none ended). Two queries.

    The figures are routing's own (apps.routing.selectors.queue_sla_stats, the ones on the
    queue screens); without that selector (`use_routing=False`) the same definition is
    computed here."""
    from apps.routing.models import RoutingQueue

    queues = list(
        RoutingQueue.objects.only("id", "code", "queue_name", "sla_minutes").order_by("code")
    )
    routing_stats = None
    if use_routing is not False:
        try:
            from apps.routing.selectors import queue_sla_stats as routing_stats
        except ImportError:
            routing_stats = None
    if routing_stats is not None:
        figures = {pk: (stats.ended, stats.met) for pk, stats in routing_stats(queues, now).items()}
    else:
        figures = _queue_sla_figures(queues, now or timezone.now())
    rows = []
    for queue in queues:
        ended, met = figures.get(queue.pk, (0, 0))
        rows.append(
            {
                "queue": queue.code,
                "queue_name": queue.queue_name,
                "sla_minutes": queue.sla_minutes,
                "ended": ended,
                "met": met,
                "missed": ended - met,
                "met_percent": met * 100 // ended if ended else None,
            }
        )
    return rows


def _queue_sla_figures(queues, now) -> dict:
    from apps.routing.models import QueueAssignment

    ended = Q(sla_due_at__isnull=False) & (
        Q(first_contact_at__isnull=False) | Q(sla_due_at__lt=now)
    )
    if any(field.name == "withdrawn_at" for field in QueueAssignment._meta.get_fields()):
        ended &= ~Q(
            first_contact_at__isnull=True,
            withdrawn_at__isnull=False,
            withdrawn_at__lte=F("sla_due_at"),
        )
    met = ended & Q(first_contact_at__lte=F("sla_due_at"))
    return {
        row["queue"]: (row["ended"], row["met"])
        for row in QueueAssignment.objects.filter(queue__in=queues)
        .values("queue")
        .annotate(ended=Count("id", filter=ended), met=Count("id", filter=met))
        .order_by("queue")
    }


def open_alerts_by_severity() -> list[dict]:
    """Open alerts per severity (most severe first), split by type. One query."""
    counts = defaultdict(lambda: defaultdict(int))
    for row in (
        StallAlert.objects.filter(alert_status__in=OPEN_ALERT_STATUSES)
        .values("severity", "alert_type")
        .annotate(n=Count("id"))
        .order_by("severity", "alert_type")
    ):
        counts[row["severity"]][row["alert_type"]] = row["n"]
    labels = dict(Severity.choices)
    return [
        {
            "severity": severity,
            "severity_label": labels[severity],
            "total": sum(counts[severity].values()),
            **{alert_type: counts[severity][alert_type] for alert_type in AlertType.values},
        }
        for severity in SEVERITIES_HIGH_FIRST
    ]


def failed_integrations_by_system() -> list[dict]:
    """ExternalSystemSync rows failed or in conflict, per external system. One query."""
    from apps.integrations.models import ExternalSystem, ExternalSystemSync, SyncStatus

    figures = {
        row["external_system"]: row
        for row in ExternalSystemSync.objects.filter(
            sync_status__in=[SyncStatus.FAILED, SyncStatus.CONFLICT]
        )
        .values("external_system")
        .annotate(
            failed=Count("id", filter=Q(sync_status=SyncStatus.FAILED)),
            conflict=Count("id", filter=Q(sync_status=SyncStatus.CONFLICT)),
        )
        .order_by("external_system")
    }
    return [
        {
            "system": system,
            "system_label": label,
            "failed": figures.get(system, {}).get("failed", 0),
            "conflict": figures.get(system, {}).get("conflict", 0),
        }
        for system, label in ExternalSystem.choices
    ]
