"""Routing of profiled leads to AE queues (DESIGN.md rule 6): through the outbox handler for
lead.profiled / lead.cohort_changed, once per lead, to the right queue with a priority, with
overflow between queues of one type."""

import logging
from decimal import Decimal

import pytest

from apps.integrations import registry
from apps.integrations.models import IntegrationEvent
from apps.integrations.outbox import event_emit
from apps.leads.models import Cohort, Lead, LeadStatus
from apps.routing.handlers import route_profiled_lead
from apps.routing.models import AssignmentStatus, QueueAssignment, QueueType
from apps.routing.services import routing
from tests.accounts.factories import AeUserFactory
from tests.leads.factories import LeadFactory
from tests.merchants.factories import MerchantFactory
from tests.routing.factories import QueueAssignmentFactory, RoutingQueueFactory

pytestmark = pytest.mark.django_db

S = AssignmentStatus


@pytest.fixture
def deliver(django_capture_on_commit_callbacks):
    """deliver(event_type, lead, **payload): emit the event and run its delivery (the outbox
    handlers, then whatever they schedule after commit), as the worker would."""

    def emit(event_type, lead, **payload):
        with django_capture_on_commit_callbacks(execute=True):
            event_emit(event_type=event_type, aggregate=lead, payload=payload)

    return emit


def ae_items(lead):
    return QueueAssignment.objects.filter(lead=lead, queue__queue_type=QueueType.AE)


def routed_events(lead):
    return IntegrationEvent.objects.filter(event_type="lead.routed_to_ae", aggregate_id=lead.pk)


def test_the_handler_listens_to_profiling_and_cohort_changes():
    assert route_profiled_lead in registry.handlers_for("lead.profiled")
    assert route_profiled_lead in registry.handlers_for("lead.cohort_changed")


@pytest.mark.parametrize("cohort", [Cohort.ASSISTED, Cohort.MANAGED])
def test_an_assisted_or_managed_lead_is_queued_for_an_account_executive(queues, deliver, cohort):
    lead = LeadFactory(cohort=cohort, annual_revenue_estimate=Decimal("800000"))

    deliver("lead.profiled", lead)

    item = ae_items(lead).get()
    assert item.queue == queues["ae_standard"]
    assert item.status == S.QUEUED
    assert item.priority == routing.lead_priority(lead) == 80 + 10
    assert item.sla_due_at is not None
    event = routed_events(lead).get()
    assert event.event_payload["queue"] == "ae_standard"
    assert event.event_payload["assignment_id"] == str(item.pk)


def test_a_self_serve_lead_goes_to_no_queue(queues, deliver):
    lead = LeadFactory(cohort=Cohort.SELF_SERVE)

    deliver("lead.profiled", lead)

    assert not QueueAssignment.objects.filter(lead=lead).exists()
    assert not routed_events(lead).exists()


def test_a_lead_not_yet_profiled_goes_to_no_queue(queues):
    lead = LeadFactory(cohort=None)

    assert routing.lead_route(lead=lead) is None
    assert not QueueAssignment.objects.filter(lead=lead).exists()


@pytest.mark.parametrize(
    ("gtv", "locations", "queue"),
    [
        ("2000000.00", 1, "ae_high_priority"),
        ("1999999.99", 1, "ae_standard"),
        ("100000.00", 10, "ae_high_priority"),
        ("100000.00", 9, "ae_standard"),
        ("5000000.00", 40, "ae_high_priority"),
    ],
    ids=["gtv-2m", "gtv-just-under-2m", "10-locations", "9-locations", "both"],
)
def test_big_leads_go_to_the_high_priority_queue(queues, gtv, locations, queue):
    lead = LeadFactory(
        cohort=Cohort.ASSISTED,
        annual_revenue_estimate=Decimal(gtv),
        number_of_locations=locations,
    )

    item = routing.lead_route(lead=lead)

    assert item.queue.code == queue


def test_a_lead_without_gtv_or_locations_is_routed_with_the_lowest_priority(queues):
    lead = LeadFactory(
        cohort=Cohort.MANAGED, annual_revenue_estimate=None, number_of_locations=None
    )

    item = routing.lead_route(lead=lead)

    assert item.queue.code == "ae_standard"
    assert item.priority == 0


def test_bigger_leads_get_a_higher_priority_number():
    def priority(gtv, locations):
        return routing.lead_priority(
            Lead(annual_revenue_estimate=Decimal(gtv), number_of_locations=locations)
        )

    assert priority("350000", 1) == 45
    assert priority("500000", 10) == 150
    assert priority("2000000", 1) == 210
    assert priority("2000000", 1) > priority("1000000", 1) > priority("350000", 1)
    assert priority("350000", 5) > priority("350000", 1)
    # Caps: $10M and 100 locations.
    assert priority("50000000", 500) == 1_000 + 1_000


