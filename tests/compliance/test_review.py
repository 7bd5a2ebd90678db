"""/staff/compliance/: the KYB review cases (decide with notes), a merchant's audit timeline
and its CSV export; the compliance role only."""

import csv
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from apps.compliance.models import AccessAction, DataAccessAuditLog, KybKycAuditLog
from apps.compliance.views import DECIDED, EXPORT_REASON
from apps.core.fsm import save_tracked
from apps.leads.models import LeadStatus
from apps.merchants.choices import CheckStatus
from apps.merchants.models import Merchant
from apps.merchants.services import decisions, kyb
from apps.progress.models import StepStatus
from apps.progress.services import step_start
from apps.routing.models import AssignmentStatus, QueueAssignment
from tests.accounts.factories import (
    AeUserFactory,
    ComplianceUserFactory,
    IcUserFactory,
    MerchantUserFactory,
    OpsUserFactory,
    UserFactory,
)
from tests.merchants.factories import (
    MerchantBankAccountFactory,
    MerchantPersonFactory,
    account_created_merchant,
)
from tests.routing.factories import seeded_queues

pytestmark = pytest.mark.django_db

REVIEW = reverse("compliance:review")
HTMX = {"HX-Request": "true"}
C = CheckStatus


def decide_url(merchant) -> str:
    return reverse("compliance:kyb_decide", args=[merchant.pk])


def audit_url(merchant) -> str:
    return reverse("compliance:merchant_audit", args=[merchant.pk])


def under_review(*, ein: str = "12-3459999", **lead_fields) -> Merchant:
    """A merchant whose KYB the provider sent to review, queued for compliance (the
    compliance_review queue must exist: seeded_queues())."""
    merchant = account_created_merchant(**lead_fields)
    kyb.merchant_kyb_details_save(
        merchant=merchant,
        actor=merchant.user,
        ein=ein,
        business_structure="llc",
        registered_address_line1="1 Market St",
        registered_city="Austin",
        registered_state="TX",
        registered_postal_code="73301",
    )
    step_start(progress=merchant.step_progress.get(step_id=3), actor=merchant.user)
    kyb.merchant_kyb_submit(merchant=merchant, actor=merchant.user)
    kyb.merchant_kyb_provider_decide(
        merchant=merchant,
        decision=C.REVIEW_REQUIRED,
        check_id=f"kyb_check_{merchant.pk.hex[:8]}",
        reason="Manual review required.",
        risk_score=55,
        response_payload={"decision": "review_required", "risk_score": 55, "watchlist": "hit"},
    )
    return Merchant.objects.get(pk=merchant.pk)


# --- role × URL -----------------------------------------------------------------------------------

ROLES = [
    (MerchantUserFactory, 403),
    (AeUserFactory, 403),
    (IcUserFactory, 403),
    (OpsUserFactory, 403),
    (UserFactory, 403),
    (ComplianceUserFactory, "ok"),
    (lambda: UserFactory(is_superuser=True, is_staff=True), "ok"),
]
ROLE_IDS = ["merchant", "ae", "ic", "ops", "no-role", "compliance", "superuser"]


def _requests(merchant):
    return [
        ("get", REVIEW, {}, 200),
        ("post", decide_url(merchant), {"decision": "approved", "notes": "Docs fine"}, 302),
        ("get", audit_url(merchant), {}, 200),
        ("get", audit_url(merchant), {"format": "csv"}, 200),
    ]


@pytest.mark.parametrize(("make_user", "expected"), ROLES, ids=ROLE_IDS)
@pytest.mark.parametrize("request_index", range(4), ids=["review", "decide", "audit", "csv"])
def test_only_compliance_and_superusers_reach_the_compliance_pages(
    client, journey_steps, make_user, expected, request_index
):
    seeded_queues()
    merchant = under_review()
    method, url, data, ok_status = _requests(merchant)[request_index]
    client.force_login(make_user())

    response = getattr(client, method)(url, data)

    assert response.status_code == (ok_status if expected == "ok" else expected)
    merchant.refresh_from_db()
    if expected != "ok" or method == "get":
        assert merchant.kyb_status == C.REVIEW_REQUIRED
    if expected != "ok":
        assert not DataAccessAuditLog.objects.exists()


@pytest.mark.parametrize("request_index", range(4), ids=["review", "decide", "audit", "csv"])
def test_an_anonymous_visitor_is_sent_to_sign_in(client, journey_steps, request_index):
    seeded_queues()
    merchant = under_review()
    method, url, data, _ok = _requests(merchant)[request_index]

    response = getattr(client, method)(url, data)

    assert response.status_code == 302
    assert response.url.startswith(f"{reverse('accounts:login')}?next=")
    assert Merchant.objects.get(pk=merchant.pk).kyb_status == C.REVIEW_REQUIRED


