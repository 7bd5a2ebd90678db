"""Schedules and queued tasks are code: the worker runs only the project's own tasks, and
nobody changes what a schedule runs from the admin (ops pause, resume and run one now)."""

import re
from datetime import timedelta
from multiprocessing import Value
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.models import Failure, Schedule, Success
from django_q.monitor import monitor
from django_q.queues import Queue
from django_q.scheduler import scheduler
from django_q.signing import SignedPackage
from django_q.tasks import async_task
from django_q.worker import worker

from apps.core.jobs import (
    PERIODIC_JOB_WITH_ARGUMENTS,
    PERIODIC_JOBS,
    PERIODIC_JOBS_BY_NAME,
    REFUSED_TASK,
    SCHEDULE_NOT_A_JOB,
    TASK_NOT_LISTED,
    TASK_WITH_HOOK,
    TASKS,
    TaskRefused,
    task_refusal,
)
from apps.demo.reference import schedules_seed

pytestmark = pytest.mark.django_db

OUTBOX = PERIODIC_JOBS_BY_NAME["outbox-sweep"]
SLA = PERIODIC_JOBS_BY_NAME["sla-sweep"]


def due_schedules(*names: str) -> dict[str, Schedule]:
    """The seeded schedules `names`, due now; the other seeded ones removed."""
    schedules_seed()
    Schedule.objects.exclude(name__in=names).delete()
    Schedule.objects.update(next_run=timezone.now() - timedelta(minutes=1))
    return {schedule.name: schedule for schedule in Schedule.objects.all()}


def changelist(model) -> str:
    return reverse(f"admin:django_q_{model._meta.model_name}_changelist")


def run_action(client, model, action: str, objects):
    data = {"action": action, ACTION_CHECKBOX_NAME: [str(o.pk) for o in objects], "index": "0"}
    return client.post(changelist(model), data)


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def cluster(monkeypatch):
    """Tasks travel as under `qcluster`: queued on the ORM broker, then taken by django-q2's
    worker and saved by its monitor, instead of running inline (the test settings' sync
    mode). The worker closes old connections, so tests using this commit for real."""
    monkeypatch.setattr(Conf, "SYNC", False)
    broker = get_broker()

    def run_queued():
        task_queue, result_queue = Queue(), Queue()
        while batch := broker.dequeue():
            for ack_id, pack in batch:
                task = SignedPackage.loads(pack)
                task["ack_id"] = ack_id
                task_queue.put(task)
        task_queue.put("STOP")
        worker(task_queue, result_queue, Value("f", -1))
        result_queue.put("STOP")
        monitor(result_queue, broker)

    return SimpleNamespace(broker=broker, run_queued=run_queued)


# --- the worker runs only the project's tasks ---------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_schedule_row_changed_to_another_function_is_refused_by_the_worker(cluster, tmp_path):
    target = tmp_path / "made-by-the-worker"
    due_schedules(OUTBOX.name, SLA.name)
    Schedule.objects.filter(name=OUTBOX.name).update(func="os.mkdir", args=repr(str(target)))

    scheduler(broker=cluster.broker)
    cluster.run_queued()

    assert not target.exists()
    refused = Failure.objects.get(group=OUTBOX.name)
    assert refused.func == REFUSED_TASK
    assert TASK_NOT_LISTED.format(func="os.mkdir") in refused.result
    # One bad row does not stop the others.
    assert Success.objects.filter(group=SLA.name, func=SLA.func).exists()


@pytest.mark.django_db(transaction=True)
def test_a_resubmitted_failure_cannot_run_a_function_of_its_choosing(
    client, ops_user, cluster, tmp_path
):
    target = tmp_path / "made-by-a-resubmit"
    failure = Failure.objects.create(
        id="f" * 32,
        name="tampered",
        func="os.mkdir",
        args=(str(target),),
        started=timezone.now(),
        stopped=timezone.now(),
        success=False,
    )
    client.force_login(ops_user)

    run_action(client, Failure, "resubmit_task", [failure])
    cluster.run_queued()

    assert not target.exists()
    refused = Failure.objects.get()
    assert refused.func == REFUSED_TASK
    assert TASK_NOT_LISTED.format(func="os.mkdir") in refused.result


def test_in_sync_mode_an_unlisted_function_raises_instead_of_running(tmp_path):
    target = tmp_path / "made-inline"

    with pytest.raises(TaskRefused, match=re.escape(TASK_NOT_LISTED.format(func="os.mkdir"))):
        async_task("os.mkdir", str(target))

    assert not target.exists()


@pytest.mark.parametrize(
    ("task", "refusal"),
    [
        ({"func": "os.system", "args": ("id",)}, TASK_NOT_LISTED.format(func="os.system")),
        (
            {"func": OUTBOX.func, "args": (), "kwargs": {"limit": 1}},
            PERIODIC_JOB_WITH_ARGUMENTS.format(func=OUTBOX.func),
        ),
        (
            {"func": OUTBOX.func, "args": (), "hook": "os.remove"},
            TASK_WITH_HOOK.format(hook="os.remove", func=OUTBOX.func),
        ),
        ({"func": OUTBOX.func, "args": (), "kwargs": {}}, None),
        ({"func": "apps.integrations.tasks.event_deliver", "args": ("e1",)}, None),
    ],
    ids=["unlisted", "periodic-with-arguments", "hook", "periodic", "task"],
)
def test_what_the_guard_refuses(task, refusal):
    assert task_refusal(task) == refusal


