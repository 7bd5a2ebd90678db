"""apps.core.db: the sweeps' bulk inserts of thousands of rows as dicts (row_values) give the
same rows, defaults and history as model instances would."""

import uuid
from datetime import UTC, datetime

import pytest

from apps.core.db import history_insert, history_rows, row_values, rows_insert
from apps.integrations.models import IntegrationEvent
from apps.integrations.outbox import event_values
from apps.progress.models import AlertStatus, AlertType, StallAlert
from tests.merchants.factories import MerchantFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_a_row_gets_every_default_a_new_instance_would():
    row = row_values(StallAlert, now=NOW, alert_type=AlertType.STALLED)
    other = row_values(StallAlert, now=NOW, alert_type=AlertType.STALLED)
    instance = StallAlert(alert_type=AlertType.STALLED)

    assert isinstance(row["id"], uuid.UUID) and row["id"] != other["id"]  # called per row
    assert row["updated_at"] == NOW  # auto_now
    assert isinstance(row["created_at"], datetime)  # its default, timezone.now
    assert row["alert_status"] == instance.alert_status == AlertStatus.OPEN
    assert row["severity"] == instance.severity
    assert row["notes"] == [] and row["notes"] is not other["notes"]  # a fresh list each
    assert row["resolution_action"] == "" and row["assigned_to_id"] is None


def test_dict_rows_and_their_history_are_stored_as_given():
    merchant = MerchantFactory()
    rows = [
        row_values(
            StallAlert,
            now=NOW,
            merchant_id=merchant.pk,
            alert_type=AlertType.STALLED,
            days_stalled=days,
            _change_reason=f"stall_sweep: {days} days",
        )
        for days in (3, 4)
    ]

    rows_insert(StallAlert, rows)
    rows_insert(
        StallAlert.history.model,
        history_rows(StallAlert, rows, history_type="+", when=NOW),
    )

    stored = {alert.days_stalled: alert for alert in StallAlert.objects.all()}
    assert set(stored) == {3, 4}
    assert stored[3].updated_at == NOW and stored[3].alert_status == AlertStatus.OPEN
    history = stored[4].history.get()
    assert history.history_type == "+"
    assert history.history_change_reason == "stall_sweep: 4 days"
    assert history.history_date == NOW and history.history_user is None


def test_events_as_dicts_are_outbox_rows_waiting_to_be_published():
    aggregate = uuid.uuid4()
    event = event_values(
        event_type="alert.raised",
        aggregate_type="stallalert",
        aggregate_id=aggregate,
        payload={"step": 3},
    )

    rows_insert(IntegrationEvent, [event])

    stored = IntegrationEvent.objects.get(pk=event["id"])
    assert stored.event_payload == {"step": 3}
    assert stored.partition_key == str(aggregate)
    assert stored.published is False and stored.available_at == stored.occurred_at


def test_history_insert_copies_each_row_as_stored_with_who_and_why(ops_user):
    merchant = MerchantFactory()
    rows = [
        row_values(StallAlert, now=NOW, merchant_id=merchant.pk, alert_type=AlertType.STALLED),
        row_values(
            StallAlert,
            now=NOW,
            merchant_id=merchant.pk,
            alert_type=AlertType.ABANDONED,
            _change_reason="stall_sweep: abandoned",
            _history_user=ops_user,
        ),
    ]
    rows_insert(StallAlert, rows)
    StallAlert.objects.filter(alert_type=AlertType.STALLED).update(severity="critical")

    history_insert(StallAlert, rows, history_type="~", when=NOW, default_reason="stall_sweep")

    stalled, abandoned = (
        StallAlert.history.filter(alert_type=kind).get()
        for kind in (AlertType.STALLED, AlertType.ABANDONED)
    )
    assert stalled.severity == "critical"  # the value stored, not the dict's
    assert (stalled.history_change_reason, stalled.history_user) == ("stall_sweep", None)
    assert (abandoned.history_change_reason, abandoned.history_user) == (
        "stall_sweep: abandoned",
        ops_user,
    )
    assert {row.history_type for row in (stalled, abandoned)} == {"~"}
    assert stalled.history_date == NOW and stalled.merchant_id == merchant.pk
