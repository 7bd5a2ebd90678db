"""On PostgreSQL a trigger refuses UPDATE and DELETE of audit rows in raw SQL too; only the
retention job's transaction (its session setting) may delete."""

import pytest
from django.db import DatabaseError, connection, transaction

from apps.compliance.models import DataAccessAuditLog, KybKycAuditLog
from apps.compliance.retention import RETENTION_SETTING, retention_run
from tests.compliance.factories import DataAccessAuditLogFactory, KybKycAuditLogFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's"),
]

CASES = [
    (DataAccessAuditLogFactory, "access_reason = 'edited'"),
    (KybKycAuditLogFactory, "decision = 'rejected'"),
]


@pytest.mark.parametrize(("factory", "assignment"), CASES)
def test_raw_sql_update_of_an_audit_row_is_refused(factory, assignment):
    row = factory()
    table = type(row)._meta.db_table
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"UPDATE {table} SET {assignment} WHERE id = %s", [row.pk])
    fresh = type(row).objects.get(pk=row.pk)
    assert (fresh.__dict__.get("access_reason"), fresh.__dict__.get("decision")) == (
        row.__dict__.get("access_reason"),
        row.__dict__.get("decision"),
    )


@pytest.mark.parametrize(("factory", "assignment"), CASES)
def test_raw_sql_delete_of_an_audit_row_is_refused(factory, assignment):
    row = factory()
    table = type(row)._meta.db_table
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"DELETE FROM {table} WHERE id = %s", [row.pk])
    assert type(row).objects.filter(pk=row.pk).exists()


def test_the_retention_setting_lets_a_delete_through_but_never_an_update():
    row = KybKycAuditLogFactory()
    table = KybKycAuditLog._meta.db_table
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"SET LOCAL {RETENTION_SETTING} = 'on'")
        cursor.execute(f"UPDATE {table} SET decision = 'rejected' WHERE id = %s", [row.pk])
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL {RETENTION_SETTING} = 'on'")
        cursor.execute(f"DELETE FROM {table} WHERE id = %s", [row.pk])
    assert not KybKycAuditLog.objects.filter(pk=row.pk).exists()


def test_after_the_retention_job_the_database_refuses_deletes_again():
    """Even inside a longer transaction (here the test's), the job turns its setting off."""
    access = DataAccessAuditLogFactory()
    retention_run(triggered_by="test")
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            f"DELETE FROM {DataAccessAuditLog._meta.db_table} WHERE id = %s", [access.pk]
        )
    assert DataAccessAuditLog.objects.filter(pk=access.pk).exists()
