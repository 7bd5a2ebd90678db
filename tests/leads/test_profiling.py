"""Profiling a lead (lead_profile), the lead.profiled / lead.cohort_changed events in the
outbox, and the daily re-profiling batch."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from apps.core.errors import TransitionRefused
from apps.core.fsm import save_tracked
from apps.integrations.models import IntegrationEvent
from apps.leads import services, tasks
from apps.leads.models import Cohort, LeadStatus
from apps.routing.models import CohortRule
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def default_rules():
    call_command("seed_rules", verbosity=0)


def events(lead, event_type):
    return list(
        IntegrationEvent.objects.filter(aggregate_id=lead.pk, event_type=event_type).order_by(
            "occurred_at"
        )
    )


def rule_conditions(cohort, conditions):
    """Ops edit a seeded rule (as the admin does: a tracked save)."""
    rule = CohortRule.objects.get(cohort=cohort)
    rule.conditions = conditions
    save_tracked(rule, actor=None, reason="test: ops edit")


def set_details(lead, **values):
    """A change to the lead's details as an edit makes it (through the service)."""
    return services.lead_update(lead=lead, actor=None, reason="test", **values)


# --- lead_profile ------------------------------------------------------------------------------


def test_profiling_stores_scores_inputs_rule_reason_and_time(default_rules):
    lead = LeadFactory(annual_revenue_estimate=Decimal("750000"), number_of_locations=3)

    lead = services.lead_profile(lead=lead)

    assert lead.gtv_score == Decimal("62.50")
    assert lead.complexity_score is not None
    assert lead.risk_score is not None
    assert lead.score_inputs["inputs"]["annual_revenue_estimate"] == "750000.00"
    assert lead.matched_rule.cohort == Cohort.ASSISTED
    assert "GTV $750,000 ≥ $500,000" in lead.cohort_reason
    assert lead.profiled_at is not None


def test_profiling_records_a_lead_profiled_event_in_the_outbox(default_rules):
    lead = LeadFactory(annual_revenue_estimate=Decimal("3000000"))

    services.lead_profile(lead=lead)

    [event] = events(lead, "lead.profiled")
    assert event.event_payload["cohort"] == Cohort.MANAGED
    assert event.event_payload["selling_plan"] == "ae_managed"
    assert event.event_payload["gtv_score"] == "82.57"
    assert event.event_payload["overridden"] is False


def test_a_first_profiling_is_not_a_cohort_change(default_rules):
    lead = LeadFactory()

    services.lead_profile(lead=lead)

    assert events(lead, "lead.cohort_changed") == []


def test_profiling_again_after_a_change_records_the_cohort_change_from_and_to(default_rules):
    lead = services.lead_profile(lead=LeadFactory(annual_revenue_estimate=Decimal("100000")))
    set_details(lead, annual_revenue_estimate=Decimal("2500000"))

    services.lead_profile(lead=lead)

    [change] = events(lead, "lead.cohort_changed")
    assert change.event_payload["from"] == Cohort.SELF_SERVE
    assert change.event_payload["to"] == Cohort.MANAGED
    assert change.event_payload["by"] == "profiling"
    assert len(events(lead, "lead.profiled")) == 2


def test_profiling_again_with_the_same_cohort_records_no_cohort_change(default_rules):
    lead = services.lead_profile(lead=LeadFactory(annual_revenue_estimate=Decimal("600000")))

    services.lead_profile(lead=lead)

    assert events(lead, "lead.cohort_changed") == []
    assert len(events(lead, "lead.profiled")) == 2


def test_profiling_is_kept_in_the_history_with_its_reason(default_rules):
    lead = services.lead_profile(lead=LeadFactory(), reason="captured")

    latest = lead.history.first()
    assert latest.history_change_reason.startswith("lead_profile: captured: cohort self_serve")
    assert latest.cohort == Cohort.SELF_SERVE


@pytest.mark.parametrize("status", [LeadStatus.CONVERTED, LeadStatus.DISQUALIFIED, LeadStatus.LOST])
def test_a_closed_lead_is_not_profiled_again(default_rules, status):
    lead = LeadFactory(status=status)

    with pytest.raises(TransitionRefused) as refusal:
        services.lead_profile(lead=lead)

    assert refusal.value.message == services.LEAD_CLOSED_NOT_PROFILED.format(
        status=LeadStatus(status).label
    )
    lead.refresh_from_db()
    assert lead.cohort is None
    assert events(lead, "lead.profiled") == []