def test_a_lead_is_queued_once_however_often_it_is_profiled(queues, deliver):
    lead = LeadFactory(cohort=Cohort.ASSISTED)

    deliver("lead.profiled", lead)
    deliver("lead.cohort_changed", lead, **{"from": "self_serve", "to": "assisted"})
    deliver("lead.profiled", lead)

    assert ae_items(lead).count() == 1
    assert routed_events(lead).count() == 1


def test_a_lead_held_by_an_agent_is_not_queued_again(queues, deliver):
    lead = LeadFactory(cohort=Cohort.ASSISTED)
    held = QueueAssignmentFactory(
        lead=lead, queue=queues["ae_standard"], status=S.CONTACTED, assigned_to=AeUserFactory()
    )
    Lead.objects.filter(pk=lead.pk).update(cohort=Cohort.MANAGED)

    deliver("lead.cohort_changed", lead, **{"from": "assisted", "to": "managed"})

    assert list(ae_items(lead)) == [held]


def test_an_escalated_lead_is_not_queued_again(queues):
    lead = LeadFactory(cohort=Cohort.ASSISTED)
    escalated = QueueAssignmentFactory(lead=lead, queue=queues["ae_standard"], status=S.ESCALATED)

    assert routing.lead_route(lead=lead) == escalated
    assert ae_items(lead).count() == 1


def test_re_profiling_does_not_reopen_work_an_agent_finished(queues, deliver):
    lead = LeadFactory(cohort=Cohort.ASSISTED)
    QueueAssignmentFactory(lead=lead, queue=queues["ae_standard"], status=S.RESOLVED)

    deliver("lead.profiled", lead)

    assert ae_items(lead).count() == 1
    assert not routed_events(lead).exists()


@pytest.mark.parametrize("status", [LeadStatus.LOST, LeadStatus.DISQUALIFIED, LeadStatus.CONVERTED])
def test_a_closed_lead_is_not_routed(queues, status):
    lead = LeadFactory(cohort=Cohort.MANAGED, status=status)

    assert routing.lead_route(lead=lead) is None
    assert not ae_items(lead).exists()


def test_a_lead_overridden_to_self_serve_has_its_ae_item_withdrawn_with_the_reason(
    queues, deliver
):
    ae = AeUserFactory()
    lead = LeadFactory(cohort=Cohort.ASSISTED)
    item = QueueAssignmentFactory(
        lead=lead, queue=queues["ae_standard"], status=S.ASSIGNED, assigned_to=ae
    )
    Lead.objects.filter(pk=lead.pk).update(cohort=Cohort.SELF_SERVE)

    deliver(
        "lead.cohort_changed",
        lead,
        **{"from": "assisted", "to": "self_serve", "by": "override", "actor_id": str(ae.pk)},
    )

    item.refresh_from_db()
    assert item.status == S.RESOLVED
    assert item.withdrawn_at is not None
    assert item.reason == routing.SELF_SERVE_REASON
    latest = item.history.first()
    assert latest.history_user == ae
    assert routing.SELF_SERVE_REASON in latest.history_change_reason
    assert IntegrationEvent.objects.filter(
        event_type="assignment.withdrawn", aggregate_id=item.pk
    ).exists()


def test_a_lead_that_needs_an_ae_again_after_a_withdrawal_is_queued_again(queues, deliver):
    lead = LeadFactory(cohort=Cohort.ASSISTED)
    first = routing.lead_route(lead=lead)
    Lead.objects.filter(pk=lead.pk).update(cohort=Cohort.SELF_SERVE)
    deliver("lead.cohort_changed", lead)
    Lead.objects.filter(pk=lead.pk).update(cohort=Cohort.MANAGED)

    deliver("lead.cohort_changed", lead)

    assert ae_items(lead).count() == 2
    assert ae_items(lead).filter(status=S.QUEUED).exclude(pk=first.pk).exists()


# --- overflow -------------------------------------------------------------------------------


def fill(queue, count):
    for _ in range(count):
        QueueAssignmentFactory(queue=queue)


def big_lead():
    return LeadFactory(cohort=Cohort.MANAGED, annual_revenue_estimate=Decimal("3000000"))


def test_a_full_high_priority_queue_overflows_to_the_next_ae_queue(queues):
    high = queues["ae_high_priority"]
    high.max_queue_size = 2
    high.save()
    fill(high, 2)

    item = routing.lead_route(lead=big_lead())

    assert item.queue == queues["ae_standard"]
    assert "overflow from ae_high_priority" in item.reason


