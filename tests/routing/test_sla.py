"""The SLA clock (DESIGN.md rule 7): it runs from queueing to the queue's sla_minutes, first
contact stops it, 75% elapsed is "due soon", the sweep marks a breach once with one alert,
and each queue shows the share of SLAs met."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_q.models import Schedule

from apps.integrations.models import IntegrationEvent
from apps.progress.models import AlertStatus, AlertType, Severity, StallAlert
from apps.progress.services import alert_raise_sla_breach
from apps.routing import selectors, tasks
from apps.routing.models import AssignmentStatus, QueueAssignment
from apps.routing.services import assignments, claims, routing
from tests.accounts.factories import AeUserFactory
from tests.leads.factories import LeadFactory
from tests.merchants.factories import MerchantFactory
from tests.routing.factories import QueueAssignmentFactory, RoutingQueueFactory

pytestmark = pytest.mark.django_db

S = AssignmentStatus
QUEUED_AT = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
DUE_AT = datetime(2026, 3, 2, 10, 0, 0, tzinfo=UTC)  # a 60-minute SLA
SECOND = timedelta(seconds=1)


@pytest.fixture
def queue(db):
    return RoutingQueueFactory(sla_minutes=60, auto_assign=False)


@pytest.fixture
def item(queue):
    """Queued at 09:00:00, first contact due at 10:00:00."""
    with time_machine.travel(QUEUED_AT, tick=False):
        return routing.assignment_enqueue(queue=queue, lead=LeadFactory())


def sweep_at(moment) -> int:
    with time_machine.travel(moment, tick=False):
        return tasks.sla_sweep()


def test_the_clock_runs_for_the_queues_sla_from_queueing(item):
    assert item.queued_at == QUEUED_AT
    assert item.sla_due_at == DUE_AT


# --- the boundary ---------------------------------------------------------------------------


def test_an_item_is_not_breached_at_exactly_its_deadline(item):
    assert sweep_at(DUE_AT) == 0

    item.refresh_from_db()
    assert item.sla_breached is False
    assert not StallAlert.objects.exists()


def test_an_item_is_breached_one_second_after_its_deadline(item):
    assert sweep_at(DUE_AT + SECOND) == 1

    item.refresh_from_db()
    assert item.sla_breached is True
    assert item.sla_breached_at == DUE_AT + SECOND
    assert item.status == S.QUEUED  # a breach is a flag, not a state
    latest = item.history.first()
    assert latest.sla_breached is True
    assert "not contacted within 60 minutes" in latest.history_change_reason


def test_contact_at_exactly_the_deadline_meets_the_sla(item, ae_user):
    claims.assignment_assign(assignment=item, agent=ae_user, actor=ae_user)

    with time_machine.travel(DUE_AT, tick=False):
        assignments.assignment_record_contact(assignment=item, actor=ae_user)

    item.refresh_from_db()
    assert item.first_contact_at == DUE_AT
    assert item.sla_breached is False
    assert selectors.sla_clock(item, DUE_AT + timedelta(hours=1)).state == "met"
    assert sweep_at(DUE_AT + timedelta(hours=1)) == 0


def test_contact_one_second_late_marks_the_breach_without_an_alert(item, ae_user):
    claims.assignment_assign(assignment=item, agent=ae_user, actor=ae_user)

    with time_machine.travel(DUE_AT + SECOND, tick=False):
        assignments.assignment_record_contact(assignment=item, actor=ae_user)

    item.refresh_from_db()
    assert item.sla_breached is True
    assert item.sla_breached_at == DUE_AT + SECOND
    assert selectors.sla_clock(item).state == "missed"
    assert not StallAlert.objects.exists()


# --- the sweep ------------------------------------------------------------------------------


def test_the_sweep_raises_one_sla_breach_alert_however_often_it_runs(item):
    assert sweep_at(DUE_AT + SECOND) == 1
    assert sweep_at(DUE_AT + timedelta(minutes=5)) == 0
    assert sweep_at(DUE_AT + timedelta(minutes=10)) == 0

    alert = StallAlert.objects.get()
    assert alert.alert_type == AlertType.SLA_BREACH
    assert alert.queue_assignment == item
    assert alert.lead == item.lead
    assert alert.severity == Severity.HIGH
    assert alert.alert_status == AlertStatus.OPEN
    assert "alert_raise_sla_breach" in alert.history.first().history_change_reason
    raised = IntegrationEvent.objects.filter(event_type="alert.raised", aggregate_id=alert.pk)
    assert raised.count() == 1
    assert (
        IntegrationEvent.objects.filter(
            event_type="assignment.sla_breached", aggregate_id=item.pk
        ).count()
        == 1
    )
    item.refresh_from_db()
    assert item.sla_breached_at == DUE_AT + SECOND
    assert item.history.filter(sla_breached=True).count() == 1


def test_raising_the_alert_twice_returns_the_first(item):
    first = alert_raise_sla_breach(assignment=item)
    second = alert_raise_sla_breach(assignment=item)

    assert first == second
    assert StallAlert.objects.count() == 1
    assert IntegrationEvent.objects.filter(event_type="alert.raised").count() == 1


def test_a_merchant_item_breach_alert_is_about_the_merchant(queue):
    merchant = MerchantFactory()
    with time_machine.travel(QUEUED_AT, tick=False):
        routing.assignment_enqueue(queue=queue, lead=merchant.lead, merchant=merchant)

    sweep_at(DUE_AT + SECOND)

    assert StallAlert.objects.get().merchant == merchant


@pytest.mark.parametrize(
    "status", [S.CONTACTED, S.IN_PROGRESS, S.RESOLVED, S.ESCALATED], ids=lambda s: s
)
def test_the_sweep_leaves_contacted_and_closed_items_alone(queue, status):
    QueueAssignmentFactory(
        queue=queue,
        status=status,
        assigned_to=AeUserFactory(),
        queued_at=QUEUED_AT,
        sla_due_at=DUE_AT,
        first_contact_at=QUEUED_AT + timedelta(minutes=5) if status != S.ESCALATED else None,
    )

    assert sweep_at(DUE_AT + timedelta(hours=3)) == 0
    assert not StallAlert.objects.exists()


def test_an_assigned_but_uncontacted_item_is_breached_too(queue):
    QueueAssignmentFactory(
        queue=queue,
        status=S.ASSIGNED,
        assigned_to=AeUserFactory(),
        queued_at=QUEUED_AT,
        sla_due_at=DUE_AT,
    )

    assert sweep_at(DUE_AT + SECOND) == 1


def test_an_item_without_sla_is_never_breached():
    QueueAssignmentFactory(queue=RoutingQueueFactory(sla_minutes=None), queued_at=QUEUED_AT)

    assert sweep_at(DUE_AT + timedelta(days=30)) == 0


def statements(captured) -> list[str]:
    """The SQL run, without the savepoints of the sweep's transaction."""
    return [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]


