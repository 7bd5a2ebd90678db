from django.apps import AppConfig


class ProgressConfig(AppConfig):
    name = "apps.progress"
    label = "progress"

    def ready(self):
        from apps.progress import handlers  # noqa: F401
        from apps.progress.services import alerts_raise_sla_breach
        from apps.routing import hooks

        # Routing does not import progress: it runs this with the SLA breaches its sweep marks.
        hooks.on_sla_breach(alerts_raise_sla_breach)