# --- the review queue -----------------------------------------------------------------------------


def test_the_queue_lists_cases_under_review_with_the_providers_answer(
    client, journey_steps, compliance_user
):
    seeded_queues()
    case = under_review(business_name="Review Me Bistro")
    done = account_created_merchant(business_name="Not Under Review Cafe")
    client.force_login(compliance_user)

    page = client.get(REVIEW).text

    row = page.split(f'id="case-kyb-{case.pk}"')[1].split("</tr>")[0]
    assert "Review Me Bistro" in row
    assert "The business (KYB)" in row
    assert "Manual review required. (risk score 55)" in row
    assert f'href="{reverse("staff:merchant", args=[case.pk])}"' in row
    assert f'href="{reverse("compliance:case", args=["kyb", case.pk])}"' in row
    assert "Not Under Review Cafe" not in page and str(done.pk) not in page
    assert "Under review (1)" in page
    assert "1 case at 1 merchant · compliance queue: 1 open item" in page


def test_the_case_page_shows_what_the_provider_returned_with_pii_masked(
    client, journey_steps, compliance_user
):
    seeded_queues()
    case = under_review(business_name="Review Me Bistro")
    client.force_login(compliance_user)

    page = client.get(reverse("compliance:case", args=["kyb", case.pk])).text

    assert "Manual review required." in page
    assert "risk score 55" in page
    assert "watchlist" in page
    assert "•••• 9999" in page
    assert "123459999" not in page and "12-3459999" not in page
    assert f'href="{reverse("staff:merchant", args=[case.pk])}"' in page
    assert ">Approve</button>" in page


def test_the_queue_costs_the_same_queries_for_10_or_500_cases(
    client, journey_steps, compliance_user
):
    seeded_queues()
    client.force_login(compliance_user)

    def queries() -> int:
        with CaptureQueriesContext(connection) as context:
            assert client.get(REVIEW).status_code == 200
        return len(context.captured_queries)

    for n in range(10):
        under_review(ein=f"12-34{n:03d}9999")
    with_ten = queries()
    for n in range(10, 500):
        under_review(ein=f"12-34{n:03d}9999")

    assert queries() == with_ten


def test_approving_a_case_moves_the_merchant_on_and_closes_the_queue_item(
    client, journey_steps, compliance_user
):
    seeded_queues()
    merchant = under_review()
    client.force_login(compliance_user)

    response = client.post(
        decide_url(merchant),
        {"decision": "approved", "notes": "Articles of organization match"},
        headers=HTMX,
    )

    assert response.status_code == 200
    assert response.text.strip().startswith(f'<section id="case-kyb-{merchant.pk}"')
    assert DECIDED["approved"].format(name=merchant.legal_business_name) in response.text
    assert "<form" not in response.text
    merchant.refresh_from_db()
    assert merchant.kyb_status == C.APPROVED
    assert merchant.lead.status == LeadStatus.QUALIFIED
    assert merchant.step_progress.get(step_id=3).status == StepStatus.COMPLETED
    assert merchant.step_progress.get(step_id=4).status == StepStatus.IN_PROGRESS
    item = QueueAssignment.objects.get(merchant=merchant)
    assert (item.status, item.assigned_to) == (AssignmentStatus.RESOLVED, compliance_user)
    audit = KybKycAuditLog.objects.filter(merchant=merchant).order_by("-completed_at").first()
    assert (audit.decision, audit.reviewed_by) == ("approved", compliance_user)
    assert audit.reviewer_notes == "Articles of organization match"
    assert audit.manual_override is True
    assert audit.request_payload["ein_last4"] == "9999"
    assert merchant.history.first().history_user == compliance_user


def test_rejecting_a_case_gives_the_merchant_the_notes_as_the_reason(
    client, journey_steps, compliance_user
):
    seeded_queues()
    merchant = under_review()
    client.force_login(compliance_user)

    response = client.post(
        decide_url(merchant), {"decision": "rejected", "notes": "Name does not match the IRS"}
    )

    assert response.status_code == 302
    merchant.refresh_from_db()
    assert merchant.kyb_status == C.REJECTED
    assert merchant.kyb_rejection_reason == "Name does not match the IRS"
    assert merchant.step_progress.get(step_id=3).status == StepStatus.FAILED
    client.force_login(merchant.user)
    assert "Name does not match the IRS" in client.get(reverse("merchants:kyb")).text


