"""A page of a queue is an index walk in the screens' order, not a sort of the whole queue
joined to its leads and merchants (issue 12: ae_standard at 100k leads, 85 ms → 7 ms)."""

import pytest
from django.db import connection, transaction

from apps.routing import selectors
from tests.accounts.factories import AeUserFactory
from tests.routing.factories import QueueAssignmentFactory, RoutingQueueFactory

pytestmark = pytest.mark.django_db


def _plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with transaction.atomic(), connection.cursor() as cursor:
        # What the planner prefers once a queue holds thousands of items.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize("listing", ["waiting", "others", "mine"])
def test_each_queue_list_reads_the_open_items_in_order_from_the_index(listing):
    queue = RoutingQueueFactory()
    agent = AeUserFactory()
    QueueAssignmentFactory.create_batch(3, queue=queue)
    lists = {
        "waiting": selectors.assignment_list_waiting(queue=queue),
        "others": selectors.assignment_list_others(queue=queue, user=agent),
        "mine": selectors.assignment_list_mine(queue=queue, user=agent),
    }

    plan = _plan(lists[listing][:50])

    assert "assignment_open_queue_order" in plan
    assert "Sort Key" not in plan  # the index gives the order: nothing sorted
