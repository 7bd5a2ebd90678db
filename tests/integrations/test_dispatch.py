"""The outbox dispatcher: batches claimed with SKIP LOCKED by several workers at once, each
event published exactly once, no deadlock between two workers delivering one lead's events,
no lock held across a remote call, and one dispatch request however large the backlog."""

import threading
from datetime import timedelta
from threading import Barrier

import pytest
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from apps.demo.reference import cohort_rules_seed, routing_queues_seed
from apps.integrations import dispatch, outbox, registry, services
from apps.integrations.models import (
    ExternalSystemSync,
    IntegrationEvent,
    SandboxLedgerEntry,
    SyncStatus,
)
from apps.integrations.providers import reset_providers
from apps.integrations.providers.sandbox import SandboxCrm
from apps.leads.models import Lead
from apps.leads.services import lead_capture
from apps.routing.models import QueueAssignment, RoutingQueue
from tests.leads.factories import LeadFactory, capture_data

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def calls():
    """A handler for the test event type that counts what it was given, thread-safely."""
    seen = []
    lock = threading.Lock()

    def handler(event):
        with lock:
            seen.append(event.pk)

    registry._handlers["test.happened"].append(handler)
    yield seen
    registry._handlers.pop("test.happened", None)


@pytest.fixture
def undispatched(monkeypatch):
    """Commits request no dispatch: the test runs the dispatchers itself."""
    monkeypatch.setattr(outbox, "enqueue_delivery", lambda event_id: None)


def _events(count: int) -> list[IntegrationEvent]:
    lead = LeadFactory()
    return IntegrationEvent.objects.bulk_create(
        IntegrationEvent(event_type="test.happened", aggregate_type="lead", aggregate_id=lead.pk)
        for _ in range(count)
    )


def _workers(count: int, work) -> list:
    """Run `work` in `count` threads started together (each its own connection)."""
    start = Barrier(count)
    errors = []

    def run():
        start.wait()
        try:
            work()
        except Exception as exc:  # reported by the test, not lost in the thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_two_dispatchers_publish_every_event_of_a_backlog_exactly_once(calls, monkeypatch):
    monkeypatch.setattr(dispatch, "BATCH_SIZE", 7)
    events = _events(120)

    errors = _workers(2, lambda: dispatch.events_dispatch(event_ids=None))

    assert errors == []
    assert sorted(calls) == sorted(event.pk for event in events)  # each handled once
    assert not IntegrationEvent.objects.filter(published=False).exists()
    assert set(IntegrationEvent.objects.values_list("publish_attempts", flat=True)) == {1}


def test_a_claimed_event_is_left_to_its_dispatcher_until_the_lease_ends(calls):
    (event,) = _events(1)
    assert dispatch.events_claim(limit=10) == [event]
    assert dispatch.events_claim(limit=10) == []  # a second worker finds nothing to take
    assert services.event_deliver(event_id=event.pk).published is False
    assert calls == []

    IntegrationEvent.objects.filter(pk=event.pk).update(
        available_at=timezone.now() - timedelta(seconds=1)
    )  # the first dispatcher died: its lease ended
    assert services.event_deliver(event_id=event.pk).published is True
    assert calls == [event.pk]


def test_a_deadlock_victim_is_delivered_again_at_once(calls):
    class DeadlockDetected(Exception):
        sqlstate = "40P01"

    attempts = []

    def victim_once(event):
        attempts.append(event.pk)
        if len(attempts) == 1:
            raise OperationalError("deadlock detected") from DeadlockDetected()

    registry._handlers["test.happened"].insert(0, victim_once)
    (event,) = _events(1)

    published = services.event_deliver(event_id=event.pk)

    assert published is not None and published.published
    assert attempts == [event.pk, event.pk]
    assert calls == [event.pk]
    event.refresh_from_db()
    assert event.publish_attempts == 1 and event.last_publish_error == ""