@pytest.mark.parametrize("notes", ["", "   "], ids=["empty", "blank"])
def test_notes_are_required_and_nothing_changes_without_them(
    client, journey_steps, compliance_user, notes
):
    seeded_queues()
    merchant = under_review()
    client.force_login(compliance_user)

    response = client.post(
        decide_url(merchant), {"decision": "approved", "notes": notes}, headers=HTMX
    )

    assert response.status_code == 422
    assert response["HX-Retarget"] == f"#case-kyb-{merchant.pk}"
    assert response["HX-Reswap"] == "outerHTML"
    assert escape(decisions.NOTES_REQUIRED) in response.text
    assert Merchant.objects.get(pk=merchant.pk).kyb_status == C.REVIEW_REQUIRED
    assert KybKycAuditLog.objects.filter(merchant=merchant).count() == 1
    assert QueueAssignment.objects.get(merchant=merchant).status == AssignmentStatus.QUEUED


def test_without_javascript_missing_notes_show_on_the_page_with_a_422(
    client, journey_steps, compliance_user
):
    seeded_queues()
    merchant = under_review()
    client.force_login(compliance_user)

    response = client.post(decide_url(merchant), {"decision": "rejected", "notes": ""})

    assert response.status_code == 422
    assert "<html" in response.text
    assert escape(decisions.NOTES_REQUIRED) in response.text
    assert Merchant.objects.get(pk=merchant.pk).kyb_status == C.REVIEW_REQUIRED


@pytest.mark.parametrize("decision", ["", "review_required", "maybe"])
def test_a_decision_other_than_approve_or_reject_is_refused(
    client, journey_steps, compliance_user, decision
):
    seeded_queues()
    merchant = under_review()
    client.force_login(compliance_user)

    response = client.post(decide_url(merchant), {"decision": decision, "notes": "x"}, headers=HTMX)

    assert response.status_code == 422
    assert Merchant.objects.get(pk=merchant.pk).kyb_status == C.REVIEW_REQUIRED


def test_a_case_no_longer_under_review_is_refused_with_a_409(
    client, journey_steps, compliance_user
):
    seeded_queues()
    merchant = under_review()
    kyb.merchant_kyb_review_decide(
        merchant=merchant, decision="approved", notes="First", actor=ComplianceUserFactory()
    )
    client.force_login(compliance_user)

    response = client.post(
        decide_url(merchant), {"decision": "rejected", "notes": "Second"}, headers=HTMX
    )

    assert response.status_code == 409
    assert decisions.NOT_UNDER_REVIEW in response.text
    assert Merchant.objects.get(pk=merchant.pk).kyb_status == C.APPROVED


def test_a_case_another_reviewer_has_taken_is_theirs_to_decide(
    client, journey_steps, compliance_user
):
    from apps.routing.services.claims import assignment_assign

    seeded_queues()
    merchant = under_review()
    colleague = ComplianceUserFactory(email="kim@lightspeed.example")
    item = QueueAssignment.objects.get(merchant=merchant)
    assignment_assign(assignment=item, agent=colleague, actor=colleague)
    client.force_login(compliance_user)

    response = client.post(
        decide_url(merchant), {"decision": "approved", "notes": "Fine"}, headers=HTMX
    )

    assert response.status_code == 409
    assert kyb.CASE_HELD_BY_OTHER.format(email="kim@lightspeed.example") in response.text
    assert Merchant.objects.get(pk=merchant.pk).kyb_status == C.REVIEW_REQUIRED

    client.force_login(colleague)
    decided = client.post(decide_url(merchant), {"decision": "approved", "notes": "Ok"})
    assert decided.status_code == 302
    item.refresh_from_db()
    assert (item.status, item.assigned_to) == (AssignmentStatus.RESOLVED, colleague)


def test_deciding_an_unknown_merchant_is_a_404(client, compliance_user):
    client.force_login(compliance_user)
    url = reverse("compliance:kyb_decide", args=["00000000-0000-0000-0000-000000000000"])
    assert client.post(url, {"decision": "approved", "notes": "x"}).status_code == 404


def test_deciding_is_a_post(client, journey_steps, compliance_user):
    seeded_queues()
    merchant = under_review()
    client.force_login(compliance_user)
    assert client.get(decide_url(merchant)).status_code == 405


def test_any_merchants_timeline_can_be_found_by_name(client, journey_steps, compliance_user):
    merchant = account_created_merchant(business_name="Findable Florist")
    client.force_login(compliance_user)

    page = client.get(REVIEW, {"q": "findable"}).text

    assert f'href="{audit_url(merchant)}"' in page