def test_events_are_delivered_to_the_crm_after_commit(
    default_rules, django_capture_on_commit_callbacks
):
    lead = LeadFactory(annual_revenue_estimate=Decimal("3000000"))

    with django_capture_on_commit_callbacks(execute=True):
        services.lead_profile(lead=lead)

    [event] = events(lead, "lead.profiled")
    assert event.published
    lead.refresh_from_db()
    assert lead.crm_lead_id  # the CRM sync ran and stored the CRM's id


# --- Re-profiling ------------------------------------------------------------------------------


def test_reprofiling_rescores_open_leads_and_moves_their_cohort(default_rules):
    lead = services.lead_profile(lead=LeadFactory(annual_revenue_estimate=Decimal("100000")))
    rule_conditions(Cohort.ASSISTED, {"gtv_min": 50000})

    counts = services.leads_reprofile()

    lead.refresh_from_db()
    assert lead.cohort == Cohort.ASSISTED
    assert counts["updated"] == 1
    assert counts["cohort_changed"] == 1
    [change] = events(lead, "lead.cohort_changed")
    assert (change.event_payload["from"], change.event_payload["to"]) == ("self_serve", "assisted")


def test_reprofiling_never_undoes_an_override(default_rules, ae_user):
    lead = services.lead_profile(lead=LeadFactory(annual_revenue_estimate=Decimal("100000")))
    services.lead_cohort_override(
        lead=lead, cohort=Cohort.MANAGED, reason="Franchise of 40 stores", actor=ae_user
    )
    set_details(lead, annual_revenue_estimate=Decimal("200000"))

    counts = services.leads_reprofile()

    lead.refresh_from_db()
    assert (lead.cohort, lead.selling_plan, lead.setup_plan) == (
        Cohort.MANAGED,
        "ae_managed",
        "ic_paid",
    )
    assert lead.gtv_score == Decimal("43.37")  # the scores still follow the details
    assert lead.matched_rule.cohort == Cohort.SELF_SERVE  # what the rules say, for reference
    assert lead.cohort_overridden_by == ae_user
    assert counts["overridden_kept"] == 1
    assert counts["cohort_changed"] == 0
    assert [e.event_payload["by"] for e in events(lead, "lead.cohort_changed")] == ["override"]


def test_profiling_an_overridden_lead_by_hand_keeps_its_cohort_too(default_rules, ae_user):
    lead = services.lead_profile(lead=LeadFactory(annual_revenue_estimate=Decimal("100000")))
    services.lead_cohort_override(
        lead=lead, cohort=Cohort.ASSISTED, reason="Multi-brand group", actor=ae_user
    )

    lead = services.lead_profile(lead=lead)

    assert lead.cohort == Cohort.ASSISTED
    assert events(lead, "lead.profiled")[-1].event_payload["overridden"] is True
    assert "overridden cohort assisted kept" in lead.history.first().history_change_reason


def test_reprofiling_leaves_unchanged_leads_alone(default_rules):
    lead = services.lead_profile(lead=LeadFactory())
    history_before = lead.history.count()
    events_before = IntegrationEvent.objects.count()

    counts = services.leads_reprofile()

    assert counts == {
        "checked": 1,
        "updated": 0,
        "cohort_changed": 0,
        "overridden_kept": 0,
        "skipped": 0,
    }
    assert lead.history.count() == history_before
    assert IntegrationEvent.objects.count() == events_before


def test_reprofiling_profiles_leads_never_profiled_and_skips_closed_ones(default_rules):
    never = LeadFactory(annual_revenue_estimate=Decimal("900000"))
    lost = LeadFactory(status=LeadStatus.LOST)

    counts = services.leads_reprofile()

    never.refresh_from_db()
    lost.refresh_from_db()
    assert never.cohort == Cohort.ASSISTED
    assert lost.cohort is None
    assert counts["checked"] == 1
    assert counts["updated"] == 1


