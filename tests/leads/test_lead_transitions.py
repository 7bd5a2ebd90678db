import pytest

from apps.core.errors import DomainError
from apps.leads import services
from apps.leads.models import LeadStatus
from tests.fsm_matrix import Case, allowed, check_allowed, check_refused, refused
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db

OPEN = [LeadStatus.NEW, LeadStatus.CONTACTED, LeadStatus.QUALIFIED]


def _lead(status):
    return LeadFactory(status=status)


def _case(id, sources, target, perform, reason, event):
    return Case(
        id=id,
        make=_lead,
        field="status",
        sources=sources,
        target=target,
        perform=perform,
        states=LeadStatus.values,
        reason=reason,
        event=event,
    )


CASES = [
    _case(
        "mark_contacted",
        [LeadStatus.NEW],
        LeadStatus.CONTACTED,
        lambda lead: services.lead_mark_contacted(lead=lead, actor=None),
        "lead_mark_contacted",
        "lead.contacted",
    ),
    _case(
        "qualify",
        [LeadStatus.NEW, LeadStatus.CONTACTED],
        LeadStatus.QUALIFIED,
        lambda lead: services.lead_qualify(lead=lead),
        "lead_qualify",
        "lead.qualified",
    ),
    _case(
        "convert",
        [LeadStatus.QUALIFIED],
        LeadStatus.CONVERTED,
        lambda lead: services.lead_convert(lead=lead),
        "lead_convert",
        "lead.converted",
    ),
    _case(
        "undo_conversion",
        [LeadStatus.CONVERTED],
        LeadStatus.QUALIFIED,
        lambda lead: services.lead_conversion_undo(lead=lead, reason="order LS-1 refunded"),
        "lead_conversion_undo: order LS-1 refunded",
        "lead.conversion_undone",
    ),
    _case(
        "disqualify",
        OPEN,
        LeadStatus.DISQUALIFIED,
        lambda lead: services.lead_disqualify(lead=lead, actor=None, reason="Outside our markets"),
        "lead_disqualify: Outside our markets",
        "lead.disqualified",
    ),
    _case(
        "mark_lost",
        OPEN,
        LeadStatus.LOST,
        lambda lead: services.lead_mark_lost(lead=lead, actor=None, reason="Chose a competitor"),
        "lead_mark_lost: Chose a competitor",
        "lead.lost",
    ),
]


@pytest.mark.parametrize(("case", "source"), allowed(CASES))
def test_lead_transition_is_allowed_from_its_sources(case, source):
    check_allowed(case, source)


@pytest.mark.parametrize(("case", "state"), refused(CASES))
def test_lead_transition_is_refused_from_other_states(case, state):
    check_refused(case, state)


def test_closing_a_lead_needs_a_reason_and_changes_nothing_without_one():
    lead = LeadFactory()
    with pytest.raises(DomainError, match=services.CLOSE_REASON_REQUIRED):
        services.lead_disqualify(lead=lead, actor=None, reason="  ")
    lead.refresh_from_db()
    assert lead.status == LeadStatus.NEW


def test_lifecycle_stamps_are_set_by_the_transitions(ae_user):
    lead = LeadFactory()
    services.lead_mark_contacted(lead=lead, actor=ae_user)
    services.lead_qualify(lead=lead)
    services.lead_convert(lead=lead)
    lead.refresh_from_db()
    assert lead.contacted_at <= lead.qualified_at <= lead.converted_at
    assert lead.history.filter(history_user=ae_user, status=LeadStatus.CONTACTED).exists()


def test_refusal_message_names_the_current_state():
    lead = LeadFactory(status=LeadStatus.CONVERTED)
    with pytest.raises(DomainError) as refusal:
        services.lead_mark_contacted(lead=lead, actor=None)
    assert refusal.value.message == (
        "This lead's status is “Converted”: it cannot mark contacted now."
    )


def test_a_long_reason_is_kept_whole_in_the_history():
    reason = "Chose a competitor after a long evaluation of integrations. " * 5
    lead = LeadFactory()
    services.lead_mark_lost(lead=lead, actor=None, reason=reason)
    assert lead.history.first().history_change_reason == f"lead_mark_lost: {reason}"
