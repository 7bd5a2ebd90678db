"""The ops console shows each kind of background work a sweep recovers, with how many items
are stuck and for how long, and a "retry now" (POST, ops only) that runs the sweep at once
and is recorded with who asked."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.core import recovery as core_recovery
from apps.core.models import RecoveryRun
from apps.integrations import recovery
from apps.integrations.models import WebhookEvent, WebhookStatus
from apps.integrations.views import STUCK_RETRIED
from tests.accounts.factories import (
    AeUserFactory,
    ComplianceUserFactory,
    IcUserFactory,
    MerchantUserFactory,
    OpsUserFactory,
    UserFactory,
)
from tests.integrations.factories import WebhookEventFactory

pytestmark = pytest.mark.django_db

CONSOLE = reverse("integrations:ops_console")
KINDS = ("webhooks", "syncs-pending", "outbox-events", "auto-assign", "sagas")


def retry_url(kind: str = recovery.WEBHOOKS) -> str:
    return reverse("integrations:stuck_retry", args=[kind])


def stuck_webhooks(count: int, minutes_ago: int = 20) -> list[WebhookEvent]:
    return [
        WebhookEventFactory(
            event_type="test.nobody_handles_it",
            received_at=timezone.now() - timedelta(minutes=minutes_ago + n),
        )
        for n in range(count)
    ]


@pytest.fixture
def broker_away(monkeypatch):
    """The sweep's tasks go nowhere: what was queued is recorded, nothing runs."""
    queued = []
    monkeypatch.setattr(core_recovery, "async_task", lambda *a, **kw: queued.append(a))
    return queued


def test_every_kind_of_background_work_is_registered_with_its_periodic_job():
    from apps.core.jobs import PERIODIC_JOBS_BY_NAME

    kinds = {kind.key: kind for kind in core_recovery.stuck_kinds()}
    assert set(KINDS) <= set(kinds)
    for kind in kinds.values():
        assert kind.job in PERIODIC_JOBS_BY_NAME, kind


def test_the_console_shows_each_kind_with_its_count_and_oldest_age(client, ops_user):
    stuck_webhooks(3, minutes_ago=40)
    client.force_login(ops_user)

    page = client.get(CONSOLE).text

    for key in KINDS:
        assert f'id="stuck-{key}"' in page
    assert 'id="stuck-webhooks" data-count="3"' in page
    assert "Webhooks received but not processed" in page
    assert ">42 min ago</time>" in page  # the oldest, received 42 minutes ago
    assert f'action="{retry_url()}"' in page
    # The stuck webhooks are listed one by one too.
    assert page.count("<mark>Received</mark>") == 3


@pytest.mark.parametrize(
    ("make_user", "expected"),
    [
        (MerchantUserFactory, 403),
        (AeUserFactory, 403),
        (IcUserFactory, 403),
        (ComplianceUserFactory, 403),
        (UserFactory, 403),
        (OpsUserFactory, 302),
        (lambda: UserFactory(is_superuser=True, is_staff=True), 302),
    ],
    ids=["merchant", "ae", "ic", "compliance", "no-role", "ops", "superuser"],
)
def test_only_ops_may_retry_stuck_work(client, broker_away, make_user, expected):
    stuck_webhooks(2)
    client.force_login(make_user())

    response = client.post(retry_url())

    assert response.status_code == expected
    ran = RecoveryRun.objects.filter(kind=recovery.WEBHOOKS).count()
    assert ran == (1 if expected == 302 else 0)
    assert len(broker_away) == (2 if expected == 302 else 0)


def test_an_anonymous_retry_is_sent_to_sign_in_and_runs_nothing(client, broker_away):
    stuck_webhooks(1)
    response = client.post(retry_url())
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))
    assert broker_away == [] and not RecoveryRun.objects.exists()


def test_retry_now_is_a_post(client, ops_user, broker_away):
    stuck_webhooks(1)
    client.force_login(ops_user)
    assert client.get(retry_url()).status_code == 405
    assert broker_away == []


def test_retry_now_queues_the_stuck_work_at_once_and_records_who_asked(
    client, ops_user, broker_away
):
    webhooks = stuck_webhooks(2)
    client.force_login(ops_user)
    assert recovery.webhooks_sweep() == 2  # the schedule queued them a moment ago...
    broker_away.clear()

    response = client.post(retry_url(), follow=True)  # ...ops ask again: claims ignored

    assert response.status_code == 200
    assert {args[1] for args in broker_away} == {str(w.pk) for w in webhooks}
    run = RecoveryRun.objects.filter(requested_by=ops_user).get()
    assert (run.kind, run.stuck, run.recovered) == (recovery.WEBHOOKS, 2, 2)
    page = response.content.decode()
    assert STUCK_RETRIED.format(label="Webhooks received but not processed", count=2) in page
    assert ops_user.email in page  # the last sweep, by whom


@pytest.mark.parametrize(
    "kind",
    ["nope", "<script>alert(1)</script>", "web%00hooks", "a" * 300, "webhooks%2F..%2F"],
)
def test_an_unknown_or_hostile_kind_is_refused_and_runs_nothing(client, ops_user, kind):
    client.force_login(ops_user)
    url = reverse("integrations:ops_console") + f"stuck/{kind}/retry/"

    response = client.post(url)

    assert response.status_code == (400 if "%00" in kind else 404)  # a NUL: bad request
    assert not RecoveryRun.objects.exists()


def test_the_console_costs_the_same_queries_whatever_is_stuck(client, ops_user):
    client.force_login(ops_user)

    def queries():
        with CaptureQueriesContext(connection) as context:
            response = client.get(CONSOLE)
        assert response.status_code == 200
        return len(context.captured_queries)

    stuck_webhooks(2)
    RecoveryRun.objects.create(kind=recovery.WEBHOOKS, requested_by=ops_user)
    few = queries()
    stuck_webhooks(40, minutes_ago=60)
    for _ in range(5):
        RecoveryRun.objects.create(kind=recovery.SYNCS, requested_by=ops_user)
    assert queries() == few


def test_a_webhook_still_waiting_is_listed_but_not_one_just_received(client, ops_user):
    (waiting,) = stuck_webhooks(1)
    fresh = WebhookEventFactory(status=WebhookStatus.RECEIVED)
    client.force_login(ops_user)

    page = client.get(CONSOLE).text

    assert f'id="webhook-{waiting.pk}"' in page
    assert f'id="webhook-{fresh.pk}"' not in page
