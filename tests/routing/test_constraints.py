"""The database keeps one open assignment per lead and queue, and sane cohort rules."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.routing.models import OPEN_ASSIGNMENT_STATUSES, AssignmentStatus, QueueAssignment
from tests.merchants.factories import MerchantFactory
from tests.routing.factories import (
    CohortRuleFactory,
    QueueAssignmentFactory,
    RoutingQueueFactory,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("second_status", OPEN_ASSIGNMENT_STATUSES)
def test_second_open_assignment_for_one_lead_in_one_queue_is_refused(second_status):
    first = QueueAssignmentFactory()

    with (
        pytest.raises(IntegrityError, match="assignment_one_open_per_lead_queue"),
        transaction.atomic(),
    ):
        QueueAssignmentFactory(queue=first.queue, lead=first.lead, status=second_status)


def test_new_assignment_for_the_lead_is_accepted_once_the_first_is_resolved():
    first = QueueAssignmentFactory(status=AssignmentStatus.RESOLVED)

    QueueAssignmentFactory(queue=first.queue, lead=first.lead)

    assert QueueAssignment.objects.filter(queue=first.queue, lead=first.lead).count() == 2


def test_open_assignments_for_one_lead_in_two_queues_are_accepted():
    first = QueueAssignmentFactory()

    QueueAssignmentFactory(queue=RoutingQueueFactory(), lead=first.lead)

    assert first.lead.assignments.count() == 2


def test_second_open_assignment_for_one_merchant_in_one_queue_is_refused():
    first = QueueAssignmentFactory(lead=None, merchant=MerchantFactory())

    with (
        pytest.raises(IntegrityError, match="assignment_one_open_per_merchant_queue"),
        transaction.atomic(),
    ):
        QueueAssignmentFactory(lead=None, merchant=first.merchant, queue=first.queue)


def test_assignment_without_lead_or_merchant_is_refused():
    with pytest.raises(IntegrityError, match="assignment_has_subject"), transaction.atomic():
        QueueAssignmentFactory(lead=None, merchant=None)


def test_assignment_for_a_merchant_only_is_accepted():
    assignment = QueueAssignmentFactory(lead=None, merchant=MerchantFactory())

    assignment.refresh_from_db()
    assert assignment.lead is None
    assert assignment.merchant is not None


@pytest.mark.parametrize("days_after", [0, -1], ids=["same_moment", "before"])
def test_cohort_rule_ending_before_it_starts_is_refused(days_after):
    start = timezone.now()

    with pytest.raises(IntegrityError, match="cohortrule_effective_window"), transaction.atomic():
        CohortRuleFactory(effective_from=start, effective_to=start + timedelta(days=days_after))


@pytest.mark.parametrize("effective_to_days", [30, None], ids=["ends_later", "open_ended"])
def test_cohort_rule_with_a_valid_window_is_accepted(effective_to_days):
    start = timezone.now()
    end = None if effective_to_days is None else start + timedelta(days=effective_to_days)

    rule = CohortRuleFactory(effective_from=start, effective_to=end)

    rule.refresh_from_db()
    assert rule.effective_to == end
