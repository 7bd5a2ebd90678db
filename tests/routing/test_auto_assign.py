"""Auto-assign (DESIGN.md rule 6): the eligible agent with the fewest open items gets the item,
ties to the longest idle; agents at their limit, inactive or of another role are skipped;
with nobody eligible the item waits for a claim."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.routing.models import AssignmentStatus, QueueAssignment
from apps.routing.services import assignments, auto_assign, routing
from tests.accounts.factories import (
    AeUserFactory,
    ComplianceUserFactory,
    IcUserFactory,
    OpsUserFactory,
)
from tests.leads.factories import LeadFactory
from tests.routing.factories import QueueAssignmentFactory

pytestmark = pytest.mark.django_db

S = AssignmentStatus


def hold(agent, count, *, queue, hours_ago=1, status=S.ASSIGNED):
    """`count` items `agent` holds, assigned `hours_ago`."""
    for _ in range(count):
        QueueAssignmentFactory(
            queue=queue,
            status=status,
            assigned_to=agent,
            assigned_at=timezone.now() - timedelta(hours=hours_ago),
        )


@pytest.fixture
def enqueue(django_capture_on_commit_callbacks):
    """enqueue(queue) → the new item, after auto-assign ran on commit (as the worker does)."""

    def run(queue):
        with django_capture_on_commit_callbacks(execute=True):
            item = routing.assignment_enqueue(queue=queue, lead=LeadFactory())
        item.refresh_from_db()
        return item

    return run


def test_a_new_item_goes_to_the_agent_with_the_fewest_open_items(queues, enqueue):
    queue = queues["ae_standard"]
    busy, lighter = AeUserFactory(), AeUserFactory()
    hold(busy, 3, queue=queue)
    hold(lighter, 1, queue=queue)

    item = enqueue(queue)

    assert item.status == S.ASSIGNED
    assert item.assigned_to == lighter
    assert item.auto_assigned is True
    assert item.history.first().history_user is None
    assert "auto" in item.history.first().history_change_reason


def test_open_items_count_in_every_queue_and_every_held_state(queues, enqueue):
    queue = queues["ae_standard"]
    spread, other = AeUserFactory(), AeUserFactory()
    hold(spread, 1, queue=queues["ae_high_priority"], status=S.CONTACTED)
    hold(spread, 1, queue=queue, status=S.IN_PROGRESS)
    hold(other, 1, queue=queue)
    # Finished items are not open.
    hold(other, 5, queue=queue, status=S.RESOLVED)

    assert enqueue(queue).assigned_to == other


def test_a_tie_goes_to_the_agent_idle_the_longest(queues, enqueue):
    queue = queues["ae_standard"]
    recent, idle = AeUserFactory(), AeUserFactory()
    hold(recent, 1, queue=queue, hours_ago=1)
    hold(idle, 1, queue=queue, hours_ago=5)

    assert enqueue(queue).assigned_to == idle


def test_an_agent_never_assigned_counts_as_idle_the_longest(queues, enqueue):
    queue = queues["ae_standard"]
    veteran, newcomer = AeUserFactory(), AeUserFactory()
    hold(veteran, 1, queue=queue, hours_ago=500, status=S.RESOLVED)

    assert enqueue(queue).assigned_to == newcomer


def test_an_agent_at_their_limit_is_skipped(queues, enqueue):
    queue = queues["ae_standard"]
    full = AeUserFactory(max_open_assignments=1)
    hold(full, 1, queue=queue)
    busier = AeUserFactory()
    hold(busier, 3, queue=queue)

    assert enqueue(queue).assigned_to == busier


def test_an_inactive_agent_is_skipped(queues, enqueue):
    queue = queues["ae_standard"]
    AeUserFactory(is_active=False)
    active = AeUserFactory()
    hold(active, 2, queue=queue)

    assert enqueue(queue).assigned_to == active


@pytest.mark.parametrize(
    "make_other",
    [IcUserFactory, ComplianceUserFactory, OpsUserFactory],
    ids=["ic", "compliance", "ops"],
)
def test_people_of_another_role_are_skipped(queues, enqueue, make_other):
    queue = queues["ae_standard"]
    make_other()
    ae = AeUserFactory()
    hold(ae, 4, queue=queue)

    assert enqueue(queue).assigned_to == ae


def test_an_ic_queue_item_goes_to_an_implementation_consultant(queues, enqueue):
    AeUserFactory()
    ic = IcUserFactory()

    assert enqueue(queues["ic_intervention"]).assigned_to == ic


def test_with_nobody_eligible_the_item_waits_for_a_claim(queues, enqueue):
    queue = queues["ae_standard"]
    full = AeUserFactory(max_open_assignments=2)
    hold(full, 2, queue=queue)
    AeUserFactory(is_active=False)

    item = enqueue(queue)

    assert item.status == S.QUEUED
    assert item.assigned_to is None


def test_a_queue_without_auto_assign_leaves_items_waiting(queues, enqueue):
    ComplianceUserFactory()

    item = enqueue(queues["compliance_review"])

    assert item.status == S.QUEUED


def test_the_agent_is_chosen_in_one_query_however_many_agents(queues, django_assert_num_queries):
    queue = queues["ae_standard"]
    for index in range(30):
        hold(AeUserFactory(), index % 3, queue=queue, hours_ago=index + 1)

    with django_assert_num_queries(1):
        agent = auto_assign.eligible_agent(queue)

    assert agent is not None


def test_an_item_already_taken_is_left_alone(queues, ae_user):
    item = QueueAssignmentFactory(
        queue=queues["ae_standard"], status=S.ASSIGNED, assigned_to=ae_user
    )
    AeUserFactory()

    result = auto_assign.assignment_auto_assign(assignment=item)

    assert result.assigned_to == ae_user


def test_a_released_item_goes_to_another_agent(queues, django_capture_on_commit_callbacks):
    queue = queues["ae_standard"]
    releaser, colleague = AeUserFactory(), AeUserFactory()
    hold(colleague, 2, queue=queue)
    item = QueueAssignmentFactory(queue=queue, status=S.ASSIGNED, assigned_to=releaser)

    with django_capture_on_commit_callbacks(execute=True):
        assignments.assignment_release(assignment=item, actor=releaser, reason="Wrong territory")

    item.refresh_from_db()
    assert item.status == S.ASSIGNED
    assert item.assigned_to == colleague


def test_a_resolved_item_frees_a_slot_for_the_top_waiting_item(
    queues, django_capture_on_commit_callbacks
):
    queue = queues["ae_standard"]
    agent = AeUserFactory(max_open_assignments=1)
    held = QueueAssignmentFactory(queue=queue, status=S.CONTACTED, assigned_to=agent)
    low = QueueAssignmentFactory(queue=queue, priority=5)
    top = QueueAssignmentFactory(queue=queue, priority=50)
    urgent = QueueAssignmentFactory(queue=queues["ae_high_priority"], priority=1)

    with django_capture_on_commit_callbacks(execute=True):
        assignments.assignment_resolve(assignment=held, actor=agent)

    # The high-priority queue (overflow rank 0) is served first, whatever the numbers.
    assert QueueAssignment.objects.get(pk=urgent.pk).assigned_to == agent
    assert QueueAssignment.objects.get(pk=top.pk).status == S.QUEUED
    assert QueueAssignment.objects.get(pk=low.pk).status == S.QUEUED
