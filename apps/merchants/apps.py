from django.apps import AppConfig


class MerchantsConfig(AppConfig):
    name = "apps.merchants"
    label = "merchants"

    def ready(self):
        # Outbox and webhook handlers register themselves on import.
        from apps.merchants import handlers, handlers_emails, handlers_setup  # noqa: F401