def test_the_sweep_finds_that_nothing_is_due_in_one_statement(queue):
    for _ in range(5):
        QueueAssignmentFactory(queue=queue, queued_at=QUEUED_AT, sla_due_at=DUE_AT)

    with CaptureQueriesContext(connection) as nothing_due:
        sweep_at(DUE_AT)

    assert len(statements(nothing_due)) == 1
    assert statements(nothing_due)[0].startswith("UPDATE")


def test_the_sla_sweep_schedule_is_created_once_its_task_exists():
    from apps.demo.reference import schedules_seed

    schedules_seed()
    schedules_seed()

    schedule = Schedule.objects.get(name="sla-sweep")
    assert schedule.func == "apps.routing.tasks.sla_sweep"
    assert schedule.minutes == 5


# --- due soon -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "state"),
    [
        (QUEUED_AT, "running"),
        (QUEUED_AT + timedelta(minutes=45) - SECOND, "running"),
        (QUEUED_AT + timedelta(minutes=45), "due_soon"),
        (DUE_AT, "due_soon"),
        (DUE_AT + SECOND, "overdue"),
    ],
    ids=["queued", "just-before-75%", "at-75%", "at-deadline", "one-second-late"],
)
def test_an_item_is_due_soon_from_75_percent_of_its_sla(item, moment, state):
    clock = selectors.sla_clock(item, moment)

    assert clock.state == state
    assert selectors.is_due_soon(item, moment) is (state == "due_soon")