# --- audit timeline -------------------------------------------------------------------------------


def test_the_timeline_has_decisions_and_changes_with_who_and_why_newest_first(
    client, journey_steps, compliance_user
):
    seeded_queues()
    merchant = under_review()
    kyb.merchant_kyb_review_decide(
        merchant=merchant, decision="approved", notes="Lease checked", actor=compliance_user
    )
    client.force_login(compliance_user)

    page = client.get(audit_url(merchant)).text

    rows = re.findall(r"<tr>\s*<td><time datetime=\"([^\"]+)\"", page)
    assert rows == sorted(rows, reverse=True)
    assert "KYB approved" in page and "KYB review required (risk score 55" in page
    assert "Lease checked" in page
    assert compliance_user.email in page
    assert "provider (sandbox)" in page
    assert "KYB status: Under review → Approved" in page
    assert "kyb_status" not in page
    assert "merchant_kyb_decide: approved by reviewer: Lease checked" in page
    assert "EIN changed" in page
    assert merchant.user.email in page  # the merchant's own changes name them


def test_the_timeline_covers_persons_and_bank_accounts_with_pii_masked(
    client, journey_steps, compliance_user
):
    merchant = account_created_merchant()
    person = MerchantPersonFactory(
        merchant=merchant, first_name="Rita", last_name="Ng", ssn="123-45-6789"
    )
    person.title = "CEO"
    save_tracked(person, actor=merchant.user, reason="person_update: title")
    MerchantBankAccountFactory(merchant=merchant, account_number="000123456781")
    client.force_login(compliance_user)

    page = client.get(audit_url(merchant)).text

    assert "Person: Rita Ng" in page
    assert "Title: Owner → CEO" in page
    assert "Bank account •••• 6781" in page
    for secret in ("123-45-6789", "123456789", "000123456781", "0001234567"):
        assert secret not in page


def test_the_timeline_costs_a_fixed_number_of_queries(client, journey_steps, compliance_user):
    merchant = account_created_merchant()
    client.force_login(compliance_user)

    def queries() -> int:
        with CaptureQueriesContext(connection) as context:
            assert client.get(audit_url(merchant)).status_code == 200
        return len(context.captured_queries)

    few = queries()
    for n in range(20):
        merchant.blocked_reason = f"n{n}"
        save_tracked(merchant, actor=None, reason=f"test {n}")
        MerchantPersonFactory(merchant=merchant)
    assert queries() == few


def test_the_csv_export_writes_the_data_access_log(client, journey_steps, compliance_user):
    seeded_queues()
    merchant = under_review(business_name="=HYPERLINK(1)")
    client.force_login(compliance_user)

    response = client.get(audit_url(merchant), {"format": "csv"}, REMOTE_ADDR="10.0.0.7")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["when", "kind", "subject", "who", "what", "why", "details"]
    assert any(row[1] == "KYB decision" for row in rows[1:])
    assert "12-3459999" not in response.content.decode()
    log = DataAccessAuditLog.objects.get()
    assert (log.user, log.action, log.entity_type, log.entity_id) == (
        compliance_user,
        AccessAction.EXPORT,
        "merchant",
        merchant.pk,
    )
    assert log.access_reason == EXPORT_REASON
    assert log.ip_address == "10.0.0.7"
    assert log.api_endpoint == audit_url(merchant)


def test_csv_cells_never_start_a_spreadsheet_formula(client, journey_steps, compliance_user):
    merchant = account_created_merchant()
    merchant.legal_business_name = "=cmd|' /C calc'!A0"
    save_tracked(merchant, actor=None, reason="=SUM(A1:A9)")
    client.force_login(compliance_user)

    content = client.get(audit_url(merchant), {"format": "csv"}).content.decode()

    rows = list(csv.reader(io.StringIO(content)))
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    assert "'=SUM(A1:A9)" in content


def test_viewing_the_timeline_writes_no_access_log(client, journey_steps, compliance_user):
    merchant = account_created_merchant()
    client.force_login(compliance_user)
    client.get(audit_url(merchant))
    assert not DataAccessAuditLog.objects.exists()


def test_the_timeline_of_an_unknown_merchant_is_a_404(client, compliance_user):
    client.force_login(compliance_user)
    url = reverse("compliance:merchant_audit", args=["00000000-0000-0000-0000-000000000000"])
    assert client.get(url).status_code == 404
    assert client.get(url, {"format": "csv"}).status_code == 404
    assert not DataAccessAuditLog.objects.exists()
