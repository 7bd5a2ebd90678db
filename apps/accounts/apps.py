from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self):
        from apps.accounts.roles import roles_sync_on_migrate

        # Permissions exist only after every app migrated, so roles are (re)built then.
        post_migrate.connect(roles_sync_on_migrate, dispatch_uid="accounts.roles_sync")
