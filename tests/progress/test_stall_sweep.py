"""The stall sweep (DESIGN.md rule 8): thresholds at their boundaries per cohort, one open
alert per (merchant, step, type), severity, follow-ups (nudge email, IC intervention,
abandonment, lead lost) and alerts resolving themselves once the merchant moves on."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail

from apps.core.links import step_link_read
from apps.demo.reference import task_exists
from apps.integrations.models import IntegrationEvent, SandboxLedgerEntry
from apps.leads.models import Cohort, LeadStatus
from apps.merchants.choices import JourneyStatus
from apps.progress import tasks
from apps.progress.models import AlertStatus, AlertType, Severity, StallAlert, StepStatus
from apps.progress.services import alert_claim, step_complete
from apps.progress.sweeps import follow_ups, stall
from apps.progress.sweeps.severity import severity_for
from apps.routing.models import QueueAssignment
from tests.accounts.factories import IcUserFactory
from tests.progress.factories import (
    MerchantStepProgressFactory,
    StallAlertFactory,
    merchant_on_step,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)
THRESHOLD_DAYS = {Cohort.SELF_SERVE: 3, Cohort.ASSISTED: 2, Cohort.MANAGED: 1}
NUDGE = follow_ups.NUDGE_SUBJECT.split(":")[0]


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def sweep(django_capture_on_commit_callbacks):
    """Run the sweep and, after its commit, its follow-ups (outbox delivery, inline)."""

    def run():
        with django_capture_on_commit_callbacks(execute=True):
            return stall.stall_sweep()

    return run


def on_step(**kwargs):
    return merchant_on_step(now=NOW, **kwargs)


def alerts(progress=None, **filters):
    queryset = StallAlert.objects.all()
    if progress is not None:
        queryset = queryset.filter(merchant=progress.merchant)
    return queryset.filter(**filters)


def nudges():
    return [message for message in mail.outbox if message.subject.startswith(NUDGE)]


# --- thresholds, cohort by cohort -----------------------------------------------------------


@pytest.mark.parametrize("cohort", list(THRESHOLD_DAYS))
def test_no_stall_one_second_before_the_cohorts_threshold(policies, frozen, sweep, cohort):
    progress = on_step(cohort=cohort, idle=THRESHOLD_DAYS[cohort] * DAY - SECOND)

    sweep()

    assert not alerts(progress).exists()
    assert nudges() == []


@pytest.mark.parametrize("cohort", list(THRESHOLD_DAYS))
def test_a_stall_is_raised_exactly_at_the_cohorts_threshold(policies, frozen, sweep, cohort):
    progress = on_step(cohort=cohort, step=4, idle=THRESHOLD_DAYS[cohort] * DAY)

    result = sweep()

    alert = alerts(progress).get()
    assert alert.alert_type == AlertType.STALLED
    assert alert.step_id == 4
    assert alert.days_stalled == THRESHOLD_DAYS[cohort]
    assert alert.last_activity_at == NOW - THRESHOLD_DAYS[cohort] * DAY
    assert alert.current_status == StepStatus.IN_PROGRESS
    assert alert.lead == progress.merchant.lead
    assert alert.history.last().history_change_reason.startswith("stall_sweep: stalled on step 4")
    assert result.stalled == 1


def test_the_thresholds_come_from_the_policy_rows(policies, frozen, sweep):
    policy = policies[Cohort.SELF_SERVE]
    policy.stalled_after_days = 5
    policy.save()
    progress = on_step(idle=4 * DAY)

    sweep()

    assert not alerts(progress).exists()


def test_a_cohort_without_a_policy_is_not_swept(journey_steps, frozen, sweep):
    progress = on_step(idle=20 * DAY)

    assert sweep().as_dict() == stall.SweepResult().as_dict()
    assert not alerts(progress).exists()


def test_no_abandonment_one_second_before_14_days(policies, frozen, sweep):
    progress = on_step(idle=14 * DAY - SECOND)

    sweep()

    assert list(alerts(progress).values_list("alert_type", flat=True)) == [AlertType.STALLED]
    progress.merchant.refresh_from_db()
    assert progress.merchant.journey_status == JourneyStatus.IN_PROGRESS


def test_at_14_days_the_journey_is_abandoned_with_an_alert(policies, frozen, sweep):
    progress = on_step(idle=14 * DAY)

    sweep()

    assert set(alerts(progress).values_list("alert_type", flat=True)) == {
        AlertType.STALLED,
        AlertType.ABANDONED,
    }
    abandoned = alerts(progress, alert_type=AlertType.ABANDONED).get()
    assert abandoned.severity == Severity.CRITICAL
    merchant = progress.merchant
    merchant.refresh_from_db()
    assert merchant.journey_status == JourneyStatus.ABANDONED
    assert merchant.journey_abandoned_at == NOW
    assert "no activity on step 3 for 14 days" in merchant.history.first().history_change_reason
    progress.refresh_from_db()
    assert progress.abandoned_at == NOW


def _abandoned_journey(idle, **lead):
    return on_step(
        idle=idle,
        journey_status=JourneyStatus.ABANDONED,
        journey_abandoned_at=NOW - idle + 14 * DAY,
        **{f"lead__{name}": value for name, value in lead.items()},
    )


def test_lead_is_not_lost_one_second_before_30_days(policies, frozen, sweep):
    progress = _abandoned_journey(30 * DAY - SECOND)

    sweep()

    progress.merchant.lead.refresh_from_db()
    assert progress.merchant.lead.status == LeadStatus.NEW


def test_lead_is_lost_after_30_days_without_activity(policies, frozen, sweep):
    progress = _abandoned_journey(30 * DAY)

    result = sweep()

    lead = progress.merchant.lead
    lead.refresh_from_db()
    assert result.lost == 1
    assert lead.status == LeadStatus.LOST
    assert lead.close_reason == "Journey abandoned: no activity for 30 days"


def test_a_lead_lost_is_recorded_once_however_often_the_sweep_runs(policies, frozen, sweep):
    _abandoned_journey(31 * DAY)

    sweep()
    sweep()

    assert IntegrationEvent.objects.filter(event_type=stall.MERCHANT_LOST).count() == 1
    assert IntegrationEvent.objects.filter(event_type="lead.lost").count() == 1


def test_a_converted_lead_is_never_lost(policies, frozen, sweep):
    progress = _abandoned_journey(40 * DAY, status=LeadStatus.CONVERTED)

    assert sweep().lost == 0
    progress.merchant.lead.refresh_from_db()
    assert progress.merchant.lead.status == LeadStatus.CONVERTED


def test_a_journey_idle_for_30_days_is_abandoned_then_its_lead_lost(policies, frozen, sweep):
    progress = on_step(idle=30 * DAY)

    sweep()
    merchant = progress.merchant
    merchant.refresh_from_db()
    assert merchant.journey_status == JourneyStatus.ABANDONED
    sweep()

    merchant.lead.refresh_from_db()
    assert merchant.lead.status == LeadStatus.LOST


def test_a_lost_event_for_a_journey_resumed_meanwhile_changes_nothing(policies, frozen):
    progress = _abandoned_journey(31 * DAY)
    stall.stall_sweep()  # the merchant.lost event waits in the outbox...
    from apps.merchants.services.journey import merchant_journey_resume

    merchant_journey_resume(merchant=progress.merchant, reason="merchant called back")
    event = IntegrationEvent.objects.get(event_type=stall.MERCHANT_LOST)

    from apps.integrations.services import event_deliver

    event_deliver(event_id=event.pk)

    progress.merchant.lead.refresh_from_db()
    assert progress.merchant.lead.status == LeadStatus.NEW


def test_two_errors_raise_no_alert(policies, frozen, sweep):
    progress = on_step(errors=2)

    sweep()

    assert not alerts(progress).exists()


def test_three_errors_raise_an_error_threshold_alert(policies, frozen, sweep):
    progress = on_step(errors=3, status=StepStatus.FAILED)

    sweep()

    alert = alerts(progress).get()
    assert alert.alert_type == AlertType.ERROR_THRESHOLD
    assert alert.error_count == 3
    assert alert.current_status == StepStatus.FAILED
    assert alert.severity == Severity.MEDIUM
    assert nudges() == []


# --- which journeys and steps are swept ---------------------------------------------------------


@pytest.mark.parametrize("status", [StepStatus.BLOCKED, StepStatus.FAILED])
def test_blocked_and_failed_steps_stall_too(policies, frozen, sweep, status):
    progress = on_step(idle=4 * DAY, status=status)

    sweep()

    assert alerts(progress, alert_type=AlertType.STALLED).exists()


@pytest.mark.parametrize(
    "journey_status", [JourneyStatus.COMPLETED, JourneyStatus.BLOCKED, JourneyStatus.ABANDONED]
)
def test_journeys_not_in_progress_raise_no_stall(policies, frozen, sweep, journey_status):
    progress = on_step(idle=20 * DAY, errors=5, journey_status=journey_status)

    sweep()

    assert not alerts(progress).exists()


def test_a_pending_current_step_raises_no_stall(policies, frozen, sweep):
    progress = on_step(idle=20 * DAY, status=StepStatus.PENDING)

    sweep()

    assert not alerts(progress).exists()


def test_only_the_current_step_is_swept(policies, frozen, sweep):
    progress = on_step(step=5, idle=20 * DAY)
    merchant = progress.merchant
    merchant.current_step = 6
    merchant.save()

    sweep()

    assert not alerts(progress).exists()


# --- running twice ------------------------------------------------------------------------------


def _effects(intervention_queue) -> tuple:
    alert_ids = [str(pk) for pk in StallAlert.objects.values_list("pk", flat=True)]
    return (
        StallAlert.objects.count(),
        QueueAssignment.objects.filter(queue=intervention_queue).count(),
        len(nudges()),
        SandboxLedgerEntry.objects.filter(system="email", idempotency_key__in=alert_ids).count(),
        IntegrationEvent.objects.filter(event_type=stall.ALERT_RAISED).count(),
    )


def test_running_the_sweep_twice_creates_nothing_new(
    policies, frozen, sweep, intervention_queue
):
    stalled = on_step(idle=4 * DAY)
    on_step(idle=15 * DAY, cohort=Cohort.ASSISTED)
    on_step(errors=4)

    first = sweep()
    effects = _effects(intervention_queue)
    second = sweep()

    assert (first.stalled, first.abandoned, first.error_threshold) == (2, 1, 1)
    # alerts, IC intervention items, nudge emails, emails sent by the provider, events
    assert effects == (4, 1, 2, 2, 4)
    assert second.as_dict() == stall.SweepResult().as_dict()
    assert _effects(intervention_queue) == effects
    assert alerts(stalled).get().queue_assignment is not None


def test_a_follow_up_delivered_twice_emails_and_queues_once(policies, frozen, sweep):
    progress = on_step(idle=4 * DAY)
    sweep()
    alert = alerts(progress).get()

    follow_ups.stall_follow_up(alert_id=alert.pk)
    follow_ups.stall_follow_up(alert_id=alert.pk)

    assert len(nudges()) == 1
    assert QueueAssignment.objects.filter(merchant=progress.merchant).count() == 1


def test_a_stall_closed_by_a_person_is_raised_again_at_the_next_sweep(policies, frozen, sweep):
    progress = on_step(idle=4 * DAY)
    sweep()
    from apps.progress.services import alert_dismiss

    alert_dismiss(alert=alerts(progress).get(), actor=None, reason="Called: on holiday")
    sweep()

    assert alerts(progress, alert_status=AlertStatus.OPEN).count() == 1
    assert alerts(progress).count() == 2


# --- nudge email ----------------------------------------------------------------------------


def test_the_merchant_gets_one_nudge_linking_to_the_step_page(policies, frozen, sweep):
    progress = on_step(step=3, idle=5 * DAY)

    sweep()

    [message] = nudges()
    assert message.to == [progress.merchant.user.email]
    # The merchant's words for the step, never the internal name staff use.
    assert message.subject == "Pick up where you left off: Verify your business"
    assert "Qualify for LS Payments" not in message.body
    assert "“Verify your business” for 5 days" in message.body
    token = re.search(r"http://localhost:8000/continue/(\S+)/", message.body).group(1)
    assert step_link_read(token) == {"m": str(progress.merchant.pk), "s": 3, "p": "/kyb/"}
    ledger = SandboxLedgerEntry.objects.get(system="email")
    assert ledger.idempotency_key == str(alerts(progress).get().pk)


def test_the_payment_step_nudge_links_to_the_dashboard(policies, frozen, sweep):
    on_step(step=6, idle=5 * DAY)

    sweep()

    [message] = nudges()
    # A step link (signed, expiring, resumable) that leads to the dashboard.
    token = re.search(r"http://localhost:8000/continue/(\S+)/", message.body).group(1)
    assert step_link_read(token)["p"] == "/dashboard/"


def test_a_step_page_that_does_not_exist_falls_back_to_the_dashboard(monkeypatch):
    monkeypatch.setitem(follow_ups.STEP_PAGES, 9, "merchants:no_such_page")

    assert follow_ups.step_page_url(9) == "http://localhost:8000/dashboard/"


def test_the_link_uses_the_portal_address_when_set(settings):
    settings.PORTAL_BASE_URL = "https://portal.example.com/"

    assert follow_ups.step_page_url(3) == "https://portal.example.com/kyb/"


def test_no_nudge_for_an_abandonment_alone_or_repeated_errors(policies, frozen, sweep):
    on_step(errors=3)
    progress = on_step(idle=20 * DAY)
    StallAlertFactory(
        merchant=progress.merchant, step=progress.step, last_activity_at=NOW - 20 * DAY
    )

    sweep()

    assert nudges() == []


# --- IC intervention ----------------------------------------------------------------------------


def test_a_self_serve_stall_is_queued_for_ic_intervention_once(
    policies, frozen, sweep, intervention_queue
):
    progress = on_step(idle=4 * DAY)

    sweep()
    sweep()

    [item] = QueueAssignment.objects.filter(queue=intervention_queue)
    assert item.merchant == progress.merchant
    assert "Stalled 4 days on step 3" in item.reason
    alert = alerts(progress).get()
    assert alert.queue_assignment == item
    progress.refresh_from_db()
    assert progress.intervention_required is True
    assert progress.intervention_triggered_at == NOW


@pytest.mark.parametrize("cohort", [Cohort.ASSISTED, Cohort.MANAGED])
def test_an_ae_cohort_stall_is_not_queued_for_ic_intervention(
    policies, frozen, sweep, intervention_queue, cohort
):
    on_step(idle=4 * DAY, cohort=cohort)

    sweep()

    assert not QueueAssignment.objects.filter(queue=intervention_queue).exists()
    assert len(nudges()) == 1


def test_a_merchant_already_waiting_for_an_ic_is_not_queued_twice(
    policies, frozen, sweep, intervention_queue
):
    progress = on_step(step=3, idle=4 * DAY)
    sweep()
    # The merchant moves on to step 4 and stalls there too, the first item still open.
    MerchantStepProgressFactory(
        merchant=progress.merchant,
        step_id=4,
        status=StepStatus.IN_PROGRESS,
        started_at=NOW - 5 * DAY,
        last_activity_at=NOW - 5 * DAY,
    )
    step_complete(progress=progress)
    progress.merchant.refresh_from_db()
    assert progress.merchant.current_step == 4

    sweep()

    [item] = QueueAssignment.objects.filter(queue=intervention_queue)
    assert alerts(progress, step_id=4).get().queue_assignment == item


def test_stall_follow_up_of_a_closed_alert_does_nothing(policies, frozen):
    progress = on_step(idle=4 * DAY)
    alert = StallAlertFactory(
        merchant=progress.merchant, step=progress.step, alert_status=AlertStatus.RESOLVED
    )

    assert follow_ups.stall_follow_up(alert_id=alert.pk) is None
    assert not QueueAssignment.objects.exists()
    assert nudges() == []


# --- severity -----------------------------------------------------------------------------------

SEVERITY_TABLE = [
    (Cohort.SELF_SERVE, 3, Severity.LOW),
    (Cohort.SELF_SERVE, 5, Severity.LOW),
    (Cohort.SELF_SERVE, 6, Severity.MEDIUM),
    (Cohort.SELF_SERVE, 7, Severity.HIGH),
    (Cohort.SELF_SERVE, 9, Severity.HIGH),
    (Cohort.SELF_SERVE, 10, Severity.CRITICAL),
    (Cohort.ASSISTED, 2, Severity.LOW),
    (Cohort.ASSISTED, 3, Severity.LOW),
    (Cohort.ASSISTED, 4, Severity.MEDIUM),
    (Cohort.ASSISTED, 6, Severity.MEDIUM),
    (Cohort.ASSISTED, 7, Severity.HIGH),
    (Cohort.ASSISTED, 10, Severity.CRITICAL),
    (Cohort.MANAGED, 1, Severity.MEDIUM),
    (Cohort.MANAGED, 2, Severity.HIGH),
    (Cohort.MANAGED, 6, Severity.HIGH),
    (Cohort.MANAGED, 7, Severity.CRITICAL),
    (Cohort.MANAGED, 13, Severity.CRITICAL),
]


@pytest.mark.parametrize(("cohort", "days", "severity"), SEVERITY_TABLE)
def test_a_new_stall_gets_its_severity_from_days_and_cohort(
    policies, frozen, sweep, cohort, days, severity
):
    progress = on_step(cohort=cohort, idle=days * DAY)

    sweep()

    assert alerts(progress, alert_type=AlertType.STALLED).get().severity == severity


@pytest.mark.parametrize(
    ("cohort", "days", "severity"),
    [
        (Cohort.SELF_SERVE, 0, Severity.MEDIUM),
        (Cohort.SELF_SERVE, 7, Severity.HIGH),
        (Cohort.MANAGED, 0, Severity.HIGH),
    ],
)
def test_repeated_errors_are_at_least_medium(policies, cohort, days, severity):
    assert (
        severity_for(
            days=days, policy=policies[cohort], alert_type=AlertType.ERROR_THRESHOLD
        )
        == severity
    )


def test_severity_rises_as_the_days_add_up(policies, frozen, sweep):
    progress = on_step(idle=3 * DAY)
    sweep()
    alert = alerts(progress).get()
    assert alert.severity == Severity.LOW

    frozen.shift(4 * DAY)
    result = sweep()

    alert.refresh_from_db()
    assert result.escalated == 1
    assert alert.severity == Severity.HIGH
    assert alert.days_stalled == 3  # the days counted when it was raised
    assert alert.history.first().history_change_reason == (
        "stall_sweep: severity low to high (7 days without activity)"
    )
    assert sweep().escalated == 0


def test_the_sweep_never_lowers_a_severity_raised_by_hand(policies, frozen, sweep):
    progress = on_step(idle=3 * DAY)
    StallAlertFactory(
        merchant=progress.merchant,
        step=progress.step,
        severity=Severity.CRITICAL,
        last_activity_at=NOW - 3 * DAY,
    )

    assert sweep().escalated == 0
    assert alerts(progress).get().severity == Severity.CRITICAL


# --- resolving itself ---------------------------------------------------------------------------


def test_completing_the_step_resolves_its_alerts_at_once(
    policies, frozen, sweep, django_capture_on_commit_callbacks
):
    progress = on_step(idle=4 * DAY, errors=3)
    sweep()
    assert alerts(progress, alert_status=AlertStatus.OPEN).count() == 2

    with django_capture_on_commit_callbacks(execute=True):
        step_complete(progress=progress)

    for alert in alerts(progress):
        assert alert.alert_status == AlertStatus.RESOLVED
        assert alert.resolution_action == "Resolved automatically: step 3 was completed."
        assert alert.history.first().history_user is None


def test_the_sweep_resolves_alerts_of_a_step_left_behind(policies, frozen, sweep):
    progress = on_step(idle=4 * DAY)
    sweep()
    step_complete(progress=progress)  # its handler does not run: the sweep catches it

    result = sweep()

    assert result.resolved == 1
    alert = alerts(progress).get()
    assert alert.alert_status == AlertStatus.RESOLVED
    assert alert.resolution_action == "Resolved automatically: step 3 was completed."


def test_an_alert_resolves_when_the_current_step_changes(policies, frozen, sweep):
    progress = on_step(step=3, idle=4 * DAY)
    sweep()
    merchant = progress.merchant
    merchant.current_step = 4
    merchant.save()

    sweep()

    alert = alerts(progress).get()
    assert alert.resolution_action == "Resolved automatically: the merchant moved on to step 4."


def test_activity_again_resolves_the_stall_but_not_the_repeated_errors(
    policies, frozen, sweep
):
    progress = on_step(idle=4 * DAY, errors=3)
    sweep()
    progress.last_activity_at = NOW
    progress.save()

    assert sweep().resolved == 1

    stalled = alerts(progress, alert_type=AlertType.STALLED).get()
    assert stalled.alert_status == AlertStatus.RESOLVED
    assert stalled.resolution_action == (
        "Resolved automatically: the merchant was active again on step 3."
    )
    errors = alerts(progress, alert_type=AlertType.ERROR_THRESHOLD).get()
    assert errors.alert_status == AlertStatus.OPEN


def test_a_claimed_alert_resolves_itself_too(policies, frozen, sweep):
    progress = on_step(idle=4 * DAY)
    sweep()
    ic = IcUserFactory()
    alert_claim(alert=alerts(progress).get(), agent=ic, actor=ic)
    step_complete(progress=progress)

    sweep()

    assert alerts(progress).get().alert_status == AlertStatus.RESOLVED


def test_alerts_the_sweep_does_not_raise_are_left_alone(policies, frozen, sweep):
    progress = on_step(step=5, idle=4 * DAY)
    sla = StallAlertFactory(
        merchant=progress.merchant, step=None, alert_type=AlertType.SLA_BREACH
    )
    progress.merchant.current_step = 6
    progress.merchant.save()

    sweep()

    sla.refresh_from_db()
    assert sla.alert_status == AlertStatus.OPEN


# --- the scheduled task -------------------------------------------------------------------------


def test_the_scheduled_task_runs_the_sweep_and_reports_what_it_did(policies, frozen):
    on_step(idle=4 * DAY)

    assert task_exists("apps.progress.tasks.stall_sweep")
    assert tasks.stall_sweep()["stalled"] == 1
