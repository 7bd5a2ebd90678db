"""Audit rows are written once: never changed, never deleted (STYLE.md "Audit")."""

import pytest

from apps.compliance.models import (
    AppendOnlyError,
    DataAccessAuditLog,
    Decision,
    KybKycAuditLog,
)
from tests.compliance.factories import DataAccessAuditLogFactory, KybKycAuditLogFactory

pytestmark = pytest.mark.django_db


def test_kyb_kyc_audit_row_cannot_be_changed():
    row = KybKycAuditLogFactory(decision=Decision.APPROVED)
    row.decision = Decision.REJECTED

    with pytest.raises(AppendOnlyError):
        row.save()

    assert KybKycAuditLog.objects.get(pk=row.pk).decision == Decision.APPROVED


def test_kyb_kyc_audit_row_cannot_be_deleted():
    row = KybKycAuditLogFactory()

    with pytest.raises(AppendOnlyError):
        row.delete()

    assert KybKycAuditLog.objects.filter(pk=row.pk).exists()


def test_data_access_audit_row_cannot_be_changed():
    row = DataAccessAuditLogFactory(access_reason="KYB review")
    row.access_reason = "nothing to see here"

    with pytest.raises(AppendOnlyError):
        row.save()

    assert DataAccessAuditLog.objects.get(pk=row.pk).access_reason == "KYB review"


def test_data_access_audit_row_cannot_be_deleted():
    row = DataAccessAuditLogFactory()

    with pytest.raises(AppendOnlyError):
        row.delete()

    assert DataAccessAuditLog.objects.filter(pk=row.pk).exists()


def test_new_audit_rows_can_be_written():
    KybKycAuditLogFactory()
    DataAccessAuditLogFactory()

    assert KybKycAuditLog.objects.count() == 1
    assert DataAccessAuditLog.objects.count() == 1



@pytest.mark.parametrize(
    ("factory", "change"),
    [
        (KybKycAuditLogFactory, {"decision": Decision.REJECTED}),
        (DataAccessAuditLogFactory, {"access_reason": "edited"}),
    ],
)
def test_bulk_update_and_delete_of_audit_rows_are_refused(factory, change):
    row = factory()
    model = type(row)
    with pytest.raises(AppendOnlyError):
        model.objects.all().update(**change)
    with pytest.raises(AppendOnlyError):
        model.objects.all().delete()
    assert model.objects.filter(pk=row.pk).exists()