@pytest.mark.parametrize(
    ("moment", "words", "severity", "severity_text"),
    [
        (QUEUED_AT, "Due in 1 h", "ok", "On track"),
        (QUEUED_AT + timedelta(minutes=1), "Due in 59 min", "ok", "On track"),
        (DUE_AT - timedelta(minutes=10), "Due in 10 min", "warning", "Due soon"),
        (DUE_AT + timedelta(minutes=25, seconds=30), "Breached 25 min ago", "danger", "Breached"),
        (DUE_AT + timedelta(minutes=90), "Breached 1 h 30 min ago", "danger", "Breached"),
    ],
    ids=["queued", "a-minute-in", "due-soon", "25-min-late", "90-min-late"],
)
def test_the_clock_says_in_words_how_long_is_left_or_how_late_it_is(
    item, moment, words, severity, severity_text
):
    clock = selectors.sla_clock(item, moment)

    assert clock.label == words
    assert (clock.severity, clock.severity_text) == (severity, severity_text)


def test_the_clock_reads_hours_and_minutes():
    assert selectors._minutes(timedelta(hours=3, minutes=20)) == "3 h 20 min"
    assert selectors._minutes(timedelta(days=2, hours=5)) == "2 d 5 h"


def test_a_stored_warning_time_wins_over_the_75_percent_rule(item):
    """Business-hours calendars store when an item turns due soon (`sla_warn_at`): the clock
    reads it when the row has one."""
    item.__dict__["sla_warn_at"] = QUEUED_AT + timedelta(minutes=10)

    assert selectors.sla_clock(item, QUEUED_AT + timedelta(minutes=11)).state == "due_soon"
    assert selectors.sla_clock(item, QUEUED_AT + timedelta(minutes=9)).state == "running"


def test_first_contact_stops_the_clock(item, ae_user):
    claims.assignment_assign(assignment=item, agent=ae_user, actor=ae_user)
    with time_machine.travel(QUEUED_AT + timedelta(minutes=50), tick=False):
        assignments.assignment_record_contact(assignment=item, actor=ae_user)

    clock = selectors.sla_clock(item, DUE_AT + timedelta(days=2))

    assert clock.state == "met"
    assert clock.counting is False
    assert clock.label == "Contacted on time · clock stopped"
    assert clock.severity_text == "Met"


# --- % of SLAs met --------------------------------------------------------------------------


def test_the_share_of_slas_met_counts_only_slas_that_ended():
    """Hand-built: of 5 items whose SLA ended, 2 were contacted on time → 40%."""
    queue = RoutingQueueFactory(sla_minutes=60)
    now = DUE_AT + timedelta(hours=2)

    def add(first_contact=None, due=DUE_AT, withdrawn=None, status=S.QUEUED):
        QueueAssignmentFactory(
            queue=queue,
            status=status,
            queued_at=due - timedelta(minutes=60),
            sla_due_at=due,
            first_contact_at=first_contact,
            withdrawn_at=withdrawn,
        )

    add(first_contact=DUE_AT - timedelta(minutes=30), status=S.CONTACTED)  # met
    add(first_contact=DUE_AT, status=S.RESOLVED)  # met, exactly at the deadline
    add(first_contact=DUE_AT + SECOND, status=S.CONTACTED)  # ended, late
    add()  # never contacted, deadline past: missed
    add(withdrawn=DUE_AT + timedelta(minutes=5), status=S.RESOLVED)  # withdrawn too late: missed
    add(due=now + timedelta(minutes=30))  # still running: not counted
    add(due=now)  # at its deadline right now: not ended yet
    add(withdrawn=DUE_AT - timedelta(minutes=5), status=S.RESOLVED)  # withdrawn in time: no SLA
    empty = RoutingQueueFactory()

    stats = selectors.queue_sla_stats([queue, empty], now)

    assert (stats[queue.pk].ended, stats[queue.pk].met) == (5, 2)
    assert stats[queue.pk].percent == 40
    assert stats[queue.pk].label == "40%"
    assert stats[empty.pk].percent is None
    assert stats[empty.pk].label == "—"