def test_a_backlog_asks_for_one_dispatch_not_one_task_per_event(monkeypatch):
    """Tasks queued by a burst of commits and by the sweep: one dispatch request, not one
    task per event (the sweep used to multiply a backlog)."""
    from django_q.conf import Conf

    queued = []
    monkeypatch.setattr(Conf, "SYNC", False)
    monkeypatch.setattr("django_q.tasks.async_task", lambda func, *a, **k: queued.append(func))
    dispatch.cache.delete(dispatch.REQUEST_KEY)
    lead = LeadFactory()
    for _ in range(30):
        with transaction.atomic():
            outbox.event_emit(event_type="test.happened", aggregate=lead)
    IntegrationEvent.objects.update(occurred_at=timezone.now() - timedelta(minutes=5))

    assert services.events_sweep_unpublished() == 30
    assert services.events_sweep_unpublished() == 30

    assert queued == [dispatch.DISPATCH_TASK]


def _assisted_leads(count: int) -> list[Lead]:
    cohort_rules_seed()
    routing_queues_seed()
    return [
        lead_capture(
            data=capture_data(
                email=f"owner{n}@bistro{n}.example",
                annual_revenue_estimate="3500000",
                number_of_locations=12,
            )
        )[0]
        for n in range(count)
    ]


def test_two_workers_delivering_one_leads_events_neither_deadlock_nor_double_a_crm_effect(
    undispatched, monkeypatch
):
    """Each lead's lead.created and lead.profiled go to two workers at once (batches of one):
    one pushes to the CRM and writes the CRM id back on the lead, the other routes the lead
    (lead row, then queue rows) and pushes too. Every event is published at its first attempt,
    one AE item and one synced CRM lead per lead."""
    monkeypatch.setattr(dispatch, "BATCH_SIZE", 1)
    reset_providers()
    leads = _assisted_leads(12)

    errors = _workers(2, lambda: dispatch.events_dispatch(event_ids=None))

    assert errors == []
    events = IntegrationEvent.objects.filter(aggregate_id__in=[lead.pk for lead in leads])
    assert not events.filter(published=False).exists()
    assert not events.exclude(last_publish_error="").exists()
    assert set(events.values_list("publish_attempts", flat=True)) == {1}
    for lead in leads:
        sync = ExternalSystemSync.objects.get(entity_id=lead.pk, external_system="crm")
        assert sync.sync_status == SyncStatus.SYNCED
        assert QueueAssignment.objects.filter(lead=lead, queue__queue_type="ae").count() == 1
        lead.refresh_from_db()
        assert lead.crm_lead_id == sync.external_entity_id
    pushed = SandboxLedgerEntry.objects.filter(system="crm", operation="upsert_lead")
    assert pushed.values("idempotency_key").distinct().count() == pushed.count()


def test_one_batch_pushes_a_lead_to_the_crm_once_for_all_its_events(undispatched):
    reset_providers()
    (lead,) = _assisted_leads(1)
    assert IntegrationEvent.objects.filter(aggregate_id=lead.pk).count() == 2

    dispatch.events_dispatch(event_ids=None)

    assert SandboxLedgerEntry.objects.filter(system="crm", operation="upsert_lead").count() == 1
    assert not IntegrationEvent.objects.filter(published=False).exists()


def test_no_lead_or_queue_row_is_locked_while_the_crm_is_called(undispatched, monkeypatch):
    """Routing locks the lead and every AE queue row: during each CRM call another
    connection must get those rows at once (NOWAIT), or all routing waits on the CRM."""
    reset_providers()
    leads = _assisted_leads(3)
    locked_during_call = []
    upsert = SandboxCrm.upsert_lead

    def probe():
        try:
            with transaction.atomic():
                list(RoutingQueue.objects.select_for_update(nowait=True))
                list(
                    Lead.objects.select_for_update(nowait=True).filter(
                        pk__in=[lead.pk for lead in leads]
                    )
                )
        except Exception as exc:  # a lock not granted at once: OperationalError
            locked_during_call.append(f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()

    def upsert_probed(self, **kwargs):
        other = threading.Thread(target=probe)
        other.start()
        other.join()
        return upsert(self, **kwargs)

    monkeypatch.setattr(SandboxCrm, "upsert_lead", upsert_probed)
    dispatch.events_dispatch(event_ids=None)

    assert SandboxLedgerEntry.objects.filter(operation="upsert_lead").count() == 3
    assert QueueAssignment.objects.filter(lead__in=leads).count() == 3
    assert locked_during_call == []
