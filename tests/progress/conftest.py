import pytest

from apps.routing.models import QueueType
from tests.progress.factories import stall_policies
from tests.routing.factories import RoutingQueueFactory


@pytest.fixture
def intervention_queue(db):
    return RoutingQueueFactory(
        code="ic_intervention",
        queue_name="IC intervention",
        queue_type=QueueType.IC,
        sla_minutes=480,
        auto_assign=False,
    )


@pytest.fixture
def policies(journey_steps, intervention_queue):
    """The seeded stall policies by cohort, with the ten journey steps in place."""
    return stall_policies(intervention_queue)
