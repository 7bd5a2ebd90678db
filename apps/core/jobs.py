"""The project's background jobs: the only functions the django-q2 worker will run.

- `PERIODIC_JOBS`: each is a django-q2 Schedule row by name, created (and repaired) by
  `manage.py seed_rules`; it runs without arguments.
- `TASKS`: functions the code enqueues with arguments (`async_task`) or schedules once for
  later (a saga step's retry, a delayed sandbox webhook).

Schedules and queued tasks are code, not data. A Schedule row names a function by its dotted
path and the worker imports whatever it names, with the arguments the row holds, in a process
that holds the secret key and the PII keys. So `task_guard` (connected to django-q2's
`pre_enqueue` signal in CoreConfig.ready) looks at every task before it is signed and queued:
from a Schedule row, from an admin "resubmit", from our code. A task whose function is not
listed here, a periodic job given arguments, or a task with a result hook is replaced by
`task_refused`, which fails: the worker records a Failure naming what was refused, the
refused function never runs, and the scheduler goes on with the other rows. Only a process
holding the secret key can sign a task, and every such process runs this guard.

Ops operate schedules through `schedule_pause`, `schedule_resume` and `schedule_run_now`
(the admin's actions); nobody edits a schedule's function, arguments or timing.
"""

import logging
from dataclasses import dataclass

from django_q.models import Schedule
from django_q.tasks import async_task

from apps.core.errors import ActionForbidden, DomainError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    func: str
    schedule_type: str
    minutes: int | None = None


PERIODIC_JOBS = (
    PeriodicJob("outbox-sweep", "apps.integrations.tasks.events_sweep", Schedule.MINUTES, 1),
    # Retention of every kind of data (README "Compliance"), outbox events included.
    PeriodicJob("retention-purge", "apps.compliance.tasks.retention_run", Schedule.DAILY),
    PeriodicJob("sla-sweep", "apps.routing.tasks.sla_sweep", Schedule.MINUTES, 5),
    PeriodicJob("stall-sweep", "apps.progress.tasks.stall_sweep", Schedule.MINUTES, 15),
    PeriodicJob("ops-figures", "apps.progress.tasks.ops_figures_refresh", Schedule.MINUTES, 5),
    PeriodicJob("sync-retry", "apps.integrations.tasks.sync_retry_due", Schedule.MINUTES, 1),
    PeriodicJob("saga-sweep", "apps.orders.tasks.saga_sweep", Schedule.MINUTES, 5),
    PeriodicJob("leads-reprofile", "apps.leads.tasks.leads_reprofile", Schedule.DAILY),
    # Recovery sweeps (apps/core/recovery.py): work whose task was lost comes back from the
    # database. The saga sweep above is one of them.
    PeriodicJob("webhooks-sweep", "apps.integrations.tasks.webhooks_sweep", Schedule.MINUTES, 2),
    PeriodicJob(
        "syncs-pending-sweep", "apps.integrations.tasks.syncs_pending_sweep", Schedule.MINUTES, 5
    ),
    PeriodicJob("auto-assign-sweep", "apps.routing.tasks.auto_assign_sweep", Schedule.MINUTES, 5),
)
PERIODIC_JOBS_BY_NAME = {job.name: job for job in PERIODIC_JOBS}
_PERIODIC_FUNCS = frozenset(job.func for job in PERIODIC_JOBS)

TASKS = frozenset(
    {
        "apps.accounts.tasks.password_reset_email_send",
        "apps.integrations.tasks.event_deliver",
        "apps.integrations.tasks.events_deliver",
        "apps.leads.tasks.leads_reprofile_chunk",
        "apps.integrations.tasks.events_dispatch",
        "apps.integrations.tasks.webhook_process",
        "apps.integrations.tasks.sync_push_now",
        "apps.integrations.tasks.sandbox_webhook_send",
        "apps.orders.tasks.saga_start",
        "apps.orders.tasks.saga_step_run",
        "apps.progress.tasks.events_deliver",
        "apps.routing.tasks.assignment_auto_assign",
        "apps.routing.tasks.queue_fill_freed_slot",
    }
)

