from django.apps import AppConfig


class MerchantsConfig(AppConfig):
    name = "apps.merchants"
    label = "merchants"

    def ready(self):
        # Outbox and webhook handlers, and the owners of synced entities, register
        # themselves on import.
        from apps.merchants import (  # noqa: F401
            handlers,
            handlers_emails,
            handlers_setup,
            sync_owners,
        )
