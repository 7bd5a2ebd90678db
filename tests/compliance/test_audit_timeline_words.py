"""The audit timeline says fields and values in words and filters by kind (issue 14, item 8)."""

import csv
import io

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from apps.compliance.timeline_words import FieldWords, related_names
from apps.compliance.views import UNKNOWN_KIND
from apps.core.fsm import save_tracked
from apps.leads.models import Lead
from apps.merchants.models import Merchant
from apps.routing.models import QueueAssignment
from tests.compliance.factories import KybKycAuditLogFactory
from tests.integrations.factories import ExternalSystemSyncFactory, IntegrationEventFactory
from tests.merchants.factories import MerchantFactory
from tests.progress.factories import StallAlertFactory
from tests.routing.factories import AssignmentNoteFactory, QueueAssignmentFactory


def audit_url(merchant) -> str:
    return reverse("compliance:merchant_audit", args=[merchant.pk])


@pytest.fixture
def merchant(db, journey_steps):
    merchant = MerchantFactory(legal_business_name="Copper Kettle Café", current_step=3)
    merchant.payouts_enabled = False
    merchant.blocked_reason = "Waiting for documents"
    save_tracked(merchant, actor=None, reason="test: blocked")
    # every kind of entry
    KybKycAuditLogFactory(merchant=merchant, decision="approved")
    IntegrationEventFactory(
        event_type="merchant.verification_email_requested", aggregate_id=merchant.pk
    )
    IntegrationEventFactory(event_type="merchant.kyb_submitted", aggregate_id=merchant.pk)
    ExternalSystemSyncFactory(entity_id=merchant.pk, sync_status="failed", last_error="CRM 502")
    item = QueueAssignmentFactory(merchant=merchant, lead=merchant.lead)
    AssignmentNoteFactory(assignment=item, body="Asked for the lease")
    alert = StallAlertFactory(merchant=merchant)
    alert.notes = [
        {"at": timezone.now().isoformat(), "author": "ic@example.com", "body": "Sent the checklist"}
    ]
    alert.save(update_fields=["notes"])
    return merchant


def test_changes_are_said_with_labels_and_choice_labels(client, compliance_user, merchant):
    client.force_login(compliance_user)
    page = client.get(audit_url(merchant)).text
    assert "Blocked reason: — → Waiting for documents" in page
    assert "blocked_reason" not in page


def test_a_related_object_is_named_not_shown_as_an_id(db, merchant):
    words = FieldWords(Merchant)
    names = related_names([(Lead, merchant.lead_id)])
    assert words.label("lead_id") == "Lead"
    assert words.value("lead_id", merchant.lead_id, names) == str(merchant.lead)
    assert words.value("kyb_status", "review_required", names) == "Under review"
    assert words.value("payouts_enabled", True, names) == "yes"
    words = FieldWords(QueueAssignment)
    assert words.label("assigned_to_id") == "Assigned to"


@pytest.mark.parametrize(
    ("kind", "shown", "hidden"),
    [
        ("state", "Blocked reason", "Asked for the lease"),
        ("decision", "KYB approved", "Blocked reason"),
        ("email", "Verification email requested", "Kyb submitted"),
        ("integration", "CRM 502", "Verification email requested"),
        ("note", "Sent the checklist", "CRM 502"),
    ],
)
def test_the_timeline_filters_by_kind(client, compliance_user, merchant, kind, shown, hidden):
    client.force_login(compliance_user)
    response = client.get(audit_url(merchant), {"kind": kind})
    assert response.status_code == 200
    assert shown in response.text
    assert hidden not in response.text


def test_everything_shows_without_a_filter(client, compliance_user, merchant):
    client.force_login(compliance_user)
    page = client.get(audit_url(merchant)).text
    for text in (
        "Blocked reason",
        "KYB approved",
        "Verification email requested",
        "Kyb submitted",
        "CRM 502",
        "Asked for the lease",
        "Sent the checklist",
    ):
        assert text in page


def test_two_kinds_at_once(client, compliance_user, merchant):
    client.force_login(compliance_user)
    page = client.get(audit_url(merchant) + "?kind=note&kind=decision").text
    assert "Asked for the lease" in page and "KYB approved" in page
    assert "Blocked reason" not in page


@pytest.mark.parametrize("kind", ["bogus", "<script>", "state'--"])
def test_an_unknown_kind_is_a_400_with_a_message(client, compliance_user, merchant, kind):
    client.force_login(compliance_user)
    response = client.get(audit_url(merchant), {"kind": kind})
    assert response.status_code == 400
    assert escape(UNKNOWN_KIND) in response.text


def test_the_csv_export_follows_the_filter(client, compliance_user, merchant):
    client.force_login(compliance_user)
    content = client.get(audit_url(merchant), {"format": "csv", "kind": "note"}).content.decode()
    rows = list(csv.reader(io.StringIO(content)))[1:]
    assert rows and all(row[1] == "Note" for row in rows)


def test_times_are_in_the_reviewers_zone(client, compliance_user, merchant):
    compliance_user.time_zone = "Asia/Tokyo"
    compliance_user.save(update_fields=["time_zone"])
    client.force_login(compliance_user)
    page = client.get(audit_url(merchant)).text
    assert " JST</time>" in page