def test_the_share_of_slas_met_is_one_query_for_many_queues(django_assert_num_queries):
    queues = [RoutingQueueFactory() for _ in range(4)]
    for queue in queues:
        QueueAssignmentFactory(queue=queue, queued_at=QUEUED_AT, sla_due_at=DUE_AT)

    with django_assert_num_queries(1):
        stats = selectors.queue_sla_stats(queues, DUE_AT + SECOND)

    assert all(stats[queue.pk].percent == 0 for queue in queues)


def test_breached_items_stay_in_the_queue_for_a_person(item):
    sweep_at(DUE_AT + SECOND)

    assert QueueAssignment.objects.get(pk=item.pk).status == S.QUEUED


# --- set-based at any size ------------------------------------------------------------------


def _due_items(queue, n):
    return [
        QueueAssignmentFactory(queue=queue, queued_at=QUEUED_AT, sla_due_at=DUE_AT)
        for _ in range(n)
    ]


def test_the_sweep_runs_the_same_queries_for_5_and_for_50_breaches(queue):
    _due_items(queue, 5)
    with CaptureQueriesContext(connection) as small:
        assert sweep_at(DUE_AT + SECOND) == 5
    _due_items(queue, 50)
    with CaptureQueriesContext(connection) as large:
        assert sweep_at(DUE_AT + SECOND) == 50

    assert len(statements(small)) == len(statements(large)) <= 10


def test_every_breach_gets_its_history_row_event_and_alert_with_who_and_why(queue):
    items = _due_items(queue, 7)
    other = QueueAssignmentFactory(queue=queue, queued_at=QUEUED_AT, sla_due_at=DUE_AT + SECOND)

    assert sweep_at(DUE_AT + SECOND) == 7

    ids = {item.pk for item in items}
    history = QueueAssignment.history.filter(id__in=ids, sla_breached=True)
    assert history.count() == 7
    assert {row.history_type for row in history} == {"~"}
    assert {row.history_user for row in history} == {None}  # the system
    assert {row.history_change_reason for row in history} == {
        "assignment_sla_breach: not contacted within 60 minutes"
    }
    assert {row.history_date for row in history} == {DUE_AT + SECOND}
    breached = IntegrationEvent.objects.filter(event_type="assignment.sla_breached")
    assert {event.aggregate_id for event in breached} == ids
    assert all(e.event_payload["queue"] == queue.code for e in breached)
    alerts = StallAlert.objects.filter(alert_type=AlertType.SLA_BREACH)
    assert {alert.queue_assignment_id for alert in alerts} == ids
    assert StallAlert.history.filter(history_type="+", alert_type="sla_breach").count() == 7
    raised = IntegrationEvent.objects.filter(event_type="alert.raised")
    assert {event.aggregate_id for event in raised} == {alert.pk for alert in alerts}
    other.refresh_from_db()
    assert other.sla_breached is False  # at its deadline exactly: on time


def test_a_sweep_after_a_lost_alert_raises_it_once_more_only(queue):
    """An item marked by hand (or whose alert was raised already) gets no second alert."""
    [item] = _due_items(queue, 1)
    alert_raise_sla_breach(assignment=item)

    assert sweep_at(DUE_AT + SECOND) == 1

    assert StallAlert.objects.filter(queue_assignment=item).count() == 1
