from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.errors import ActionForbidden, DomainError
from apps.leads.models import LeadStatus
from apps.routing.models import AssignmentStatus, QueueAssignment
from apps.routing.services import assignments, checks, claims, routing
from tests.accounts.factories import AeUserFactory, MerchantUserFactory
from tests.fsm_matrix import Case, allowed, check_allowed, check_refused, refused
from tests.routing.factories import QueueAssignmentFactory, RoutingQueueFactory

pytestmark = pytest.mark.django_db

S = AssignmentStatus
OPEN = [S.QUEUED, S.ASSIGNED, S.CONTACTED, S.IN_PROGRESS]


def _assignment(status):
    agent = None if status == S.QUEUED else AeUserFactory()
    return QueueAssignmentFactory(status=status, assigned_to=agent)


def _agent_of(assignment):
    return assignment.assigned_to or AeUserFactory()


def _case(id, sources, target, perform, reason, event=None):
    return Case(
        id=id,
        make=_assignment,
        field="status",
        sources=sources,
        target=target,
        perform=perform,
        states=S.values,
        reason=reason,
        event=event,
    )


CASES = [
    _case(
        "assign",
        [S.QUEUED],
        S.ASSIGNED,
        lambda a: claims.assignment_assign(
            assignment=a, agent=(agent := AeUserFactory()), actor=agent
        ),
        "assignment_assign: claimed",
        "assignment.assigned",
    ),
    _case(
        "reassign",
        [S.ASSIGNED],
        S.ASSIGNED,
        lambda a: assignments.assignment_reassign(
            assignment=a, agent=AeUserFactory(), actor=_agent_of(a), reason="Vacation"
        ),
        "assignment_reassign: Vacation",
        "assignment.reassigned",
    ),
    _case(
        "release",
        [S.ASSIGNED],
        S.QUEUED,
        lambda a: assignments.assignment_release(
            assignment=a, actor=_agent_of(a), reason="Wrong territory"
        ),
        "assignment_release: Wrong territory",
        "assignment.released",
    ),
    _case(
        "record_contact",
        [S.ASSIGNED],
        S.CONTACTED,
        lambda a: assignments.assignment_record_contact(assignment=a, actor=_agent_of(a)),
        "assignment_record_contact",
        "assignment.contacted",
    ),
    _case(
        "start_work",
        [S.CONTACTED],
        S.IN_PROGRESS,
        lambda a: assignments.assignment_start_work(assignment=a, actor=_agent_of(a)),
        "assignment_start_work",
    ),
    _case(
        "resolve",
        [S.CONTACTED, S.IN_PROGRESS],
        S.RESOLVED,
        lambda a: assignments.assignment_resolve(
            assignment=a, actor=_agent_of(a), note="Quote sent"
        ),
        "assignment_resolve: Quote sent",
        "assignment.resolved",
    ),
    _case(
        "escalate",
        OPEN,
        S.ESCALATED,
        lambda a: assignments.assignment_escalate(
            assignment=a, actor=_agent_of(a), reason="Needs a senior AE"
        ),
        "assignment_escalate: Needs a senior AE",
        "assignment.escalated",
    ),
]


@pytest.mark.parametrize(("case", "source"), allowed(CASES))
def test_assignment_transition_is_allowed_from_its_sources(case, source):
    check_allowed(case, source)


@pytest.mark.parametrize(("case", "state"), refused(CASES))
def test_assignment_transition_is_refused_from_other_states(case, state):
    check_refused(case, state)


def test_enqueue_starts_the_sla_clock_from_the_queue():
    queue = RoutingQueueFactory(sla_minutes=90)
    assignment = routing.assignment_enqueue(queue=queue, lead=QueueAssignmentFactory().lead)
    assert assignment.status == S.QUEUED
    assert assignment.sla_due_at - assignment.queued_at == timedelta(minutes=90)


def test_first_contact_stops_the_clock_and_marks_the_lead_contacted(ae_user):
    assignment = QueueAssignmentFactory(status=S.ASSIGNED, assigned_to=ae_user)
    assignments.assignment_record_contact(assignment=assignment, actor=ae_user)
    assignment.refresh_from_db()
    assignment.lead.refresh_from_db()
    assert assignment.first_contact_at is not None
    assert assignment.first_contact_at <= timezone.now()
    assert assignment.lead.status == LeadStatus.CONTACTED


def test_a_merchant_user_cannot_work_a_queue():
    merchant_user = MerchantUserFactory()
    assignment = QueueAssignmentFactory()
    with pytest.raises(ActionForbidden):
        claims.assignment_assign(assignment=assignment, agent=merchant_user, actor=merchant_user)
    assignment.refresh_from_db()
    assert assignment.status == S.QUEUED
    assert assignment.assigned_to is None


def test_an_inactive_agent_cannot_be_given_an_item(ae_user):
    retired = AeUserFactory(is_active=False)
    assignment = QueueAssignmentFactory()
    with pytest.raises(DomainError, match=checks.AGENT_INACTIVE):
        claims.assignment_assign(assignment=assignment, agent=retired, actor=ae_user)


@pytest.mark.parametrize("service", ["assignment_release", "assignment_escalate"])
def test_release_and_escalate_need_a_reason(service, ae_user):
    assignment = QueueAssignmentFactory(status=S.ASSIGNED, assigned_to=ae_user)
    with pytest.raises(DomainError, match=checks.REASON_REQUIRED):
        getattr(assignments, service)(assignment=assignment, actor=ae_user, reason="")
    assert QueueAssignment.objects.get(pk=assignment.pk).status == S.ASSIGNED


def test_a_stale_copy_cannot_claim_an_item_already_claimed():
    assignment = QueueAssignmentFactory()
    stale = QueueAssignment.objects.get(pk=assignment.pk)
    first, second = AeUserFactory(), AeUserFactory()
    claims.assignment_assign(assignment=assignment, agent=first, actor=first)
    with pytest.raises(DomainError, match="changed by someone else"):
        claims.assignment_assign(assignment=stale, agent=second, actor=second)
    assignment.refresh_from_db()
    assert assignment.assigned_to == first