def test_reprofiling_since_a_time_takes_leads_changed_since_and_never_profiled(default_rules):
    with time_machine.travel(timezone.now() - timedelta(days=3)):
        old = services.lead_profile(lead=LeadFactory(annual_revenue_estimate=Decimal("100000")))
    rule_conditions(Cohort.ASSISTED, {"gtv_min": 50000})
    fresh = LeadFactory(annual_revenue_estimate=Decimal("100000"))

    counts = services.leads_reprofile(since=timezone.now() - timedelta(days=1))

    old.refresh_from_db()
    fresh.refresh_from_db()
    assert old.cohort == Cohort.SELF_SERVE
    assert fresh.cohort == Cohort.ASSISTED
    assert counts["checked"] == 1


def test_the_reprofile_task_queues_chunks_and_takes_an_iso_since(
    default_rules, django_capture_on_commit_callbacks
):
    lead = LeadFactory()

    with django_capture_on_commit_callbacks(execute=True):
        counts = tasks.leads_reprofile(since=(timezone.now() - timedelta(days=1)).isoformat())

    lead.refresh_from_db()
    assert lead.cohort == Cohort.SELF_SERVE
    assert counts == {"leads": 1, "tasks": 1}
    with pytest.raises(ValueError, match="not an ISO datetime"):
        tasks.leads_reprofile(since="yesterday")


def test_the_daily_reprofiling_is_split_into_tasks_with_the_same_results(
    default_rules, monkeypatch, django_capture_on_commit_callbacks
):
    """5 open leads, 2 per task: 3 tasks, each within its own ids; the leads end profiled as
    one batch would leave them, and the closed lead is left alone."""
    monkeypatch.setattr(services, "REPROFILE_CHUNK", 2)
    rich = [LeadFactory(annual_revenue_estimate=Decimal("900000")) for _ in range(2)]
    small = [LeadFactory(annual_revenue_estimate=Decimal("100000")) for _ in range(3)]
    lost = LeadFactory(status=LeadStatus.LOST)
    queued = []
    monkeypatch.setattr(
        "django_q.tasks.async_task", lambda func, ids, **kw: queued.append((func, ids))
    )

    with django_capture_on_commit_callbacks(execute=True):
        plan = tasks.leads_reprofile()

    assert plan == {"leads": 5, "tasks": 3}
    assert [len(ids) for _, ids in queued] == [2, 2, 1]
    assert {func for func, _ in queued} == {"apps.leads.tasks.leads_reprofile_chunk"}
    totals = [tasks.leads_reprofile_chunk(ids) for _, ids in queued]
    assert sum(t["updated"] for t in totals) == 5
    for lead in rich + small + [lost]:
        lead.refresh_from_db()
    assert {lead.cohort for lead in rich} == {Cohort.ASSISTED}
    assert {lead.cohort for lead in small} == {Cohort.SELF_SERVE}
    assert lost.cohort is None
    assert tasks.leads_reprofile_chunk([str(lost.pk)])["skipped"] == 1


def test_seed_rules_schedules_the_daily_reprofiling(default_rules):
    schedule = Schedule.objects.get(name="leads-reprofile")

    assert schedule.func == "apps.leads.tasks.leads_reprofile"
    assert schedule.schedule_type == Schedule.DAILY


# --- From the admin ----------------------------------------------------------------------------


def test_the_admin_action_profiles_the_selected_leads_again(admin_client, default_rules):
    open_lead = LeadFactory(annual_revenue_estimate=Decimal("2500000"))
    lost = LeadFactory(status=LeadStatus.LOST)

    response = admin_client.post(
        reverse("admin:leads_lead_changelist"),
        {
            "action": "profile_again",
            ACTION_CHECKBOX_NAME: [str(open_lead.pk), str(lost.pk)],
            "index": "0",
        },
        follow=True,
    )

    assert response.status_code == 200
    open_lead.refresh_from_db()
    lost.refresh_from_db()
    assert open_lead.cohort == Cohort.MANAGED
    assert open_lead.history.first().history_change_reason.startswith("lead_profile: admin")
    assert lost.cohort is None
    assert services.LEAD_CLOSED_NOT_PROFILED.format(status="Lost") in response.text
