"""The stall sweep is set-based: the same number of queries for 10 merchants as for 1,000,
whether it raises alerts, raises their severity, records lost leads or finds nothing new."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from apps.leads.models import Cohort
from apps.progress.models import StallAlert
from apps.progress.sweeps import stall
from tests.progress.factories import bulk_journeys

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
# Every kind of merchant the sweep meets, cycled through the bulk-made merchants.
SHAPES = [
    {"cohort": Cohort.SELF_SERVE, "step": 3, "idle": timedelta(hours=5)},  # active: nothing
    {"cohort": Cohort.SELF_SERVE, "step": 4, "idle": 4 * DAY},  # stalled
    {"cohort": Cohort.ASSISTED, "step": 5, "idle": 3 * DAY, "status": "blocked"},  # stalled
    {"cohort": Cohort.MANAGED, "step": 7, "idle": 15 * DAY},  # stalled and abandoned
    {"cohort": Cohort.SELF_SERVE, "step": 6, "idle": DAY, "errors": 3, "status": "failed"},
    {
        "cohort": Cohort.ASSISTED,
        "step": 8,
        "idle": 31 * DAY,
        "journey_status": "abandoned",
    },  # lead lost
]


def _second_sweep_queries(count: int, *, later: timedelta) -> tuple[int, dict]:
    """Queries of a sweep `later` than a first one over `count` merchants (the first one's
    alerts in place). Everything is rolled back afterwards."""
    with transaction.atomic():
        with time_machine.travel(NOW, tick=False):
            bulk_journeys(count, now=NOW, shapes=SHAPES)
            stall.stall_sweep()
        with (
            time_machine.travel(NOW + later, tick=False),
            CaptureQueriesContext(connection) as queries,
        ):
            result = stall.stall_sweep()
        transaction.set_rollback(True)
    return len(queries), result.as_dict()


def _first_sweep_queries(count: int) -> tuple[int, dict]:
    """Queries of the first sweep over `count` merchants, rolled back afterwards."""
    with transaction.atomic():
        with time_machine.travel(NOW, tick=False):
            bulk_journeys(count, now=NOW, shapes=SHAPES)
            with CaptureQueriesContext(connection) as queries:
                result = stall.stall_sweep()
            raised = result.stalled + result.abandoned + result.error_threshold
            assert StallAlert.objects.count() == raised
        transaction.set_rollback(True)
    return len(queries), result.as_dict()


def test_raising_alerts_costs_the_same_queries_for_10_or_1000_merchants(policies):
    few, few_result = _first_sweep_queries(10)
    many, many_result = _first_sweep_queries(1000)

    assert few_result["stalled"] < many_result["stalled"]
    assert many_result["abandoned"] > 100 and many_result["lost"] > 100
    assert many_result["error_threshold"] > 100
    assert few == many
    print(f"first sweep: {many} queries")


def test_a_sweep_finding_nothing_new_costs_the_same_for_10_or_1000_merchants(policies):
    few, few_result = _second_sweep_queries(10, later=timedelta(minutes=15))
    many, many_result = _second_sweep_queries(1000, later=timedelta(minutes=15))

    assert few_result["stalled"] == many_result["stalled"] == 0
    assert few == many


def test_raising_severities_costs_the_same_for_10_or_1000_merchants(policies):
    few, few_result = _second_sweep_queries(10, later=4 * DAY)
    many, many_result = _second_sweep_queries(1000, later=4 * DAY)

    assert 0 < few_result["escalated"] < many_result["escalated"]
    assert few == many
