import factory
from factory.django import DjangoModelFactory

from apps.leads.models import Cohort, SellingPlan, SetupPlan
from apps.routing.models import (
    AssignmentNote,
    CohortRule,
    QueueAssignment,
    QueueType,
    RoutingQueue,
)
from tests.leads.factories import LeadFactory


class CohortRuleFactory(DjangoModelFactory):
    """An active rule with no conditions (matches everyone) into self-serve."""

    class Meta:
        model = CohortRule

    rule_name = factory.Sequence(lambda n: f"rule-{n}")
    rule_description = factory.Faker("sentence")
    priority = factory.Sequence(lambda n: (n + 1) * 10)
    conditions = factory.LazyFunction(dict)
    cohort = Cohort.SELF_SERVE
    selling_plan = SellingPlan.SELF_SERVE
    setup_plan = SetupPlan.SELF_SERVE


class RoutingQueueFactory(DjangoModelFactory):
    class Meta:
        model = RoutingQueue

    code = factory.Sequence(lambda n: f"ae_queue_{n}")
    queue_name = factory.Sequence(lambda n: f"AE queue {n}")
    queue_type = QueueType.AE
    sla_minutes = 60


class QueueAssignmentFactory(DjangoModelFactory):
    """A queued lead; pass `status=` (allowed in factories) and `assigned_to=` as needed."""

    class Meta:
        model = QueueAssignment

    lead = factory.SubFactory(LeadFactory)
    queue = factory.SubFactory(RoutingQueueFactory)
    reason = "New assisted lead"


class AssignmentNoteFactory(DjangoModelFactory):
    class Meta:
        model = AssignmentNote

    assignment = factory.SubFactory(QueueAssignmentFactory)
    body = factory.Faker("sentence")


def seeded_queues() -> dict[str, RoutingQueue]:
    """The five queues of apps/demo/reference.py, by code."""
    from apps.demo.reference import ROUTING_QUEUES

    queues = {}
    for code, name, queue_type, sla, max_size, rank, auto_assign in ROUTING_QUEUES:
        queues[code], _ = RoutingQueue.objects.update_or_create(
            code=code,
            defaults={
                "queue_name": name,
                "queue_type": queue_type,
                "sla_minutes": sla,
                "max_queue_size": max_size,
                "overflow_rank": rank,
                "auto_assign": auto_assign,
            },
        )
    return queues
