from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "apps.routing"
    label = "routing"

    def ready(self):
        # Outbox handlers register themselves on import.
        from apps.routing import handlers, recovery  # noqa: F401
