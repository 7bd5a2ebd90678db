"""Time in step (blocked time left out) and journey duration."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from apps.progress import selectors, services
from apps.progress.models import StepStatus
from tests.merchants.factories import MerchantFactory
from tests.progress.factories import MerchantStepProgressFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def test_a_step_records_its_start_and_completion(journey_steps, clock):
    progress = MerchantStepProgressFactory(step=journey_steps[1])

    services.step_start(progress=progress)
    clock.shift(2 * HOUR)
    services.step_complete(progress=progress)

    progress.refresh_from_db()
    assert (progress.started_at, progress.completed_at) == (T0, T0 + 2 * HOUR)
    assert progress.time_spent_seconds == 2 * 3600


def test_time_spent_leaves_out_the_time_blocked(journey_steps, clock):
    progress = MerchantStepProgressFactory(step=journey_steps[1])
    services.step_start(progress=progress)
    clock.shift(2 * HOUR)
    services.step_block(progress=progress, reason="Waiting for the bank letter")
    clock.shift(3 * HOUR)
    services.step_unblock(progress=progress)
    clock.shift(HOUR)
    services.step_block(progress=progress, reason="Waiting again")
    clock.shift(HOUR)
    services.step_unblock(progress=progress)
    clock.shift(HOUR)

    services.step_complete(progress=progress)

    progress.refresh_from_db()
    assert progress.blocked_seconds == 4 * 3600
    assert progress.time_spent_seconds == 4 * 3600  # 8 h in the step, 4 h of them blocked


def test_time_so_far_in_an_open_step(journey_steps, clock):
    progress = MerchantStepProgressFactory(step=journey_steps[1])
    services.step_start(progress=progress)
    clock.shift(2 * HOUR)
    services.step_block(progress=progress, reason="Waiting")
    clock.shift(5 * HOUR)

    assert selectors.step_time_spent(progress) == 2 * 3600  # blocked right now
    services.step_unblock(progress=progress)
    clock.shift(HOUR)
    assert selectors.step_time_spent(progress) == 3 * 3600


def test_a_step_not_started_has_spent_no_time(journey_steps):
    progress = MerchantStepProgressFactory(step=journey_steps[1], status=StepStatus.PENDING)

    assert selectors.step_time_spent(progress) == 0


def test_journey_duration_runs_to_completion_or_to_now(clock):
    done = MerchantFactory(
        journey_started_at=T0 - timedelta(days=9), journey_completed_at=T0 - timedelta(days=2)
    )
    open_ = MerchantFactory(journey_started_at=T0 - timedelta(days=3))

    assert selectors.journey_duration(done) == timedelta(days=7)
    assert selectors.journey_duration(open_) == timedelta(days=3)