def test_items_held_by_agents_do_not_fill_a_queue(queues):
    high = queues["ae_high_priority"]
    high.max_queue_size = 1
    high.save()
    QueueAssignmentFactory(queue=high, status=S.ASSIGNED, assigned_to=AeUserFactory())

    item = routing.lead_route(lead=big_lead())

    assert item.queue == high


def test_when_every_ae_queue_is_full_the_last_takes_the_lead_and_ops_are_warned(queues, caplog):
    for code in ("ae_high_priority", "ae_standard"):
        queues[code].max_queue_size = 1
        queues[code].save()
        fill(queues[code], 1)

    with caplog.at_level(logging.WARNING, logger="apps.routing"):
        item = routing.lead_route(lead=big_lead())

    assert item.queue == queues["ae_standard"]
    assert "every ae queue full" in item.reason
    assert any(
        record.levelno == logging.WARNING and "every active ae queue is full" in record.message
        for record in caplog.records
    )


def test_a_standard_lead_never_overflows_into_the_high_priority_queue(queues):
    standard = queues["ae_standard"]
    standard.max_queue_size = 1
    standard.save()
    fill(standard, 1)

    item = routing.lead_route(lead=LeadFactory(cohort=Cohort.ASSISTED))

    assert item.queue == standard


def test_a_closed_queue_is_skipped(queues):
    high = queues["ae_high_priority"]
    high.is_active = False
    high.save()

    item = routing.lead_route(lead=big_lead())

    assert item.queue == queues["ae_standard"]


def test_overflow_follows_the_overflow_rank(queues):
    high = queues["ae_high_priority"]
    high.max_queue_size = 1
    high.save()
    fill(high, 1)
    # A third AE queue ranked between the two takes the overflow first.
    queues["ae_standard"].overflow_rank = 2
    queues["ae_standard"].save()
    middle = RoutingQueueFactory(code="ae_middle", overflow_rank=1, queue_type=QueueType.AE)

    item = routing.lead_route(lead=big_lead())

    assert item.queue == middle


def test_without_any_open_ae_queue_nothing_is_queued_and_the_error_is_logged(queues, caplog):
    for code in ("ae_high_priority", "ae_standard"):
        queues[code].is_active = False
        queues[code].save()
    lead = big_lead()

    with caplog.at_level(logging.ERROR, logger="apps.routing"):
        assert routing.lead_route(lead=lead) is None

    assert not ae_items(lead).exists()
    assert any("no active ae queue" in record.message for record in caplog.records)


# --- IC routing -----------------------------------------------------------------------------


def test_a_stalled_merchant_is_queued_once_for_ic_intervention(queues):
    merchant = MerchantFactory()

    first = routing.merchant_route_to_ic(merchant=merchant, reason="stalled 3 days on step 4")
    again = routing.merchant_route_to_ic(merchant=merchant, reason="stalled 4 days on step 4")

    assert first == again
    assert first.queue == queues["ic_intervention"]
    assert first.merchant == merchant
    assert first.lead == merchant.lead
    event = IntegrationEvent.objects.get(event_type="lead.routed_to_ic")
    assert event.aggregate_id == merchant.lead.pk
    assert event.event_payload["queue"] == "ic_intervention"


# --- with the leads app's own use cases -----------------------------------------------------


def test_profiling_a_managed_lead_routes_it_and_an_override_to_self_serve_withdraws_it(
    queues, django_capture_on_commit_callbacks
):
    """Through apps.leads.services: profiling emits lead.profiled, the outbox delivers it to
    routing after commit; the AE's override to self-serve emits lead.cohort_changed."""
    from apps.leads.services import lead_cohort_override, lead_profile
    from tests.routing.factories import CohortRuleFactory

    CohortRuleFactory(
        priority=1,
        conditions={"gtv_min": 1_000_000},
        cohort=Cohort.MANAGED,
        selling_plan="ae_managed",
        setup_plan="ic_paid",
    )
    lead = LeadFactory(annual_revenue_estimate=Decimal("2500000"), number_of_locations=3)
    ae = AeUserFactory()

    with django_capture_on_commit_callbacks(execute=True):
        lead_profile(lead=lead)

    item = ae_items(lead).get()
    assert lead.cohort == Cohort.MANAGED
    assert item.queue == queues["ae_high_priority"]
    assert item.assigned_to == ae  # the only AE, auto-assigned once the item was queued

    with django_capture_on_commit_callbacks(execute=True):
        lead_cohort_override(
            lead=lead, cohort=Cohort.SELF_SERVE, reason="Owner wants to self-serve", actor=ae
        )

    item.refresh_from_db()
    assert item.status == S.RESOLVED
    assert item.withdrawn_at is not None
    assert item.history.first().history_user == ae
