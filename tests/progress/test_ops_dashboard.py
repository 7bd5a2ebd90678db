"""/staff/ops/: the funnel by cohort, drop-off by step, median time in each step, journey
duration, SLAs met per queue, open alerts and failed integrations, each checked against a
hand-built fixture, each exportable as CSV; ops only; constant queries."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_q.models import Schedule

from apps.core.jobs import PERIODIC_JOBS_BY_NAME
from apps.integrations.models import ExternalSystem, SyncStatus
from apps.leads.models import Cohort
from apps.merchants.choices import CheckStatus, JourneyStatus
from apps.progress import ops_figures, selectors, tasks, views
from apps.progress.models import AlertStatus, AlertType, Severity, StepStatus
from tests.accounts.factories import (
    AeUserFactory,
    ComplianceUserFactory,
    IcUserFactory,
    MerchantUserFactory,
    OpsUserFactory,
    UserFactory,
)
from tests.integrations.factories import ExternalSystemSyncFactory
from tests.leads.factories import LeadFactory
from tests.merchants.factories import MerchantFactory
from tests.orders.factories import OrderFactory
from tests.progress.factories import MerchantStepProgressFactory, StallAlertFactory
from tests.routing.factories import QueueAssignmentFactory, RoutingQueueFactory

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("progress:ops_dashboard")
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
SECOND = timedelta(seconds=1)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def merchant(cohort=Cohort.SELF_SERVE, lead_cohort=None, **fields):
    return MerchantFactory(cohort=cohort, lead__cohort=lead_cohort or cohort, **fields)


def export(client, name) -> list[list[str]]:
    response = client.get(DASHBOARD, {"export": name})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    return list(csv.reader(io.StringIO(response.content.decode())))


# --- who gets in ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make_user", "expected"),
    [
        (MerchantUserFactory, 403),
        (AeUserFactory, 403),
        (IcUserFactory, 403),
        (ComplianceUserFactory, 403),
        (UserFactory, 403),
        (OpsUserFactory, 200),
        (lambda: UserFactory(is_superuser=True, is_staff=True), 200),
    ],
    ids=["merchant", "ae", "ic", "compliance", "no-role", "ops", "superuser"],
)
@pytest.mark.parametrize("query", [{}, {"export": "funnel"}])
def test_only_ops_and_superusers_see_the_dashboard(client, make_user, expected, query):
    client.force_login(make_user())
    assert client.get(DASHBOARD, query).status_code == expected


def test_an_anonymous_visitor_is_sent_to_sign_in(client):
    response = client.get(DASHBOARD)
    assert response.status_code == 302
    assert response.url == f"{reverse('accounts:login')}?next={DASHBOARD}"


def test_an_unknown_export_is_a_400_with_the_choices(client, ops_user):
    client.force_login(ops_user)

    response = client.get(DASHBOARD, {"export": "everything"})

    assert response.status_code == 400
    assert response.content.decode() == views.UNKNOWN_EXPORT.format(
        name="everything", choices=", ".join(views.EXPORTS)
    )


# --- funnel --------------------------------------------------------------------------------------


@pytest.fixture
def funnel_fixture(journey_steps):
    approved = {"kyb_status": CheckStatus.APPROVED}
    # Self-serve: 2 leads only, then merchants at each stage.
    LeadFactory.create_batch(2, cohort=Cohort.SELF_SERVE)
    merchant()  # account, KYB pending
    merchant(**approved)  # KYB approved, nothing paid
    OrderFactory(merchant=merchant(**approved), status="paid")
    OrderFactory(merchant=merchant(**approved), status="draft")  # not paid
    active = merchant(**approved, is_active=True, journey_status=JourneyStatus.COMPLETED)
    OrderFactory(merchant=active, status="activated")
    OrderFactory(merchant=active, status="paid")  # two paid orders count once
    LeadFactory(cohort=Cohort.SELF_SERVE, deleted_at=NOW)  # deleted: left out
    # Assisted: 1 lead only, a merchant whose only order was refunded.
    LeadFactory(cohort=Cohort.ASSISTED)
    OrderFactory(merchant=merchant(Cohort.ASSISTED, **approved), status="refunded")
    # Managed: a merchant whose lead was profiled assisted counts as managed.
    merchant(Cohort.MANAGED, lead_cohort=Cohort.ASSISTED)
    # Not profiled yet.
    LeadFactory(cohort=None)


FUNNEL = {
    # cohort: leads, accounts, kyb approved, paid, active
    "self_serve": (7, 5, 4, 2, 1),
    "assisted": (2, 1, 1, 0, 0),
    "managed": (1, 1, 0, 0, 0),
    "not_profiled": (1, 0, 0, 0, 0),
    "all": (11, 7, 5, 2, 1),
}


def test_the_funnel_counts_each_stage_per_cohort(funnel_fixture):
    rows = {
        row["cohort"]: tuple(row[stage] for stage, _ in selectors.FUNNEL_STAGES)
        for row in selectors.funnel_by_cohort()
    }

    assert rows == FUNNEL


def test_the_funnel_table_and_its_csv(client, ops_user, funnel_fixture):
    client.force_login(ops_user)

    page = client.get(DASHBOARD).text
    rows = export(client, "funnel")

    assert "<td>7</td><td>5</td><td>4</td><td>2</td><td>1</td>" in page
    assert "<td>14.3 %</td>" in page
    assert rows[0] == [
        "cohort",
        "leads",
        "accounts",
        "kyb_approved",
        "paid",
        "active",
        "lead_to_active_pct",
    ]
    assert rows[1:] == [
        ["self_serve", "7", "5", "4", "2", "1", "14.3"],
        ["assisted", "2", "1", "1", "0", "0", "0.0"],
        ["managed", "1", "1", "0", "0", "0", "0.0"],
        ["not_profiled", "1", "0", "0", "0", "0", "0.0"],
        ["all", "11", "7", "5", "2", "1", "9.1"],
    ]


def test_without_leads_the_funnel_is_zeros(journey_steps):
    rows = selectors.funnel_by_cohort()

    assert [row["cohort"] for row in rows] == ["self_serve", "assisted", "managed", "all"]
    assert all(row["leads"] == 0 and row["conversion"] is None for row in rows)


# --- drop-off ------------------------------------------------------------------------------------


def test_dropoff_counts_stalled_and_abandoned_merchants_at_their_step(
    client, ops_user, journey_steps
):
    stalled = merchant(current_step=3)
    StallAlertFactory(merchant=stalled)  # open stalled alert on step 3
    merchant(current_step=3)  # in progress, fine
    resolved = merchant(current_step=3)
    StallAlertFactory(merchant=resolved, alert_status=AlertStatus.RESOLVED)
    old = merchant(current_step=3)
    StallAlertFactory(merchant=old, step=journey_steps[2])  # alert on a step left behind
    merchant(current_step=3, journey_status=JourneyStatus.ABANDONED)
    merchant(current_step=7, journey_status=JourneyStatus.ABANDONED)
    merchant(current_step=10, journey_status=JourneyStatus.COMPLETED)
    client.force_login(ops_user)

    rows = export(client, "dropoff")

    assert rows[0] == ["step", "step_name", "in_progress", "stalled", "abandoned"]
    figures = {int(row[0]): tuple(map(int, row[2:])) for row in rows[1:]}
    assert figures[3] == (4, 1, 1)
    assert figures[7] == (0, 0, 1)
    assert figures[10] == (0, 0, 0)
    assert len(figures) == 10


# --- median time in each step and journey duration -----------------------------------------------


@pytest.fixture
def step_times_fixture(journey_steps):
    for seconds in (3600, 7200, 10800):
        MerchantStepProgressFactory(
            step=journey_steps[3], status=StepStatus.COMPLETED, time_spent_seconds=seconds
        )
    for seconds in (600, 1200):
        MerchantStepProgressFactory(
            step=journey_steps[4], status=StepStatus.COMPLETED, time_spent_seconds=seconds
        )
    # Not completed: not counted.
    MerchantStepProgressFactory(
        step=journey_steps[4], status=StepStatus.IN_PROGRESS, time_spent_seconds=99999
    )
    MerchantStepProgressFactory(
        step=journey_steps[8], status=StepStatus.SKIPPED, time_spent_seconds=50
    )


@pytest.mark.parametrize("in_database", [True, False], ids=["percentile_cont", "python"])
def test_median_time_per_step(step_times_fixture, in_database):
    rows = {row["step"]: row for row in selectors.step_median_times(in_database=in_database)}

    assert (rows[3]["completed"], rows[3]["median_seconds"]) == (3, 7200)
    assert (rows[4]["completed"], rows[4]["median_seconds"]) == (2, 900)
    assert (rows[8]["completed"], rows[8]["median_seconds"]) == (0, None)
    assert list(rows) == list(range(1, 11))


def test_median_time_per_step_on_the_page_and_in_csv(client, ops_user, step_times_fixture):
    client.force_login(ops_user)

    page = client.get(DASHBOARD).text
    rows = export(client, "step_times")

    assert "<td>3</td><td>2 h</td>" in page
    assert "<td>2</td><td>15 min</td>" in page
    assert rows[3] == ["3", "Qualify for LS Payments (KYB)", "3", "7200"]
    assert rows[4] == ["4", "Define Software Requirements", "2", "900"]
    assert rows[5] == ["5", "Define Hardware Requirements", "0", ""]


@pytest.fixture
def journeys_fixture(frozen, journey_steps):
    for days in (2, 4, 10):
        merchant(
            journey_status=JourneyStatus.COMPLETED,
            journey_started_at=NOW - 20 * DAY,
            journey_completed_at=NOW - 20 * DAY + days * DAY,
        )
    merchant(journey_started_at=NOW - DAY)
    merchant(journey_started_at=NOW - 3 * DAY, journey_status=JourneyStatus.ABANDONED)
    merchant(Cohort.MANAGED, journey_started_at=NOW - 5 * HOUR)


@pytest.mark.parametrize("in_database", [True, False], ids=["percentile_cont", "python"])
def test_median_journey_duration_per_cohort(journeys_fixture, in_database):
    rows = {
        row["cohort"]: row for row in selectors.journey_median_durations(in_database=in_database)
    }

    assert (rows["self_serve"]["completed"], rows["self_serve"]["completed_median"]) == (
        3,
        4 * DAY,
    )
    assert (rows["self_serve"]["open"], rows["self_serve"]["open_median"]) == (2, 2 * DAY)
    assert (rows["managed"]["open"], rows["managed"]["open_median"]) == (1, 5 * HOUR)
    assert rows["assisted"] == {
        "cohort": "assisted",
        "cohort_label": "Assisted",
        "completed": 0,
        "completed_median": None,
        "open": 0,
        "open_median": None,
    }


def test_journey_durations_in_csv(client, ops_user, journeys_fixture):
    client.force_login(ops_user)

    rows = export(client, "journeys")

    assert rows[1] == ["self_serve", "3", str(4 * 86400), "2", str(2 * 86400)]
    assert rows[3] == ["managed", "0", "", "1", str(5 * 3600)]


# --- SLAs, alerts, integrations ------------------------------------------------------------------


@pytest.fixture
def sla_fixture(frozen):
    queue = RoutingQueueFactory(code="ae_high_priority", queue_name="AE high priority")
    RoutingQueueFactory(code="ae_standard", queue_name="AE standard")
    due = NOW - HOUR
    for _ in range(3):
        QueueAssignmentFactory(queue=queue, sla_due_at=due, first_contact_at=due - HOUR)
    QueueAssignmentFactory(queue=queue, sla_due_at=due, first_contact_at=due)  # just in time
    QueueAssignmentFactory(queue=queue, sla_due_at=due, sla_breached=True)
    QueueAssignmentFactory(queue=queue, sla_due_at=due, first_contact_at=due + 10 * 60 * SECOND)
    QueueAssignmentFactory(queue=queue, sla_due_at=due)  # past due, never contacted
    QueueAssignmentFactory(queue=queue, sla_due_at=NOW + HOUR)  # still within the SLA
    QueueAssignmentFactory(queue=queue, sla_due_at=None)  # no SLA: not counted


SLA_CSV = [
    ["queue", "queue_name", "sla_minutes", "ended", "met", "missed", "met_pct"],
    ["ae_high_priority", "AE high priority", "60", "7", "4", "3", "57"],
    ["ae_standard", "AE standard", "60", "0", "0", "0", ""],
]


def test_sla_met_per_queue(client, ops_user, sla_fixture):
    client.force_login(ops_user)

    assert export(client, "sla") == SLA_CSV
    assert "<td>7</td><td>4</td><td>3</td><td>57 %</td>" in client.get(DASHBOARD).text


def test_sla_figures_are_the_same_without_routings_selector(sla_fixture):
    assert selectors.queue_sla_stats(use_routing=False) == selectors.queue_sla_stats()


def test_open_alerts_by_severity(client, ops_user, journey_steps):
    StallAlertFactory(severity=Severity.CRITICAL)
    StallAlertFactory(severity=Severity.CRITICAL, alert_type=AlertType.SLA_BREACH, step=None)
    StallAlertFactory(
        severity=Severity.LOW, alert_status=AlertStatus.ASSIGNED, assigned_to=IcUserFactory()
    )
    StallAlertFactory(severity=Severity.HIGH, alert_status=AlertStatus.RESOLVED)
    client.force_login(ops_user)

    rows = export(client, "alerts")

    assert rows == [
        [
            "severity",
            "total",
            "stalled",
            "abandoned",
            "error_threshold",
            "sla_breach",
            "delivery_failed",
        ],
        ["critical", "2", "1", "0", "0", "1", "0"],
        ["high", "0", "0", "0", "0", "0", "0"],
        ["medium", "0", "0", "0", "0", "0", "0"],
        ["low", "1", "1", "0", "0", "0", "0"],
    ]


def test_failed_integrations_by_system_link_to_the_console(client, ops_user, journey_steps):
    ExternalSystemSyncFactory.create_batch(2, sync_status=SyncStatus.FAILED)
    ExternalSystemSyncFactory(sync_status=SyncStatus.CONFLICT)
    ExternalSystemSyncFactory(sync_status=SyncStatus.FAILED, external_system=ExternalSystem.BILLING)
    ExternalSystemSyncFactory(sync_status=SyncStatus.SYNCED)
    client.force_login(ops_user)

    page = client.get(DASHBOARD).text
    rows = export(client, "integrations")

    assert rows[1] == ["crm", "2", "1"]
    assert ["billing", "1", "0"] in rows
    assert ["payments", "0", "0"] in rows
    assert f'href="{reverse("integrations:ops_console")}"' in page


# --- the page ------------------------------------------------------------------------------------


def test_charts_are_inline_svg_without_scripts(client, ops_user, funnel_fixture):
    client.force_login(ops_user)

    page = client.get(DASHBOARD).text

    assert page.count('<svg role="img"') == 4
    assert 'aria-label="Funnel by cohort' in page
    assert "pygal.config" not in page
    assert "kozea.github.io" not in page


def test_the_dashboard_costs_the_same_queries_for_few_or_many_rows(client, ops_user, journey_steps):
    queue = RoutingQueueFactory()

    def make(count):
        for n in range(count):
            m = merchant(
                [Cohort.SELF_SERVE, Cohort.ASSISTED, Cohort.MANAGED][n % 3],
                current_step=1 + n % 10,
                kyb_status=CheckStatus.APPROVED,
            )
            OrderFactory(merchant=m, status="paid")
            MerchantStepProgressFactory(
                merchant=m,
                step=journey_steps[1 + n % 10],
                status=StepStatus.COMPLETED,
                time_spent_seconds=60 * n,
            )
            StallAlertFactory(merchant=m, severity=Severity.HIGH)
            QueueAssignmentFactory(queue=queue, sla_due_at=NOW)
            ExternalSystemSyncFactory(sync_status=SyncStatus.FAILED)

    client.force_login(ops_user)
    make(2)
    tasks.ops_figures_refresh()
    with CaptureQueriesContext(connection) as few:
        assert client.get(DASHBOARD).status_code == 200
    make(25)
    tasks.ops_figures_refresh()
    with CaptureQueriesContext(connection) as many:
        assert client.get(DASHBOARD).status_code == 200

    assert len(few) == len(many)
    # The session, the user, the user's roles and the kept figures: no aggregate per view.
    assert len(many) <= 4


# --- figures kept by the ops-figures job ---------------------------------------------------------


def test_the_page_shows_the_kept_figures_as_of_their_time_until_the_job_runs(
    client, ops_user, funnel_fixture
):
    client.force_login(ops_user)
    with time_machine.travel(NOW, tick=False):
        first = client.get(DASHBOARD).text  # never computed yet: computed once, now
    LeadFactory.create_batch(3, cohort=Cohort.SELF_SERVE)

    with time_machine.travel(NOW + 2 * 60 * SECOND, tick=False):
        before_job = client.get(DASHBOARD).text
        csv_before = export(client, "funnel")
        tasks.ops_figures_refresh()
        after_job = client.get(DASHBOARD).text

    assert "<td>7</td><td>5</td><td>4</td><td>2</td><td>1</td>" in first
    assert 'Figures as of <time datetime="2026-03-02T12:00:00+00:00">' in before_job
    assert "<td>7</td><td>5</td><td>4</td><td>2</td><td>1</td>" in before_job
    assert csv_before[1] == ["self_serve", "7", "5", "4", "2", "1", "14.3"]
    assert 'Figures as of <time datetime="2026-03-02T12:02:00+00:00">' in after_job
    assert "<td>10</td><td>5</td><td>4</td><td>2</td><td>1</td>" in after_job


def test_the_kept_figures_are_the_straightforward_computation(
    funnel_fixture, journeys_fixture, sla_fixture
):
    kept = ops_figures.ops_figures_refresh()
    snapshot = ops_figures.ops_figures_get()

    # Every table as the selectors compute it, journey durations back as timedeltas.
    assert snapshot.figures == {name: compute() for name, compute in ops_figures.FIGURES.items()}
    assert snapshot.computed_at == kept.computed_at == NOW
    assert set(snapshot.charts) == {"funnel", "dropoff", "step_times", "alerts"}
    assert not snapshot.stale


def test_figures_the_job_stopped_refreshing_are_flagged(client, ops_user, funnel_fixture):
    client.force_login(ops_user)
    with time_machine.travel(NOW, tick=False):
        fresh = client.get(DASHBOARD).text
    with time_machine.travel(NOW + ops_figures.STALE_AFTER + SECOND, tick=False):
        stale = client.get(DASHBOARD).text

    assert "has not run since" not in fresh
    assert "the scheduled job “ops-figures” has not run since" in stale


def test_the_ops_figures_job_is_a_periodic_job_every_five_minutes():
    job = PERIODIC_JOBS_BY_NAME["ops-figures"]

    assert job.func == "apps.progress.tasks.ops_figures_refresh"
    assert (job.schedule_type, job.minutes) == (Schedule.MINUTES, ops_figures.REFRESH_MINUTES)
