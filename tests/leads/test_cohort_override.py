"""An AE overrides a lead's cohort (lead_cohort_override): permission, mandatory reason,
plans from the cohort, history, event, closed leads."""

import pytest

from apps.core.errors import ActionForbidden, DomainError, TransitionRefused
from apps.integrations.models import IntegrationEvent
from apps.leads import services
from apps.leads.models import Cohort, LeadStatus, SellingPlan, SetupPlan
from tests.accounts.factories import (
    AeUserFactory,
    ComplianceUserFactory,
    IcUserFactory,
    MerchantUserFactory,
    OpsUserFactory,
    UserFactory,
)
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db

REASON = "Franchise group with 40 stores opening this year"


def profiled_lead(**extra):
    return services.lead_profile(lead=LeadFactory(**extra))


def override(lead, actor, cohort=Cohort.MANAGED, reason=REASON):
    return services.lead_cohort_override(lead=lead, cohort=cohort, reason=reason, actor=actor)


def test_an_ae_overrides_the_cohort_and_the_plans_follow(ae_user):
    lead = profiled_lead()

    lead = override(lead, ae_user)

    assert (lead.cohort, lead.selling_plan, lead.setup_plan) == (
        Cohort.MANAGED,
        SellingPlan.AE_MANAGED,
        SetupPlan.IC_PAID,
    )
    assert lead.cohort_overridden_by == ae_user
    assert lead.cohort_override_reason == REASON
    assert lead.cohort_overridden_at is not None


@pytest.mark.parametrize(
    ("cohort", "selling_plan", "setup_plan"),
    [
        (Cohort.SELF_SERVE, SellingPlan.SELF_SERVE, SetupPlan.SELF_SERVE),
        (Cohort.ASSISTED, SellingPlan.AE_ASSISTED, SetupPlan.IC_FREE),
        (Cohort.MANAGED, SellingPlan.AE_MANAGED, SetupPlan.IC_PAID),
    ],
)
def test_each_cohort_brings_its_default_plans(ae_user, cohort, selling_plan, setup_plan):
    lead = override(profiled_lead(annual_revenue_estimate=900_000), ae_user, cohort=cohort)

    assert (lead.selling_plan, lead.setup_plan) == (selling_plan, setup_plan)


def test_the_override_is_kept_in_the_history_with_who_and_why(ae_user):
    lead = override(profiled_lead(), ae_user)

    latest = lead.history.first()
    assert latest.history_user == ae_user
    assert latest.history_change_reason == f"lead_cohort_override: self_serve → managed: {REASON}"
    assert latest.cohort == Cohort.MANAGED


def test_the_override_records_a_cohort_changed_event(ae_user):
    lead = override(profiled_lead(), ae_user)

    event = IntegrationEvent.objects.get(aggregate_id=lead.pk, event_type="lead.cohort_changed")
    assert event.event_payload["from"] == Cohort.SELF_SERVE
    assert event.event_payload["to"] == Cohort.MANAGED
    assert event.event_payload["by"] == "override"
    assert event.event_payload["reason"] == REASON
    assert event.event_payload["actor_id"] == str(ae_user.pk)


def test_overriding_to_the_same_cohort_pins_it_without_a_change_event(ae_user):
    lead = override(profiled_lead(), ae_user, cohort=Cohort.SELF_SERVE)

    assert lead.cohort_overridden_at is not None
    assert not IntegrationEvent.objects.filter(
        aggregate_id=lead.pk, event_type="lead.cohort_changed"
    ).exists()


def test_an_unprofiled_lead_can_be_overridden_and_that_is_a_change(ae_user):
    lead = override(LeadFactory(), ae_user, cohort=Cohort.ASSISTED)

    event = IntegrationEvent.objects.get(aggregate_id=lead.pk, event_type="lead.cohort_changed")
    assert (event.event_payload["from"], event.event_payload["to"]) == (None, "assisted")


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_an_override_needs_a_reason_and_changes_nothing_without_one(ae_user, reason):
    lead = profiled_lead()
    history_before = lead.history.count()

    with pytest.raises(DomainError) as refusal:
        override(lead, ae_user, reason=reason)

    assert refusal.value.message == services.OVERRIDE_REASON_REQUIRED
    lead.refresh_from_db()
    assert lead.cohort == Cohort.SELF_SERVE
    assert lead.cohort_overridden_at is None
    assert lead.history.count() == history_before


@pytest.mark.parametrize(
    "make_user",
    [IcUserFactory, OpsUserFactory, ComplianceUserFactory, MerchantUserFactory, UserFactory],
    ids=["ic", "ops", "compliance", "merchant", "no-role"],
)
def test_only_a_user_with_the_override_permission_may_override(make_user):
    lead = profiled_lead()

    with pytest.raises(ActionForbidden) as refusal:
        override(lead, make_user())

    assert refusal.value.message == services.OVERRIDE_FORBIDDEN
    lead.refresh_from_db()
    assert lead.cohort == Cohort.SELF_SERVE
    assert lead.cohort_overridden_at is None


def test_the_system_cannot_override(ae_user):
    with pytest.raises(ActionForbidden):
        override(profiled_lead(), None)


def test_an_ae_has_the_override_permission():
    assert AeUserFactory().has_perm("leads.override_cohort")


@pytest.mark.parametrize("cohort", ["enterprise", "", None, "MANAGED"])
def test_an_unknown_cohort_is_refused(ae_user, cohort):
    lead = profiled_lead()

    with pytest.raises(DomainError) as refusal:
        override(lead, ae_user, cohort=cohort)

    assert refusal.value.message == services.UNKNOWN_COHORT
    lead.refresh_from_db()
    assert lead.cohort == Cohort.SELF_SERVE


@pytest.mark.parametrize("status", [LeadStatus.DISQUALIFIED, LeadStatus.LOST])
def test_a_closed_lead_cannot_be_overridden(ae_user, status):
    lead = LeadFactory(status=status, cohort=Cohort.SELF_SERVE)

    with pytest.raises(TransitionRefused) as refusal:
        override(lead, ae_user)

    assert refusal.value.message == services.OVERRIDE_CLOSED_LEAD.format(
        status=LeadStatus(status).label
    )
    lead.refresh_from_db()
    assert lead.cohort == Cohort.SELF_SERVE


def test_a_converted_lead_can_still_be_overridden(ae_user):
    lead = override(LeadFactory(status=LeadStatus.CONVERTED), ae_user)

    assert lead.cohort == Cohort.MANAGED
