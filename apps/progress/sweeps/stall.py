"""The stall sweep: `stall_sweep` finds stalled, abandoned and erroring journeys and lost leads
in a fixed number of queries, raises one alert per condition (once), raises severities, and
resolves alerts whose merchant moved on (`alerts_resolve_moved_on`). One transaction,
idempotent; its outbox events (`ALERT_RAISED`, `MERCHANT_LOST`) are delivered after commit.

DESIGN.md rule 8: django-q2 runs `apps.progress.tasks.stall_sweep` every 15 minutes (schedule
"stall-sweep").

What it finds
-------------
Only journeys in progress, on the merchant's current step: the progress row of
`merchant.current_step` while it is in progress, blocked or failed.

    activity = the row's last_activity_at, else started_at (else when the row was created)
    days     = whole days since activity (rounded down)

    stalled          days >= policy.stalled_after_days     (self-serve 3, assisted 2, managed 1)
    abandoned        days >= policy.abandoned_after_days   (14; the journey is marked abandoned)
    error_threshold  error_count >= policy.error_threshold (3)
    lead lost        journey abandoned and days >= policy.lost_after_days (30)

Every threshold comes from the merchant's cohort's StallPolicy row; a cohort without a policy
is not swept. Boundaries are inclusive: exactly 3 days without activity is stalled, 3 days
minus one second is not. The lost threshold counts from the same last activity as the others
(StallPolicy keeps abandoned_after_days <= lost_after_days for that reason), so a lead is lost
after 30 days of silence, 16 days after its journey was marked abandoned.

Each condition raises its own alert, once: there is at most one open alert per (merchant,
step, type) (a partial unique index), so a merchant found 20 days idle gets a stalled and an
abandoned alert, and running the sweep again raises nothing new.

Severity: see apps/progress/sweeps/severity.py.

Resolving itself
----------------
An open stalled, abandoned or error_threshold alert is resolved (alert_resolve, by the system,
with the reason) once the merchant has moved on: its step is completed or skipped, the
merchant's current step is another one, the journey is completed, or (stalled and abandoned
alerts) the step shows activity newer than the alert's. The handler of step completions does it
at once; the sweep catches the rest.

How it stays cheap
------------------
The sweep runs a fixed number of queries whatever the number of merchants: it reads each set
with one query (the cohort thresholds become CASE/WHEN expressions), inserts the new alerts
and their history rows with one COPY and one INSERT … SELECT (apps.core.db.rows_insert,
history_insert), raises severities with one UPDATE per cohort plus one history INSERT …
SELECT, and records one outbox event per new alert or lost lead with one COPY
(apps.integrations.outbox.events_emit). Python
loops only over the rows found, never over every merchant. Two sweeps never overlap: each
locks the StallPolicy rows first. The transaction runs with PostgreSQL's JIT off
(apps.core.db.jit_off): at 100k leads compiling the finder took 6.7 s of its 7.5 s.

The one per-row path is resolving alerts whose merchant moved on: the service (transition,
history, event) runs for each alert that changes, and only for those; most are resolved
earlier by the step-completion handler, so the sweep finds few.

What happens next, per merchant, runs from the outbox after commit: see
apps/progress/sweeps/follow_ups.py.
"""

import logging
import math
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import timedelta
from functools import reduce
from operator import or_

