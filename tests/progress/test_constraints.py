"""The database refuses duplicate progress rows and duplicate open alerts (rules 4, 7, 8)."""

import pytest
from django.db import IntegrityError, transaction

from apps.progress.models import OPEN_ALERT_STATUSES, AlertStatus, AlertType, StallAlert
from tests.progress.factories import (
    JourneyStepFactory,
    MerchantStepProgressFactory,
    StallAlertFactory,
    StallPolicyFactory,
)
from tests.routing.factories import QueueAssignmentFactory

pytestmark = pytest.mark.django_db


def test_second_progress_row_for_the_same_merchant_and_step_is_refused():
    first = MerchantStepProgressFactory()

    with pytest.raises(IntegrityError, match="progress_one_per_step"), transaction.atomic():
        MerchantStepProgressFactory(merchant=first.merchant, step=first.step)


def test_progress_rows_for_other_steps_or_merchants_are_accepted():
    first = MerchantStepProgressFactory(step=JourneyStepFactory(id=1))

    MerchantStepProgressFactory(merchant=first.merchant, step=JourneyStepFactory(id=2))
    MerchantStepProgressFactory(step=first.step)

    assert first.merchant.step_progress.count() == 2
    assert first.step.progress.count() == 2


@pytest.mark.parametrize("second_status", OPEN_ALERT_STATUSES)
def test_second_open_alert_for_the_same_merchant_step_and_type_is_refused(second_status):
    first = StallAlertFactory()

    with (
        pytest.raises(IntegrityError, match="alert_one_open_per_merchant_step_type"),
        transaction.atomic(),
    ):
        StallAlertFactory(merchant=first.merchant, step=first.step, alert_status=second_status)


@pytest.mark.parametrize("closed_status", [AlertStatus.RESOLVED, AlertStatus.DISMISSED])
def test_new_alert_is_accepted_once_the_first_is_closed(closed_status):
    first = StallAlertFactory(alert_status=closed_status)

    StallAlertFactory(merchant=first.merchant, step=first.step)

    assert StallAlert.objects.filter(merchant=first.merchant, step=first.step).count() == 2


def test_open_alerts_of_different_types_for_one_step_are_accepted():
    first = StallAlertFactory(alert_type=AlertType.STALLED)

    StallAlertFactory(
        merchant=first.merchant, step=first.step, alert_type=AlertType.ERROR_THRESHOLD
    )

    assert first.merchant.alerts.count() == 2


def test_second_sla_breach_alert_for_one_assignment_is_refused():
    assignment = QueueAssignmentFactory()
    StallAlertFactory(
        merchant=None,
        lead=assignment.lead,
        step=None,
        queue_assignment=assignment,
        alert_type=AlertType.SLA_BREACH,
        alert_status=AlertStatus.RESOLVED,
    )

    with (
        pytest.raises(IntegrityError, match="alert_one_sla_breach_per_assignment"),
        transaction.atomic(),
    ):
        StallAlertFactory(
            merchant=None,
            lead=assignment.lead,
            step=None,
            queue_assignment=assignment,
            alert_type=AlertType.SLA_BREACH,
        )


def test_sla_breach_alerts_for_two_assignments_are_accepted():
    for assignment in QueueAssignmentFactory.create_batch(2):
        StallAlertFactory(
            merchant=None,
            lead=assignment.lead,
            step=None,
            queue_assignment=assignment,
            alert_type=AlertType.SLA_BREACH,
        )

    assert StallAlert.objects.filter(alert_type=AlertType.SLA_BREACH).count() == 2


def test_alert_without_merchant_or_lead_is_refused():
    with pytest.raises(IntegrityError, match="alert_has_subject"), transaction.atomic():
        StallAlertFactory(merchant=None, lead=None, step=None)


@pytest.mark.parametrize(
    ("stalled", "abandoned", "lost"),
    [(14, 14, 30), (15, 14, 30), (3, 31, 30)],
    ids=["stalled_equals_abandoned", "stalled_after_abandoned", "abandoned_after_lost"],
)
def test_stall_policy_with_thresholds_out_of_order_is_refused(stalled, abandoned, lost):
    with (
        pytest.raises(IntegrityError, match="stallpolicy_thresholds_ordered"),
        transaction.atomic(),
    ):
        StallPolicyFactory(
            stalled_after_days=stalled, abandoned_after_days=abandoned, lost_after_days=lost
        )


@pytest.mark.parametrize(("stalled", "abandoned", "lost"), [(3, 14, 30), (1, 30, 30)])
def test_stall_policy_with_ordered_thresholds_is_accepted(stalled, abandoned, lost):
    policy = StallPolicyFactory(
        stalled_after_days=stalled, abandoned_after_days=abandoned, lost_after_days=lost
    )

    policy.refresh_from_db()
    assert policy.stalled_after_days == stalled
