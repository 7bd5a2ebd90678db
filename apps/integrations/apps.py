from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "apps.integrations"
    label = "integrations"

    def ready(self):
        # The kinds of stuck work its sweeps recover register themselves on import.
        from apps.integrations import recovery  # noqa: F401
