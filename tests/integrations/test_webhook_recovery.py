"""A webhook whose processing task was lost (ack_failures drops a failed task) does not stay
"received" for ever: the webhook sweep queues it again, once per claim interval, and a
provider's re-send of it is processed instead of being answered "duplicate"."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.models import RecoveryClaim, RecoveryRun
from apps.integrations import inbox, recovery, tasks
from apps.integrations.models import SyncStatus, WebhookEvent, WebhookStatus
from tests.integrations.factories import (
    ExternalSystemSyncFactory,
    IntegrationEventFactory,
    WebhookEventFactory,
)
from tests.integrations.test_webhook_api import event, post

pytestmark = pytest.mark.django_db

PROVIDER = "payments"
EVENT_TYPE = "test.webhook_api"


@pytest.fixture
def handled():
    calls = []

    @inbox.handles_webhook(PROVIDER, EVENT_TYPE)
    def record(webhook):
        calls.append(webhook.external_id)

    yield calls
    inbox._webhook_handlers.pop((PROVIDER, EVENT_TYPE), None)


def received(minutes_ago: float, **extra) -> WebhookEvent:
    """A webhook stored `minutes_ago` whose processing task never ran."""
    return WebhookEventFactory(
        event_type=EVENT_TYPE,
        received_at=timezone.now() - timedelta(minutes=minutes_ago),
        **extra,
    )


@pytest.fixture
def broker_lost(monkeypatch):
    """Tasks the sweep queues are lost on the way (the broker swallows them)."""
    queued = []
    monkeypatch.setattr(
        "apps.core.recovery.async_task", lambda func, *args, **kw: queued.append((func, args))
    )
    return queued


def test_a_webhook_left_received_is_processed_by_the_sweep_exactly_once(handled):
    stuck = received(10)

    assert tasks.webhooks_sweep() == 1
    assert tasks.webhooks_sweep() == 0

    stuck.refresh_from_db()
    assert stuck.status == WebhookStatus.PROCESSED
    assert handled == [stuck.external_id]
    assert not RecoveryClaim.objects.exists()  # released once it moved
    run = RecoveryRun.objects.filter(kind=recovery.WEBHOOKS).order_by("ran_at").first()
    assert (run.stuck, run.recovered, run.requested_by) == (1, 1, None)


def test_a_webhook_merely_queued_is_left_to_its_task(handled):
    fresh = received(1)

    assert tasks.webhooks_sweep() == 0

    fresh.refresh_from_db()
    assert fresh.status == WebhookStatus.RECEIVED
    assert handled == []


def test_a_webhook_the_sweep_queued_is_not_queued_again_while_its_task_waits(broker_lost):
    stuck = received(10)

    assert recovery.webhooks_sweep() == 1
    assert recovery.webhooks_sweep() == 0  # its task may still be in the broker
    assert broker_lost == [(inbox.PROCESS_TASK, (str(stuck.pk),))]
    claim = RecoveryClaim.objects.get(object_id=stuck.pk)
    assert claim.attempts == 1

    # Due again after the claim interval: a second attempt, then twice as long to wait.
    RecoveryClaim.objects.filter(pk=claim.pk).update(next_attempt_at=timezone.now())
    assert recovery.webhooks_sweep() == 1
    claim.refresh_from_db()
    assert claim.attempts == 2
    assert claim.next_attempt_at - claim.claimed_at == 2 * recovery.WEBHOOK_STUCK_AFTER

    # An ops "retry now" does not wait for the claim.
    assert recovery.webhooks_sweep(force=True) == 1


def test_failed_and_processed_webhooks_are_not_swept(handled):
    received(10, status=WebhookStatus.FAILED, error="bug")
    received(10, status=WebhookStatus.PROCESSED)
    received(10, status=WebhookStatus.REJECTED, signature_valid=False)

    assert recovery.webhooks_stuck().count == 0
    assert recovery.webhooks_sweep() == 0
    assert handled == []


def test_the_stuck_figures_count_and_date_the_oldest():
    oldest = received(30)
    received(10)
    received(1)

    stuck = recovery.webhooks_stuck()

    assert stuck.count == 2
    assert stuck.oldest == oldest.received_at


def test_a_provider_resending_an_unprocessed_webhook_gets_it_processed(
    client, handled, django_capture_on_commit_callbacks, monkeypatch
):
    # The first delivery is stored but its task is lost.
    monkeypatch.setattr("apps.integrations.inbox.async_task", lambda *args, **kw: None)
    with django_capture_on_commit_callbacks(execute=True):
        first = post(client, event("evt_lost"))
    assert first.status_code == 202
    assert WebhookEvent.objects.get().status == WebhookStatus.RECEIVED
    monkeypatch.undo()

    with django_capture_on_commit_callbacks(execute=True):
        again = post(client, event("evt_lost"))

    assert again.status_code == 202
    assert again.json() == {"status": "accepted", "id": first.json()["id"]}
    assert WebhookEvent.objects.get().status == WebhookStatus.PROCESSED
    assert handled == ["evt_lost"]

    # Once processed, a re-send is a duplicate, ignored.
    with django_capture_on_commit_callbacks(execute=True):
        third = post(client, event("evt_lost"))
    assert third.status_code == 200
    assert third.json()["status"] == "duplicate"
    assert handled == ["evt_lost"]


# --- Syncs an ops user sent again -------------------------------------------------------------


def test_a_sync_left_pending_after_an_ops_retry_is_pushed_again(broker_lost):
    old = timezone.now() - timedelta(minutes=10)
    stuck = ExternalSystemSyncFactory(
        sync_status=SyncStatus.PENDING, last_event=IntegrationEventFactory()
    )
    type(stuck).objects.filter(pk=stuck.pk).update(updated_at=old)
    fresh = ExternalSystemSyncFactory(
        sync_status=SyncStatus.PENDING, last_event=IntegrationEventFactory()
    )
    ExternalSystemSyncFactory(sync_status=SyncStatus.PENDING)  # nothing to push

    assert recovery.syncs_stuck().count == 1
    assert recovery.syncs_sweep() == 1
    assert recovery.syncs_sweep() == 0

    assert broker_lost == [(recovery.PUSH_TASK, (str(stuck.pk),))]
    assert str(fresh.pk) not in str(broker_lost)
