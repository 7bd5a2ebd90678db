from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "apps.integrations"
    label = "integrations"

    def ready(self):
        # Sync modules register their event and webhook handlers on import.
        from apps.integrations import crm  # noqa: F401
