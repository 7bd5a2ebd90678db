"""The production broker path: real `qcluster` processes on Q_BROKER=redis take the outbox's
dispatch requests from Redis and deliver captured leads' events, each published once.

Needs Redis on REDIS_URL (default redis://127.0.0.1:6379/0): `.ci/run` starts it when it is
down. Each run uses its own cluster name, so its queue and cache keys are its own."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.db import connection
from django_q.conf import Conf

from apps.demo.reference import cohort_rules_seed, routing_queues_seed
from apps.integrations.models import ExternalSystemSync, IntegrationEvent, SyncStatus
from apps.integrations.providers import reset_providers
from apps.leads.services import lead_capture
from apps.routing.models import QueueAssignment
from tests.leads.factories import capture_data

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
CLUSTERS = 2
LEADS = 10

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def redis_broker(monkeypatch):
    """This process queues its tasks in Redis under a cluster name of its own."""
    client = redis.Redis.from_url(REDIS_URL)
    client.ping()  # Redis must be running (.ci/run starts it): a loud error, not a skip
    name = f"test-{uuid.uuid4().hex[:10]}"
    monkeypatch.setattr(Conf, "SYNC", False)
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", REDIS_URL)
    monkeypatch.setattr(Conf, "CLUSTER_NAME", name)
    # The clusters' site name follows Q_CLUSTER_NAME (config/settings.py): it salts the
    # signature of every task, so this process signs with the same.
    monkeypatch.setattr(Conf, "PREFIX", name)
    yield name
    for key in client.scan_iter(f"*{name}*"):
        client.delete(key)


def _database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return (
        f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
        f"/{db['NAME']}"
    )


@pytest.fixture
def qclusters(redis_broker):
    """CLUSTERS `manage.py qcluster` processes on the Redis broker and the test database."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "True",
        "DATABASE_URL": _database_url(),
        "Q_BROKER": "redis",
        "REDIS_URL": REDIS_URL,
        "Q_CLUSTER_NAME": redis_broker,
        "Q_SYNC": "False",
        "Q_WORKERS": "1",
        "INTEGRATIONS_MODE": "sandbox",
        "LOG_LEVEL": "WARNING",
    }
    processes = [
        subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        for _ in range(CLUSTERS)
    ]
    yield processes
    for process in processes:
        process.send_signal(signal.SIGTERM)  # the main pid: its workers stop cleanly
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_until(condition, processes, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        for process in processes:
            if process.poll() is not None:
                pytest.fail(f"qcluster exited: {process.stderr.read().decode()[-2000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"not done within {seconds} s")
        time.sleep(0.5)


def test_qclusters_on_redis_deliver_every_event_of_captured_leads_once(qclusters):
    cohort_rules_seed()
    routing_queues_seed()
    reset_providers()
    leads = [
        lead_capture(
            data=capture_data(
                email=f"owner{n}@redis{n}.example",
                annual_revenue_estimate="3500000",
                number_of_locations=12,
            )
        )[0]
        for n in range(LEADS)
    ]
    events = IntegrationEvent.objects.filter(aggregate_id__in=[lead.pk for lead in leads])
    assert events.count() == 2 * LEADS  # lead.created, lead.profiled

    _wait_until(lambda: not IntegrationEvent.objects.filter(published=False).exists(), qclusters)

    assert set(events.values_list("publish_attempts", flat=True)) == {1}
    for lead in leads:
        sync = ExternalSystemSync.objects.get(entity_id=lead.pk, external_system="crm")
        assert sync.sync_status == SyncStatus.SYNCED
        assert QueueAssignment.objects.filter(lead=lead, queue__queue_type="ae").count() == 1
