"""manage.py retry_sync: the ops console's Retry from a shell, one sync or by filters."""

import re
import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.integrations.management.commands.retry_sync import NEED_A_SELECTION
from apps.integrations.models import ExternalSystem, SyncStatus
from tests.accounts.factories import AeUserFactory
from tests.integrations.factories import ExternalSystemSyncFactory

pytestmark = pytest.mark.django_db


def retry_sync(*args) -> str:
    out = StringIO()
    call_command("retry_sync", *args, stdout=out)
    return out.getvalue()


def failed(system=ExternalSystem.CRM, *, exhausted=True):
    return ExternalSystemSyncFactory(
        external_system=system,
        sync_status=SyncStatus.FAILED,
        retry_count=3 if exhausted else 1,
        max_retries=3,
        last_error="503",
    )


def conflicting(system=ExternalSystem.CRM):
    return ExternalSystemSyncFactory(
        external_system=system, sync_status=SyncStatus.CONFLICT, conflict_fields=["phone"]
    )


def status_of(sync) -> str:
    sync.refresh_from_db()
    return sync.sync_status


def test_id_retries_that_one_sync_as_the_system():
    sync, other = failed(), failed()

    output = retry_sync("--id", str(sync.pk))

    assert status_of(sync) == SyncStatus.PENDING
    assert status_of(other) == SyncStatus.FAILED
    assert f"retried      {sync.pk}" in output
    assert "1 sync(s) retried, 0 refused." in output
    assert sync.history.first().history_user is None


def test_an_unknown_id_is_a_clear_error():
    missing = uuid.uuid4()
    with pytest.raises(CommandError, match=re.escape(f"No sync with the id {missing}.")):
        retry_sync("--id", str(missing))
    with pytest.raises(CommandError, match=re.escape("No sync with the id nope: not a UUID.")):
        retry_sync("--id", "nope")


def test_system_retries_the_failed_and_conflicting_syncs_of_that_system():
    crm_failed, crm_conflict = failed(), conflicting()
    billing = failed(ExternalSystem.BILLING)

    output = retry_sync("--system", "crm")

    assert status_of(crm_failed) == status_of(crm_conflict) == SyncStatus.PENDING
    assert status_of(billing) == SyncStatus.FAILED
    assert "2 sync(s) retried, 0 refused." in output


def test_status_retries_only_syncs_in_that_status():
    crm_failed, crm_conflict = failed(), conflicting()

    retry_sync("--status", "conflict")

    assert status_of(crm_conflict) == SyncStatus.PENDING
    assert status_of(crm_failed) == SyncStatus.FAILED


def test_all_failed_retries_the_failed_syncs_out_of_automatic_retries():
    exhausted, retrying = failed(), failed(exhausted=False)
    crm_conflict = conflicting()

    output = retry_sync("--all-failed")

    assert status_of(exhausted) == SyncStatus.PENDING
    assert status_of(retrying) == SyncStatus.FAILED
    assert status_of(crm_conflict) == SyncStatus.CONFLICT
    assert "1 sync(s) retried, 0 refused." in output


def test_a_dry_run_lists_what_it_would_retry_and_changes_nothing():
    sync = failed()

    output = retry_sync("--all-failed", "--dry-run")

    assert f"would retry  {sync.pk}" in output
    assert "Dry run: 1 sync(s) would be retried; nothing changed." in output
    assert status_of(sync) == SyncStatus.FAILED
    assert sync.history.count() == 1


def test_as_user_records_the_ops_user(ops_user):
    sync = failed()

    retry_sync("--id", str(sync.pk), "--as-user", ops_user.email)

    assert status_of(sync) == SyncStatus.PENDING
    assert sync.history.first().history_user == ops_user


def test_as_a_user_without_the_permission_nothing_is_retried():
    sync = failed()
    with pytest.raises(CommandError, match=re.escape("You do not have permission to retry syncs.")):
        retry_sync("--id", str(sync.pk), "--as-user", AeUserFactory().email)
    assert status_of(sync) == SyncStatus.FAILED


def test_as_an_unknown_user_is_a_clear_error():
    with pytest.raises(CommandError, match=re.escape("No user with the email ghost@example.com.")):
        retry_sync("--all-failed", "--as-user", "ghost@example.com")


def test_a_sync_that_cannot_be_retried_is_reported_and_the_exit_is_an_error():
    sync = ExternalSystemSyncFactory(sync_status=SyncStatus.PENDING)
    out = StringIO()

    with pytest.raises(CommandError, match="1 sync"):
        call_command("retry_sync", "--id", str(sync.pk), stdout=out)

    assert "it cannot queue again now" in out.getvalue()
    assert status_of(sync) == SyncStatus.PENDING


def test_without_a_selection_nothing_is_retried():
    sync = failed()
    with pytest.raises(CommandError, match=re.escape(NEED_A_SELECTION)):
        retry_sync()
    assert status_of(sync) == SyncStatus.FAILED