REFUSED_TASK = "apps.core.jobs.task_refused"
TASK_NOT_LISTED = "{func} is not one of the project's tasks (apps/core/jobs.py): not run."
PERIODIC_JOB_WITH_ARGUMENTS = "{func} is a periodic job and takes no arguments: not run."
TASK_WITH_HOOK = "Result hooks are not used here ({hook}): {func} not run."
SCHEDULE_NOT_A_JOB = (
    "“{name}” is not one of the project's periodic jobs as seeded (manage.py seed_rules "
    "restores them): not run."
)
SCHEDULE_OPERATE_FORBIDDEN = "Only ops may pause, resume or run a schedule."
SCHEDULE_OPERATE_PERMISSION = "django_q.change_schedule"


class TaskRefused(Exception):
    """Raised by the stand-in of a refused task, so the worker records a Failure."""


def func_path(func) -> str:
    """The dotted path the worker would import: what the lists above hold."""
    if isinstance(func, str):
        return func
    return f"{getattr(func, '__module__', '')}.{getattr(func, '__qualname__', repr(func))}"


def task_refusal(task: dict) -> str | None:
    """Why this django-q2 task package must not run, or None."""
    func = func_path(task["func"])
    if task.get("hook"):
        return TASK_WITH_HOOK.format(hook=func_path(task["hook"]), func=func)
    if func in _PERIODIC_FUNCS:
        if task.get("args") or task.get("kwargs"):
            return PERIODIC_JOB_WITH_ARGUMENTS.format(func=func)
        return None
    if func not in TASKS:
        return TASK_NOT_LISTED.format(func=func)
    return None


def task_guard(sender, task: dict, **kwargs) -> None:
    """django-q2 `pre_enqueue` receiver: runs before the task is signed, and may change it.
    Raising here instead would stop the scheduler's whole pass at one bad row."""
    refusal = task_refusal(task)
    if refusal is None:
        return
    logger.error("Refused task %s: %s", task.get("name"), refusal)
    task.pop("hook", None)
    task.update(func=REFUSED_TASK, args=(func_path(task["func"]), refusal), kwargs={})


def task_refused(func: str, reason: str):
    """What the worker runs instead of a refused task (its Failure row shows both)."""
    raise TaskRefused(reason)


# --- Operating schedules (ops, from the admin) -----------------------------------------------


def _check_operator(actor) -> None:
    if not actor.has_perm(SCHEDULE_OPERATE_PERMISSION):
        raise ActionForbidden(SCHEDULE_OPERATE_FORBIDDEN)


def schedule_pause(*, schedule: Schedule, actor) -> Schedule:
    """Stop a schedule from running (django-q2 skips rows with no repeats left); a re-run of
    seed_rules keeps it paused."""
    _check_operator(actor)
    if schedule.repeats != 0:
        schedule.repeats = 0
        schedule.save(update_fields=["repeats"])
        logger.info("Schedule %s paused by %s", schedule, actor)
    return schedule


def schedule_resume(*, schedule: Schedule, actor) -> Schedule:
    _check_operator(actor)
    if schedule.repeats == 0:
        # A one-off row (a saga retry) runs once more; a periodic one runs for ever again.
        schedule.repeats = 1 if schedule.schedule_type == Schedule.ONCE else -1
        schedule.save(update_fields=["repeats"])
        logger.info("Schedule %s resumed by %s", schedule, actor)
    return schedule


def schedule_run_now(*, schedule: Schedule, actor) -> str:
    """Queue the schedule's periodic job once, now, whatever its next run; returns the task
    id. The function comes from PERIODIC_JOBS, and a row that differs from it is refused."""
    _check_operator(actor)
    job = PERIODIC_JOBS_BY_NAME.get(schedule.name)
    tampered = schedule.args or schedule.kwargs or schedule.hook
    if job is None or schedule.func != job.func or tampered:
        raise DomainError(SCHEDULE_NOT_A_JOB.format(name=schedule.name or schedule.pk))
    task_id = async_task(job.func, group=job.name, task_name=f"{job.name}-run-now")
    logger.info("Schedule %s run now by %s: task %s", job.name, actor, task_id)
    return task_id
