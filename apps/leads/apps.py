from django.apps import AppConfig


class LeadsConfig(AppConfig):
    name = "apps.leads"
    label = "leads"

    def ready(self):
        # The CRM sync registers its outbox and webhook handlers on import.
        from apps.leads import crm  # noqa: F401
