"""Send failed or conflicting syncs again, as the ops console's Retry button does.

    manage.py retry_sync --id 3f0c...                 one sync
    manage.py retry_sync --all-failed [--system crm]  every failed sync out of automatic retries
    manage.py retry_sync --status conflict --system crm --dry-run
    manage.py retry_sync --id 3f0c... --as-user ops@example.com

Without --as-user the retry is recorded as done by the system.
"""

import uuid

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from apps.core.errors import ActionForbidden, DomainError
from apps.integrations import selectors
from apps.integrations.delivery import sync_retry_now
from apps.integrations.models import ExternalSystem, ExternalSystemSync, SyncStatus

NEED_A_SELECTION = "Say which syncs to retry: --id, --all-failed, --status or --system."


def _describe(sync: ExternalSystemSync) -> str:
    return (
        f"{sync.pk}  {sync.entity_type}:{sync.entity_id} → {sync.external_system}  "
        f"{sync.sync_status} {sync.retry_count}/{sync.max_retries}"
    )


class Command(BaseCommand):
    help = "Retry failed or conflicting external-system syncs (one by id, or by filters)."

    def add_arguments(self, parser):
        parser.add_argument("--id", dest="sync_id", help="The id of one sync to retry.")
        parser.add_argument(
            "--system", choices=ExternalSystem.values, help="Only syncs with this system."
        )
        parser.add_argument(
            "--status",
            choices=[SyncStatus.FAILED, SyncStatus.CONFLICT],
            help="Only syncs in this status (default: both).",
        )
        parser.add_argument(
            "--all-failed",
            action="store_true",
            help="Every failed sync whose retry count reached its maximum.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would be retried; change nothing."
        )
        parser.add_argument(
            "--as-user", metavar="EMAIL", help="Record the retry as done by this (ops) user."
        )

    def handle(self, *args, sync_id, system, status, all_failed, dry_run, as_user, **options):
        actor = self._actor(as_user)
        if sync_id:
            if system or status or all_failed:
                raise CommandError("--id retries one sync: give no filter with it.")
            syncs = [self._one(sync_id)]
        elif all_failed or status or system:
            if all_failed and status == SyncStatus.CONFLICT:
                raise CommandError("--all-failed retries failed syncs, not conflicting ones.")
            syncs = list(
                selectors.sync_attention_list(
                    system=system, status=status, exhausted_only=all_failed
                )
            )
        else:
            raise CommandError(NEED_A_SELECTION)

        if dry_run:
            for sync in syncs:
                self.stdout.write(f"would retry  {_describe(sync)}")
            self.stdout.write(f"Dry run: {len(syncs)} sync(s) would be retried; nothing changed.")
            return

        retried, refused = 0, []
        for sync in syncs:
            line = _describe(sync)
            fresh = selectors.sync_get(sync_id=sync.pk)  # the whole row, as it is now
            if fresh is None:
                refused.append(sync)
                self.stdout.write(f"refused      {line}: deleted meanwhile")
                continue
            try:
                sync_retry_now(sync=fresh, actor=actor, reason="retry_sync command")
            except ActionForbidden as exc:
                raise CommandError(exc.message) from exc
            except DomainError as exc:
                refused.append(sync)
                self.stdout.write(f"refused      {line}: {exc.message}")
            else:
                retried += 1
                self.stdout.write(f"retried      {line}")
        self.stdout.write(f"{retried} sync(s) retried, {len(refused)} refused.")
        if refused:
            raise CommandError(f"{len(refused)} sync(s) could not be retried (see above).")

    def _actor(self, email: str | None):
        if not email:
            return None
        user = get_user_model().objects.filter(email__iexact=email).first()
        if user is None:
            raise CommandError(f"No user with the email {email}.")
        return user

    def _one(self, sync_id: str) -> ExternalSystemSync:
        try:
            pk = uuid.UUID(sync_id)
        except ValueError as exc:
            raise CommandError(f"No sync with the id {sync_id}: not a UUID.") from exc
        sync = selectors.sync_get(sync_id=pk)
        if sync is None:
            raise CommandError(f"No sync with the id {sync_id}.")
        return sync
