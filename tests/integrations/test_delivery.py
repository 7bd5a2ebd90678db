"""sync_push: one entity's changes to one system, exactly once in effect, with backoff."""

import random
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from apps.integrations import delivery
from apps.integrations.models import ExternalSystemSync, SyncStatus
from apps.integrations.providers.base import PermanentError, RetryableError
from tests.integrations.factories import IntegrationEventFactory
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db

SYSTEM = "test_system"


class FakeRemote:
    """A remote system that fails as told and remembers the keys it has acted on."""

    def __init__(self):
        self.failures: list[Exception] = []
        self.effects: dict[str, str] = {}
        self.calls = 0

    def push(self, sync, event):
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        key = str(event.pk)
        return self.effects.setdefault(key, f"remote_{len(self.effects) + 1}")


@pytest.fixture
def remote():
    fake = FakeRemote()
    delivery._pushers[("lead", SYSTEM)] = fake.push
    yield fake
    delivery._pushers.pop(("lead", SYSTEM), None)


def _push(lead, event):
    return delivery.sync_push(entity_type="lead", entity_id=lead.pk, system=SYSTEM, event=event)


def _event(lead):
    return IntegrationEventFactory(aggregate_type="lead", aggregate_id=lead.pk)


def test_a_push_marks_the_sync_synced_with_the_remote_id(remote):
    lead = LeadFactory()
    sync = _push(lead, _event(lead))
    assert (sync.sync_status, sync.external_entity_id) == (SyncStatus.SYNCED, "remote_1")
    assert sync.history.first().history_change_reason == "sync_succeed"


def test_the_same_event_pushed_twice_acts_once(remote):
    lead = LeadFactory()
    event = _event(lead)
    _push(lead, event)
    _push(lead, event)
    assert remote.calls == 1
    assert ExternalSystemSync.objects.count() == 1


def test_provider_down_then_up_delivers_once_with_the_same_key(remote):
    lead = LeadFactory()
    event = _event(lead)
    remote.failures = [RetryableError("503"), RetryableError("503")]
    sync = _push(lead, event)
    assert sync.sync_status == SyncStatus.FAILED
    assert sync.next_retry_at > timezone.now()
    with time_machine.travel(sync.next_retry_at + timedelta(seconds=1)):
        assert delivery.syncs_retry_due() == 1
    sync.refresh_from_db()
    assert (sync.sync_status, sync.retry_count) == (SyncStatus.FAILED, 2)
    with time_machine.travel(sync.next_retry_at + timedelta(seconds=1)):
        delivery.syncs_retry_due()
    sync.refresh_from_db()
    assert sync.sync_status == SyncStatus.SYNCED
    assert sync.retry_count == 0
    assert list(remote.effects) == [str(event.pk)]  # one remote object, keyed by the event


def test_the_sweep_leaves_syncs_whose_backoff_has_not_elapsed(remote):
    lead = LeadFactory()
    remote.failures = [RetryableError("timeout")]
    _push(lead, _event(lead))
    assert delivery.syncs_retry_due() == 0
    assert remote.calls == 1


def test_after_max_retries_a_sync_stays_failed_without_a_next_retry(remote):
    lead = LeadFactory()
    remote.failures = [RetryableError("503")] * 3
    sync = _push(lead, _event(lead))
    for _ in range(2):
        with time_machine.travel(sync.next_retry_at + timedelta(seconds=1)):
            delivery.syncs_retry_due()
        sync.refresh_from_db()
    assert sync.sync_status == SyncStatus.FAILED
    assert sync.retry_count == sync.max_retries == 3
    assert sync.next_retry_at is None
    assert delivery.syncs_retry_due(now=timezone.now() + timedelta(days=1)) == 0


def test_a_permanent_error_is_failed_at_once_and_not_retried(remote):
    lead = LeadFactory()
    remote.failures = [PermanentError("422: invalid email")]
    sync = _push(lead, _event(lead))
    assert sync.sync_status == SyncStatus.FAILED
    assert sync.retry_count == sync.max_retries
    assert sync.next_retry_at is None
    assert "invalid email (permanent)" in sync.last_error


def test_a_new_change_after_a_sync_pushes_again(remote):
    lead = LeadFactory()
    _push(lead, _event(lead))
    sync = _push(lead, _event(lead))
    assert sync.sync_status == SyncStatus.SYNCED
    assert remote.calls == 2


def test_a_conflicting_sync_waits_for_a_person(remote):
    lead = LeadFactory()

    def clash(sync, event):
        raise delivery.SyncConflict(["Phone"], "Phone changed on both sides")

    delivery._pushers[("lead", SYSTEM)] = clash
    sync = _push(lead, _event(lead))
    assert (sync.sync_status, sync.conflict_fields) == (SyncStatus.CONFLICT, ["Phone"])
    delivery._pushers[("lead", SYSTEM)] = remote.push
    assert _push(lead, _event(lead)).sync_status == SyncStatus.CONFLICT
    assert remote.calls == 0


def test_retry_now_by_ops_pushes_a_failed_sync_immediately(
    remote, ops_user, django_capture_on_commit_callbacks
):
    lead = LeadFactory()
    remote.failures = [PermanentError("400")]
    sync = _push(lead, _event(lead))
    with django_capture_on_commit_callbacks(execute=True):
        delivery.sync_retry_now(sync=sync, actor=ops_user)
    sync.refresh_from_db()
    assert sync.sync_status == SyncStatus.SYNCED
    assert sync.history.filter(history_user=ops_user).exists()


@pytest.mark.parametrize(
    ("retry", "low", "high"), [(1, 15, 45), (2, 30, 90), (4, 120, 360), (20, 1800, 5400)]
)
def test_backoff_doubles_with_jitter_and_is_capped(retry, low, high):
    delays = [delivery.backoff_delay(retry, rng=random.Random(seed)) for seed in range(50)]
    assert all(timedelta(seconds=low) <= d < timedelta(seconds=high) for d in delays)
    assert len(set(delays)) > 1  # jitter spreads retries out
