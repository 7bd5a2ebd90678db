from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"

    def ready(self):
        from django_q.signals import pre_enqueue

        from apps.core.jobs import task_guard

        # Every task passes here before it is signed and queued (apps/core/jobs.py).
        pre_enqueue.connect(task_guard, dispatch_uid="apps.core.jobs.task_guard")
