from django.apps import AppConfig


class LeadsConfig(AppConfig):
    name = "apps.leads"
    label = "leads"

    def ready(self):
        # Outbox and webhook handlers register themselves on import.
        from apps.leads import crm, handlers  # noqa: F401
