"""An item whose auto-assign task was lost does not wait for ever while an agent has room:
the auto-assign sweep offers it again, once, and leaves alone items merely queued."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.routing import recovery, tasks
from apps.routing.models import AssignmentStatus, QueueAssignment
from apps.routing.services import auto_assign
from tests.accounts.factories import AeUserFactory
from tests.routing.factories import QueueAssignmentFactory

pytestmark = pytest.mark.django_db

S = AssignmentStatus


def waiting(queue, minutes: int) -> QueueAssignment:
    """An item queued `minutes` ago whose auto-assign task never ran."""
    return QueueAssignmentFactory(
        queue=queue, status=S.QUEUED, queued_at=timezone.now() - timedelta(minutes=minutes)
    )


def test_an_item_whose_auto_assign_was_lost_is_assigned_by_the_sweep_once(queues):
    agent = AeUserFactory()
    item = waiting(queues["ae_standard"], 10)

    assert recovery.auto_assign_stuck().count == 1
    assert tasks.auto_assign_sweep() == 1
    assert tasks.auto_assign_sweep() == 0

    item.refresh_from_db()
    assert (item.status, item.assigned_to, item.auto_assigned) == (S.ASSIGNED, agent, True)
    assert item.history.filter(status=S.ASSIGNED).count() == 1
    assert recovery.auto_assign_stuck().count == 0


def test_an_item_merely_queued_is_left_to_its_task(queues):
    AeUserFactory()
    item = waiting(queues["ae_standard"], 1)

    assert tasks.auto_assign_sweep() == 0

    item.refresh_from_db()
    assert item.status == S.QUEUED


def test_the_sweep_fills_only_the_free_slots_and_stops(queues):
    agent = AeUserFactory(max_open_assignments=2)
    items = [waiting(queues["ae_standard"], 30 - n) for n in range(5)]

    assert auto_assign.assignments_auto_assign_sweep() == 2

    assigned = QueueAssignment.objects.filter(status=S.ASSIGNED, assigned_to=agent)
    assert set(assigned.values_list("pk", flat=True)) == {items[0].pk, items[1].pk}
    assert recovery.auto_assign_stuck().count == 3  # waiting for an agent with room
    assert auto_assign.assignments_auto_assign_sweep() == 0


def test_a_queue_without_auto_assign_is_not_swept(queues):
    AeUserFactory()
    queue = queues["ae_standard"]
    queue.auto_assign = False
    queue.save()
    item = waiting(queue, 30)

    assert recovery.auto_assign_stuck().count == 0
    assert tasks.auto_assign_sweep() == 0
    item.refresh_from_db()
    assert item.status == S.QUEUED