from django.db import transaction
from django.db.models import (
    BooleanField,
    Case,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.core.db import history_insert, jit_off, row_values, rows_insert
from apps.core.errors import DomainError
from apps.integrations.models import IntegrationEvent
from apps.integrations.outbox import event_values, events_emit
from apps.leads.models import OPEN_LEAD_STATUSES
from apps.merchants.choices import JourneyStatus
from apps.merchants.models import Merchant
from apps.progress.models import (
    DONE_STEP_STATUSES,
    OPEN_ALERT_STATUSES,
    SEVERITY_RANK,
    AlertType,
    MerchantStepProgress,
    StallAlert,
    StallPolicy,
    StepStatus,
)
from apps.progress.services import alert_resolve
from apps.progress.sweeps.severity import _BY_RANK, _severity_steps, severity_for

logger = logging.getLogger(__name__)

ALERT_RAISED = "alert.raised"
MERCHANT_LOST = "merchant.lost"
SWEPT_ALERT_TYPES = [AlertType.STALLED, AlertType.ABANDONED, AlertType.ERROR_THRESHOLD]
TIMED_ALERT_TYPES = [AlertType.STALLED, AlertType.ABANDONED]
ACTIVE_STEP_STATUSES = [StepStatus.IN_PROGRESS, StepStatus.BLOCKED, StepStatus.FAILED]
DAY = timedelta(days=1)


@dataclass
class SweepResult:
    """What one sweep did (the task's return value, shown in django-q2's Success rows)."""

    stalled: int = 0
    abandoned: int = 0
    error_threshold: int = 0
    escalated: int = 0
    resolved: int = 0
    lost: int = 0
    events: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def _days(now, since) -> int:
    return max(0, math.floor((now - since) / DAY)) if since else 0


# --- Expressions shared by the queries ----------------------------------------------------------


def _activity(prefix: str = ""):
    """When the progress row last showed life (its fields under `prefix`)."""
    return Coalesce(
        f"{prefix}last_activity_at",
        f"{prefix}started_at",
        f"{prefix}created_at",
        output_field=DateTimeField(),
    )


def _per_cohort(policies: dict, condition) -> Q:
    """OR over the cohorts of (merchant in that cohort AND condition(policy))."""
    return reduce(
        or_,
        (Q(merchant__cohort=cohort) & condition(policy) for cohort, policy in policies.items()),
    )


def _is_due(q: Q) -> ExpressionWrapper:
    return ExpressionWrapper(q, output_field=BooleanField())


def _open_alert_exists(alert_type: str) -> Exists:
    return Exists(
        StallAlert.objects.filter(
            merchant_id=OuterRef("merchant_id"),
            step_id=OuterRef("step_id"),
            alert_type=alert_type,
            alert_status__in=OPEN_ALERT_STATUSES,
        )
    )


# --- The sweep ----------------------------------------------------------------------------------


def stall_sweep(*, now=None) -> SweepResult:
    """Find stalls, abandonments, repeated errors and lost leads; resolve what moved on; raise
    severities. One transaction; idempotent (see the module docstring)."""
    now = now or timezone.now()
    result = SweepResult()
    with transaction.atomic():
        jit_off()
        # Locking the policies serialises sweeps: the second one sees the first one's alerts.
        policies = {
            policy.cohort: policy
            for policy in StallPolicy.objects.select_for_update().order_by("cohort")
        }
        if not policies:
            logger.warning("stall sweep: no StallPolicy rows, nothing swept (run seed_rules)")
            return result
        result.resolved = alerts_resolve_moved_on()
        alerts = _alerts_raise(policies, now)
        for alert in alerts:
            setattr(result, alert["alert_type"], getattr(result, alert["alert_type"]) + 1)
        result.escalated = _alerts_escalate(policies, now)
        lost = _lost_merchants(policies, now)
        result.lost = len(lost)
        events = [_alert_raised_event(alert) for alert in alerts]
        events += [_merchant_lost_event(row, now) for row in lost]
        events_emit(events)  # one INSERT; delivered after commit, 50 events per task
        result.events = len(events)
    if any(result.as_dict().values()):
        logger.info("stall sweep: %s", result.as_dict())
    return result


def _alerts_raise(policies: dict, now) -> list[dict]:
    """Raise the alerts due; returns them as row_values dicts."""
    created = timezone.now()  # created_at/updated_at, as auto_now would set them
    stalled_q = _per_cohort(
        policies, lambda p: Q(activity__lte=now - timedelta(days=p.stalled_after_days))
    )
    abandoned_q = _per_cohort(
        policies, lambda p: Q(activity__lte=now - timedelta(days=p.abandoned_after_days))
    )
    errors_q = _per_cohort(policies, lambda p: Q(error_count__gte=p.error_threshold))
    rows = (
        MerchantStepProgress.objects.filter(
            merchant__journey_status=JourneyStatus.IN_PROGRESS,
            merchant__cohort__in=list(policies),
            step_id=F("merchant__current_step"),
            status__in=ACTIVE_STEP_STATUSES,
        )
        .annotate(
            activity=_activity(),
            has_stalled=_open_alert_exists(AlertType.STALLED),
            has_abandoned=_open_alert_exists(AlertType.ABANDONED),
            has_errors=_open_alert_exists(AlertType.ERROR_THRESHOLD),
        )
        .annotate(
            stalled_due=_is_due(stalled_q),
            abandoned_due=_is_due(abandoned_q),
            errors_due=_is_due(errors_q),
        )
        .filter(
            Q(stalled_due=True, has_stalled=False)
            | Q(abandoned_due=True, has_abandoned=False)
            | Q(errors_due=True, has_errors=False)
        )
        .order_by("merchant_id")
        .values(
            "merchant_id",
            "merchant__lead_id",
            "merchant__cohort",
            "step_id",
            "status",
            "activity",
            "error_count",
            "stalled_due",
            "abandoned_due",
            "errors_due",
            "has_stalled",
            "has_abandoned",
            "has_errors",
        )
    )
    alerts = []
    for row in rows:
        policy = policies[row["merchant__cohort"]]
        days = _days(now, row["activity"])
        due = [
            (AlertType.STALLED, row["stalled_due"] and not row["has_stalled"]),
            (AlertType.ABANDONED, row["abandoned_due"] and not row["has_abandoned"]),
            (AlertType.ERROR_THRESHOLD, row["errors_due"] and not row["has_errors"]),
        ]
        for alert_type, is_due in due:
            if not is_due:
                continue
            what = (
                f"{row['error_count']} errors"
                if alert_type == AlertType.ERROR_THRESHOLD
                else f"{days} days without activity"
            )
            alerts.append(
                row_values(  # a dict, not an instance: thousands of rows (apps.core.db)
                    StallAlert,
                    now=created,
                    merchant_id=row["merchant_id"],
                    lead_id=row["merchant__lead_id"],
                    step_id=row["step_id"],
                    alert_type=alert_type,
                    severity=severity_for(days=days, policy=policy, alert_type=alert_type),
                    stall_detected_at=now,
                    days_stalled=days,
                    current_status=row["status"],
                    last_activity_at=row["activity"],
                    error_count=row["error_count"],
                    _change_reason=f"stall_sweep: {alert_type} on step {row['step_id']} ({what})",
                )
            )
    if alerts:  # one COPY each for the alerts and their history rows
        rows_insert(StallAlert, alerts)
        history_insert(
            StallAlert, alerts, history_type="+", when=now, default_reason="stall_sweep"
        )
    return alerts


def _alerts_escalate(policies: dict, now) -> int:
    """Raise the severity of open stalled/abandoned alerts whose days reached a higher level.

    A history-writing bulk path: one SELECT finds them, one UPDATE per cohort sets the new
    severity with the same CASE as the SELECT (Django's bulk_update would write a CASE per
    row, quadratic in the rows), one INSERT writes their history rows ("~", with the reason).
    days_stalled keeps the days counted when the alert was raised; the reason and the inbox
    give the days now."""
    target = Case(
        *[
            When(
                Q(merchant__cohort=cohort, last_activity_at__lte=now - timedelta(days=minimum)),
                then=Value(SEVERITY_RANK[severity]),
            )
            for cohort, policy in policies.items()
            for minimum, severity in _severity_steps(policy)
        ],
        default=Value(0),
        output_field=IntegerField(),
    )
    current = Case(
        *[When(severity=severity, then=Value(rank)) for severity, rank in SEVERITY_RANK.items()],
        default=Value(0),
        output_field=IntegerField(),
    )
    alerts = list(
        StallAlert.objects.filter(
            alert_type__in=TIMED_ALERT_TYPES,
            alert_status__in=OPEN_ALERT_STATUSES,
            merchant__isnull=False,
            last_activity_at__isnull=False,
        )
        .annotate(target_rank=target, current_rank=current, cohort=F("merchant__cohort"))
        .filter(target_rank__gt=F("current_rank"))
        .order_by("pk")
    )
    if not alerts:
        return 0
    by_cohort = defaultdict(list)
    for alert in alerts:
        before = alert.severity
        alert.severity = _BY_RANK[alert.target_rank]
        alert.updated_at = now
        alert._change_reason = (
            f"stall_sweep: severity {before} to {alert.severity} "
            f"({_days(now, alert.last_activity_at)} days without activity)"
        )
        by_cohort[alert.cohort].append(alert.pk)
    for cohort, ids in by_cohort.items():
        StallAlert.objects.filter(pk__in=ids).update(
            severity=Case(
                *[
                    When(
                        last_activity_at__lte=now - timedelta(days=minimum),
                        then=Value(severity),
                    )
                    for minimum, severity in _severity_steps(policies[cohort])
                ],
                default=F("severity"),
            ),
            updated_at=now,
        )
    history_insert(
        StallAlert,
        alerts,
        history_type="~",
        when=now,
        default_reason="stall_sweep: severity raised",
    )
    return len(alerts)


def _lost_merchants(policies: dict, now) -> list[dict]:
    current_progress = (
        MerchantStepProgress.objects.filter(
            merchant_id=OuterRef("pk"), step_id=OuterRef("current_step")
        )
        .order_by()
        .annotate(activity=_activity())
    )
    lost_q = reduce(
        or_,
        (
            Q(cohort=cohort, activity__lte=now - timedelta(days=policy.lost_after_days))
            for cohort, policy in policies.items()
        ),
    )
    waiting = IntegrationEvent.objects.filter(
        event_type=MERCHANT_LOST, aggregate_id=OuterRef("pk"), published=False
    )
    return list(
        Merchant.objects.filter(
            journey_status=JourneyStatus.ABANDONED,
            lead__status__in=OPEN_LEAD_STATUSES,
            cohort__in=list(policies),
        )
        .annotate(
            activity=Coalesce(
                Subquery(current_progress.values("activity")[:1]),
                "journey_abandoned_at",
                output_field=DateTimeField(),
            )
        )
        .filter(lost_q)
        .exclude(Exists(waiting))
        .order_by("pk")
        .values("id", "lead_id", "cohort", "current_step", "activity")
    )


def _alert_raised_event(alert: dict) -> dict:
    return event_values(
        event_type=ALERT_RAISED,
        aggregate_type=StallAlert._meta.model_name,
        aggregate_id=alert["id"],
        payload={
            "alert_type": alert["alert_type"],
            "severity": alert["severity"],
            "merchant_id": str(alert["merchant_id"]),
            "lead_id": str(alert["lead_id"]) if alert["lead_id"] else None,
            "step": alert["step_id"],
            "days_stalled": alert["days_stalled"],
            "error_count": alert["error_count"],
        },
    )


def _merchant_lost_event(row: dict, now) -> dict:
    return event_values(
        event_type=MERCHANT_LOST,
        aggregate_type=Merchant._meta.model_name,
        aggregate_id=row["id"],
        payload={
            "lead_id": str(row["lead_id"]),
            "step": row["current_step"],
            "days_inactive": _days(now, row["activity"]),
        },
    )


# --- Resolving alerts whose merchant moved on ---------------------------------------------------


def alerts_resolve_moved_on(*, merchant_id=None) -> int:
    """Resolve the open stalled/abandoned/error alerts whose merchant moved on (module
    docstring), all of them or one merchant's. One query finds them; the resolve service runs
    for each one found. Returns how many were resolved."""
    # .order_by(): the model's default ordering would join merchant and step in each subquery.
    progress = MerchantStepProgress.objects.filter(
        merchant_id=OuterRef("merchant_id"), step_id=OuterRef("step_id")
    ).order_by()
    alerts = StallAlert.objects.filter(
        alert_type__in=SWEPT_ALERT_TYPES,
        alert_status__in=OPEN_ALERT_STATUSES,
        merchant__isnull=False,
        step__isnull=False,
    )
    if merchant_id is not None:
        alerts = alerts.filter(merchant_id=merchant_id)
    alerts = (
        alerts.annotate(
            progress_status=Subquery(progress.values("status")[:1]),
            progress_activity=Subquery(progress.annotate(a=_activity()).values("a")[:1]),
        )
        .filter(
            ~Q(step_id=F("merchant__current_step"))
            | Q(progress_status__in=DONE_STEP_STATUSES)
            | Q(merchant__journey_status=JourneyStatus.COMPLETED)
            | Q(alert_type__in=TIMED_ALERT_TYPES, progress_activity__gt=F("last_activity_at"))
        )
        .order_by("pk")
    )
    # Ids first (narrow rows; usually none, the step-completion handler resolves most), then
    # the whole rows of those only.
    ids = list(alerts.values_list("pk", flat=True))
    if not ids:
        return 0
    resolved = 0
    for alert in alerts.filter(pk__in=ids).select_related("merchant"):
        try:
            alert_resolve(alert=alert, actor=None, action=f"Resolved automatically: {_why(alert)}.")
        except DomainError as exc:  # changed meanwhile (a person resolved it): leave it
            logger.info("stall sweep: alert %s not resolved: %s", alert.pk, exc.message)
        else:
            resolved += 1
    return resolved


def _why(alert: StallAlert) -> str:
    merchant = alert.merchant
    if merchant.journey_status == JourneyStatus.COMPLETED:
        return "the merchant completed the journey"
    if alert.progress_status == StepStatus.COMPLETED:
        return f"step {alert.step_id} was completed"
    if alert.progress_status == StepStatus.SKIPPED:
        return f"step {alert.step_id} was skipped"
    if merchant.current_step != alert.step_id:
        return f"the merchant moved on to step {merchant.current_step}"
    return f"the merchant was active again on step {alert.step_id}"
