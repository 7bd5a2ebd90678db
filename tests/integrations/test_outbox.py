"""The outbox backbone: events are recorded with the change, delivered after commit, never
lost when delivery fails, and never delivered twice."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.test import TestCase
from django.utils import timezone

from apps.integrations import outbox, registry, services
from apps.integrations.models import IntegrationEvent
from apps.leads.services import lead_mark_contacted
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def received():
    """A handler for the test event type that records what it was given."""
    calls = []

    def handler(event):
        calls.append(event.pk)

    registry._handlers["test.happened"].append(handler)
    yield calls
    registry._handlers.pop("test.happened", None)


def _emit():
    lead = LeadFactory()
    with transaction.atomic():
        return outbox.event_emit(event_type="test.happened", aggregate=lead)


def test_an_event_is_delivered_once_after_commit(received):
    event = _emit()
    event.refresh_from_db()
    assert event.published is True
    assert received == [event.pk]


def test_a_rolled_back_change_records_and_delivers_nothing(received):
    lead = LeadFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        lead_mark_contacted(lead=lead, actor=None)
        raise RuntimeError("the request failed after the transition")
    lead.refresh_from_db()
    assert lead.status == "new"
    assert not IntegrationEvent.objects.filter(aggregate_id=lead.pk).exists()


def test_delivering_an_event_twice_runs_its_handlers_once(received):
    event = _emit()
    services.event_deliver(event_id=event.pk)
    assert received == [event.pk]


def test_a_failing_handler_keeps_the_event_for_a_retry_after_its_backoff(received):
    def broken(event):
        raise ConnectionError("CRM down")

    registry._handlers["test.happened"].insert(0, broken)
    event = _emit()
    event.refresh_from_db()
    assert event.published is False
    assert event.publish_attempts == 1
    assert "CRM down" in event.last_publish_error
    assert event.available_at > timezone.now()  # not taken again before its backoff ends
    assert services.events_sweep_unpublished() == 0

    registry._handlers["test.happened"].remove(broken)
    IntegrationEvent.objects.filter(pk=event.pk).update(
        occurred_at=timezone.now() - timedelta(minutes=5),
        available_at=timezone.now() - timedelta(seconds=1),
    )
    assert services.events_sweep_unpublished() == 1
    event.refresh_from_db()
    assert event.published is True
    assert received == [event.pk]


def test_the_sweep_leaves_recent_and_published_events_alone(received):
    published = _emit()
    recent = IntegrationEvent.objects.create(
        event_type="test.happened", aggregate_type="lead", aggregate_id=published.aggregate_id
    )
    assert services.events_sweep_unpublished() == 0
    recent.refresh_from_db()
    assert recent.published is False


def test_retention_purges_only_old_published_events():
    old = IntegrationEvent.objects.create(
        event_type="x",
        aggregate_type="lead",
        aggregate_id=LeadFactory().pk,
        published=True,
        occurred_at=timezone.now() - timedelta(days=91),
    )
    old_unpublished = IntegrationEvent.objects.create(
        event_type="x",
        aggregate_type="lead",
        aggregate_id=old.aggregate_id,
        occurred_at=timezone.now() - timedelta(days=91),
    )
    assert services.events_purge_published() == 1
    assert not IntegrationEvent.objects.filter(pk=old.pk).exists()
    assert IntegrationEvent.objects.filter(pk=old_unpublished.pk).exists()


def test_a_committed_change_never_fails_because_its_enqueue_did(monkeypatch, caplog):
    """The broker (or the database, for the ORM broker) is away at the moment of the enqueue:
    the change stays committed, the caller is not failed, the sweep delivers it later."""
    from django.db import OperationalError

    def broker_away(event_id):
        raise OperationalError("connection refused")

    monkeypatch.setattr(outbox, "enqueue_delivery", broker_away)
    with TestCase.captureOnCommitCallbacks(execute=True):
        lead = LeadFactory()
        with transaction.atomic():
            event = outbox.event_emit(event_type="test.happened", aggregate=lead)

    event.refresh_from_db()
    assert event.published is False  # waiting for the sweep, not lost
    assert "connection refused" in caplog.text
