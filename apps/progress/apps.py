from django.apps import AppConfig


class ProgressConfig(AppConfig):
    name = "apps.progress"
    label = "progress"

    def ready(self):
        from apps.progress import handlers  # noqa: F401
        from apps.progress.services import alert_raise_sla_breach
        from apps.routing import hooks

        # Routing does not import progress: it runs this for each SLA breach its sweep marks.
        hooks.on_sla_breach(alert_raise_sla_breach)
