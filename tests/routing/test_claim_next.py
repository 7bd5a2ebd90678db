"""Claim-next (DESIGN.md rule 6): the top waiting item goes to the agent who asks, never to
two agents at once; an empty queue, a full agent or the wrong role change nothing."""

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apps.core.errors import ActionForbidden, DomainError
from apps.leads.models import Lead
from apps.routing.models import AssignmentStatus, QueueAssignment
from apps.routing.services import assignments, checks, claims
from tests.accounts.factories import AeUserFactory, IcUserFactory, OpsUserFactory
from tests.routing.factories import QueueAssignmentFactory, RoutingQueueFactory

S = AssignmentStatus


@pytest.mark.django_db
def test_claim_next_takes_the_highest_priority_then_the_oldest(ae_user):
    queue = RoutingQueueFactory(auto_assign=False)
    now = timezone.now()
    QueueAssignmentFactory(queue=queue, priority=10, queued_at=now - timedelta(hours=5))
    newer_top = QueueAssignmentFactory(queue=queue, priority=90, queued_at=now)
    older_top = QueueAssignmentFactory(
        queue=queue, priority=90, queued_at=now - timedelta(minutes=1)
    )

    first = claims.assignment_claim_next(queue=queue, actor=ae_user)
    second = claims.assignment_claim_next(queue=queue, actor=ae_user)

    assert (first, second) == (older_top, newer_top)
    first.refresh_from_db()
    assert first.status == S.ASSIGNED
    assert first.assigned_to == ae_user
    assert first.auto_assigned is False
    assert first.history.first().history_user == ae_user


@pytest.mark.django_db
def test_claiming_a_lead_makes_the_agent_its_account_executive(ae_user):
    item = QueueAssignmentFactory(queue=RoutingQueueFactory(auto_assign=False))

    claims.assignment_claim_next(queue=item.queue, actor=ae_user)

    assert Lead.objects.get(pk=item.lead_id).assigned_ae == ae_user


@pytest.mark.django_db
def test_claim_next_on_an_empty_queue_gives_nothing(ae_user):
    queue = RoutingQueueFactory()
    QueueAssignmentFactory(queue=queue, status=S.ASSIGNED, assigned_to=AeUserFactory())

    assert claims.assignment_claim_next(queue=queue, actor=ae_user) is None


@pytest.mark.django_db
def test_an_agent_at_their_limit_cannot_claim():
    agent = AeUserFactory(max_open_assignments=2)
    queue = RoutingQueueFactory()
    for _ in range(2):
        QueueAssignmentFactory(queue=queue, status=S.ASSIGNED, assigned_to=agent)
    waiting = QueueAssignmentFactory(queue=queue)

    with pytest.raises(DomainError, match=checks.AT_CAPACITY):
        claims.assignment_claim_next(queue=queue, actor=agent)

    waiting.refresh_from_db()
    assert waiting.status == S.QUEUED
    assert waiting.assigned_to is None


@pytest.mark.django_db
def test_an_ic_cannot_claim_from_an_ae_queue():
    queue = RoutingQueueFactory(queue_name="AE standard")
    waiting = QueueAssignmentFactory(queue=queue)

    with pytest.raises(ActionForbidden) as refusal:
        claims.assignment_claim_next(queue=queue, actor=IcUserFactory())

    assert refusal.value.message == checks.WRONG_ROLE.format(
        people="account executives", queue="AE standard"
    )
    assert QueueAssignment.objects.get(pk=waiting.pk).status == S.QUEUED


@pytest.mark.django_db
def test_ops_watch_queues_but_cannot_claim(ops_user):
    ops_user.is_superuser = False
    queue = RoutingQueueFactory()
    QueueAssignmentFactory(queue=queue)

    with pytest.raises(ActionForbidden):
        claims.assignment_claim_next(queue=queue, actor=ops_user)


@pytest.mark.django_db
def test_a_closed_queue_gives_nothing_to_claim(ae_user):
    queue = RoutingQueueFactory(is_active=False, queue_name="Old AE")
    QueueAssignmentFactory(queue=queue)

    with pytest.raises(DomainError, match=claims.QUEUE_INACTIVE.format(queue="Old AE")):
        claims.assignment_claim_next(queue=queue, actor=ae_user)


@pytest.mark.django_db
def test_an_agent_cannot_be_handed_more_than_their_limit_by_reassignment(ae_user):
    full = AeUserFactory(max_open_assignments=1)
    queue = RoutingQueueFactory()
    QueueAssignmentFactory(queue=queue, status=S.ASSIGNED, assigned_to=full)
    mine = QueueAssignmentFactory(queue=queue, status=S.ASSIGNED, assigned_to=ae_user)

    with pytest.raises(DomainError, match=checks.AGENT_AT_CAPACITY):
        assignments.assignment_reassign(
            assignment=mine, agent=full, actor=ae_user, reason="Holiday"
        )

    mine.refresh_from_db()
    assert mine.assigned_to == ae_user


@pytest.mark.django_db
def test_ops_role_alone_cannot_be_given_queue_items(ae_user):
    item = QueueAssignmentFactory()

    with pytest.raises(ActionForbidden):
        claims.assignment_assign(assignment=item, agent=OpsUserFactory(), actor=None)


# --- concurrency ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_claim_next_never_hands_one_item_to_two_agents():
    """20 agents claim at the same instant from a queue of 5 items, each in its own thread
    with its own PostgreSQL connection: each item goes to exactly one agent, and the 15 others
    find the queue empty."""
    queue = RoutingQueueFactory(auto_assign=False)
    items = {QueueAssignmentFactory(queue=queue).pk for _ in range(5)}
    agents = [AeUserFactory() for _ in range(20)]
    start = threading.Barrier(len(agents))
    results: dict = {}
    errors: list = []

    def claim(agent):
        try:
            start.wait(timeout=30)
            item = claims.assignment_claim_next(queue=queue, actor=agent)
            results[agent.pk] = item.pk if item else None
        except Exception as exc:  # reported below: a thread's exception is otherwise lost
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(agent,)) for agent in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    claimed = [item for item in results.values() if item is not None]
    assert len(results) == 20
    assert Counter(claimed) == Counter(items)  # each item exactly once
    assert list(results.values()).count(None) == 15
    rows = QueueAssignment.objects.filter(queue=queue)
    assert all(row.status == S.ASSIGNED for row in rows)
    assert {row.pk: row.assigned_to_id for row in rows} == {
        item: agent for agent, item in results.items() if item is not None
    }
    for row in rows:
        assigned = [h for h in row.history.all() if h.status == S.ASSIGNED]
        assert len(assigned) == 1