def test_every_listed_task_function_exists():
    for func in [job.func for job in PERIODIC_JOBS] + sorted(TASKS):
        assert callable(import_string(func)), func


def test_every_task_function_the_code_names_is_listed():
    listed = {job.func for job in PERIODIC_JOBS} | TASKS
    named = set()
    for path in Path(settings.BASE_DIR, "apps").rglob("*.py"):
        named |= set(re.findall(r"[\"'](apps\.\w+\.tasks\.\w+)[\"']", path.read_text()))

    assert named
    assert named - listed == set()


# --- the admin: read-only for everyone; ops pause, resume, run now --------------------------------


@pytest.mark.parametrize("who", ["ops", "superuser"])
def test_nobody_changes_what_a_schedule_runs_from_the_admin(client, ops_user, admin_user, who):
    schedule = due_schedules(OUTBOX.name)[OUTBOX.name]
    client.force_login(ops_user if who == "ops" else admin_user)
    url = reverse("admin:django_q_schedule_change", args=[schedule.pk])

    response = client.post(
        url,
        {
            "name": OUTBOX.name,
            "func": "os.mkdir",
            "hook": "",
            "args": "'/tmp/pwned'",
            "kwargs": "",
            "schedule_type": Schedule.MINUTES,
            "minutes": "1",
            "repeats": "-1",
            "next_run_0": "2030-01-01",
            "next_run_1": "00:00:00",
            "cron": "",
            "cluster": "",
            "intended_date_kwarg": "",
        },
    )

    assert response.status_code == 403
    schedule.refresh_from_db()
    assert (schedule.func, schedule.args) == (OUTBOX.func, None)


@pytest.mark.parametrize("view", ["add", "delete"])
def test_nobody_adds_or_deletes_a_schedule_from_the_admin(client, ops_user, admin_user, view):
    schedule = due_schedules(OUTBOX.name)[OUTBOX.name]
    args = [] if view == "add" else [schedule.pk]
    for user in (ops_user, admin_user):
        client.force_login(user)
        assert client.get(reverse(f"admin:django_q_schedule_{view}", args=args)).status_code == 403
    assert Schedule.objects.filter(pk=schedule.pk).exists()


def test_ops_are_offered_pause_resume_and_run_now_and_nothing_else(client, ops_user):
    due_schedules(OUTBOX.name)
    client.force_login(ops_user)

    response = client.get(changelist(Schedule))

    choices = response.context["action_form"].fields["action"].choices
    assert [name for name, _label in choices if name] == ["pause", "resume", "run_now"]


def test_ops_pause_a_schedule_and_resume_it(client, ops_user):
    schedule = due_schedules(OUTBOX.name)[OUTBOX.name]
    client.force_login(ops_user)

    run_action(client, Schedule, "pause", [schedule])
    scheduler()

    schedule.refresh_from_db()
    assert schedule.repeats == 0
    assert not Success.objects.filter(group=OUTBOX.name).exists()

    run_action(client, Schedule, "resume", [schedule])
    scheduler()

    schedule.refresh_from_db()
    assert schedule.repeats == -1
    assert Success.objects.filter(group=OUTBOX.name, func=OUTBOX.func).exists()


def test_seed_rules_keeps_a_paused_schedule_paused(client, ops_user):
    schedule = due_schedules(OUTBOX.name)[OUTBOX.name]
    client.force_login(ops_user)
    run_action(client, Schedule, "pause", [schedule])

    schedules_seed()

    schedule.refresh_from_db()
    assert schedule.repeats == 0


def test_ops_run_a_schedule_now(client, ops_user, caplog):
    schedule = due_schedules(OUTBOX.name)[OUTBOX.name]
    next_run = schedule.next_run
    client.force_login(ops_user)

    with caplog.at_level("INFO", logger="apps.core.jobs"):
        response = run_action(client, Schedule, "run_now", [schedule])

    assert Success.objects.filter(group=OUTBOX.name, func=OUTBOX.func).exists()
    assert messages_of(response) == ["Run now: done for 1 Scheduled task."]
    assert f"{OUTBOX.name} run now by {ops_user}" in caplog.text
    schedule.refresh_from_db()
    assert schedule.next_run == next_run


def test_run_now_refuses_a_schedule_that_is_not_the_seeded_job(client, ops_user, tmp_path):
    target = tmp_path / "made-by-run-now"
    schedule = due_schedules(OUTBOX.name)[OUTBOX.name]
    Schedule.objects.filter(pk=schedule.pk).update(func="os.mkdir", args=repr(str(target)))
    client.force_login(ops_user)

    response = run_action(client, Schedule, "run_now", [schedule])

    assert not target.exists()
    assert not Success.objects.exists()
    [message] = messages_of(response)
    assert message.endswith(SCHEDULE_NOT_A_JOB.format(name=OUTBOX.name))


def test_a_role_without_the_schedule_permission_cannot_operate_schedules(client, ae_user):
    schedule = due_schedules(OUTBOX.name)[OUTBOX.name]
    ae_user.is_staff = True
    ae_user.save()
    client.force_login(ae_user)

    response = run_action(client, Schedule, "pause", [schedule])

    assert response.status_code == 403
    schedule.refresh_from_db()
    assert schedule.repeats == -1
