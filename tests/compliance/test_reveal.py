"""Reveal with reason, the data access log and the decision log export (issue 16)."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from apps.compliance.forms import REVEAL_DETAILS_REQUIRED, REVEAL_REASON_REQUIRED
from apps.compliance.models import (
    AccessAction,
    AccessAlert,
    CheckType,
    DataAccessAuditLog,
    Decision,
    KybKycAuditLog,
)
from apps.compliance.reveal import REVEAL_FORBIDDEN
from tests.accounts.factories import (
    AeUserFactory,
    ComplianceUserFactory,
    IcUserFactory,
    MerchantUserFactory,
    OpsUserFactory,
    UserFactory,
)
from tests.compliance.factories import DataAccessAuditLogFactory, KybKycAuditLogFactory
from tests.merchants.factories import (
    MerchantBankAccountFactory,
    MerchantFactory,
    MerchantPersonFactory,
)

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
GOOD = {"reason": "kyb_review", "details": "Case 42: EIN mismatch with the IRS letter"}


def reveal_url(kind, subject) -> str:
    return reverse("compliance:reveal", args=[kind, subject.pk])


def superuser():
    return UserFactory(is_superuser=True, is_staff=True)


ROLES = {
    "merchant": MerchantUserFactory,
    "ae": AeUserFactory,
    "ic": IcUserFactory,
    "ops": OpsUserFactory,
    "no-role": UserFactory,
    "compliance": ComplianceUserFactory,
    "superuser": superuser,
}
# page -> roles that get it (everyone else: 403)
ALLOWED = {
    "reveal": {"compliance"},
    "access_log": {"compliance", "superuser"},
    "access_log_csv": {"compliance", "superuser"},
    "decisions": {"compliance", "superuser"},
    "decisions_csv": {"compliance", "superuser"},
    "as_of": {"compliance", "superuser"},
    "operations": {"compliance", "ops", "superuser"},
}


def _request(client, page, merchant):
    today = timezone.localdate().isoformat()
    if page == "reveal":
        return client.post(reveal_url("merchant", merchant), GOOD)
    if page == "access_log":
        return client.get(reverse("compliance:access_log"))
    if page == "access_log_csv":
        return client.get(reverse("compliance:access_log"), {"format": "csv"})
    if page == "decisions":
        return client.get(reverse("compliance:decisions"))
    if page == "decisions_csv":
        return client.get(
            reverse("compliance:decisions"),
            {"date_from": today, "date_to": today, "format": "csv"},
        )
    if page == "as_of":
        url = reverse("compliance:merchant_as_of", args=[merchant.pk])
        return client.get(url, {"at": timezone.now().isoformat()})
    return client.get(reverse("compliance:operations"))


@pytest.mark.parametrize("role", list(ROLES))
@pytest.mark.parametrize("page", list(ALLOWED))
def test_role_by_url_on_the_new_compliance_pages(client, role, page):
    merchant = MerchantFactory()
    client.force_login(ROLES[role]())

    response = _request(client, page, merchant)

    assert response.status_code == (200 if role in ALLOWED[page] else 403)
    if role not in ALLOWED[page]:
        assert not DataAccessAuditLog.objects.exists()


@pytest.mark.parametrize("page", list(ALLOWED))
def test_an_anonymous_visitor_is_sent_to_sign_in(client, page):
    response = _request(client, page, MerchantFactory())
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
    assert not DataAccessAuditLog.objects.exists()


def test_a_superuser_outside_the_compliance_role_is_refused_a_reveal(client):
    merchant = MerchantFactory(ein="12-3456789")
    client.force_login(superuser())

    response = client.post(reveal_url("merchant", merchant), GOOD)

    assert response.status_code == 403
    assert "12-3456789" not in response.content.decode()
    assert REVEAL_FORBIDDEN in response.content.decode() or response.status_code == 403


@pytest.mark.parametrize(
    ("kind", "make", "expected"),
    [
        ("merchant", lambda: MerchantFactory(ein="12-3456789"), ["12-3456789"]),
        (
            "person",
            lambda: MerchantPersonFactory(ssn="123-45-6789", date_of_birth="1980-02-03"),
            ["123-45-6789", "1980-02-03"],
        ),
        (
            "bank_account",
            lambda: MerchantBankAccountFactory(
                account_number="987654321", routing_number="021000021"
            ),
            ["987654321", "021000021"],
        ),
    ],
)
def test_compliance_reveals_full_values_once_and_the_reveal_is_logged(client, kind, make, expected):
    subject = make()
    reviewer = ComplianceUserFactory()
    client.force_login(reviewer)

    response = client.post(reveal_url(kind, subject), GOOD, headers=HTMX, REMOTE_ADDR="203.0.113.9")

    body = response.content.decode()
    assert response.status_code == 200
    for value in expected:
        assert value in body
    assert "no-store" in response["Cache-Control"]
    log = DataAccessAuditLog.objects.get()
    merchant_id = subject.pk if kind == "merchant" else subject.merchant_id
    assert (log.user, log.action, log.entity_id, log.merchant_id) == (
        reviewer,
        AccessAction.DECRYPT,
        subject.pk,
        merchant_id,
    )
    assert log.ip_address == "203.0.113.9"
    assert log.access_reason == f"KYB review: {GOOD['details']}"
    assert log.fields_accessed
    # The audit page shows the masked value only, and offers the form.
    page = client.get(reverse("compliance:merchant_audit", args=[merchant_id])).content.decode()
    for value in expected:
        assert value not in page
    assert reveal_url(kind, subject) in page


def test_without_javascript_the_reveal_is_a_page_with_the_values(client):
    merchant = MerchantFactory(ein="12-3456789")
    client.force_login(ComplianceUserFactory())
    response = client.post(reveal_url("merchant", merchant), GOOD)
    assert response.status_code == 200
    assert "12-3456789" in response.content.decode()
    assert "<html" in response.content.decode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, REVEAL_REASON_REQUIRED),
        ({"reason": "curiosity", "details": "just looking"}, REVEAL_REASON_REQUIRED),
        ({"reason": "kyb_review", "details": ""}, REVEAL_DETAILS_REQUIRED),
        ({"reason": "kyb_review", "details": "   "}, REVEAL_DETAILS_REQUIRED),
        ({"reason": "kyb_review", "details": "x" * 100_000}, "At most 500 characters."),
        ({"reason": ["kyb_review", "kyc_review"], "details": "two reasons"}, None),
    ],
    ids=["nothing", "unknown-reason", "no-details", "blank-details", "huge", "list"],
)
def test_a_reveal_without_a_valid_reason_shows_nothing_and_logs_nothing(client, data, message):
    merchant = MerchantFactory(ein="12-3456789")
    client.force_login(ComplianceUserFactory())

    response = client.post(reveal_url("merchant", merchant), data, headers=HTMX)

    assert response.status_code in (200, 422)
    body = response.content.decode()
    if response.status_code == 422:
        assert "12-3456789" not in body
        assert not DataAccessAuditLog.objects.exists()
        if message:
            assert message in body


def test_html_in_the_details_is_kept_as_text(client):
    merchant = MerchantFactory(ein="12-3456789")
    client.force_login(ComplianceUserFactory())
    details = "<script>alert(1)</script> case 7"
    client.post(reveal_url("merchant", merchant), {"reason": "kyb_review", "details": details})
    assert DataAccessAuditLog.objects.get().access_reason.endswith(details)
    page = client.get(reverse("compliance:access_log")).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page


def test_a_nul_character_is_refused_before_the_view(client):
    merchant = MerchantFactory(ein="12-3456789")
    client.force_login(ComplianceUserFactory())
    response = client.post(
        reveal_url("merchant", merchant), {"reason": "kyb_review", "details": "case\x00 7"}
    )
    assert response.status_code == 400
    assert not DataAccessAuditLog.objects.exists()


def test_an_unknown_kind_or_subject_is_a_404(client):
    client.force_login(ComplianceUserFactory())
    merchant = MerchantFactory()
    assert client.post(reveal_url("lead", merchant), GOOD).status_code == 404
    person_url = reverse("compliance:reveal", args=["person", merchant.pk])
    assert client.post(person_url, GOOD).status_code == 404
    assert client.get(reveal_url("merchant", merchant)).status_code == 405
    assert not DataAccessAuditLog.objects.exists()


@override_settings(REVEAL_ALERT_COUNT=3, REVEAL_ALERT_WINDOW_MINUTES=10)
def test_repeated_reveals_by_one_user_raise_one_alert_to_ops(
    client, django_capture_on_commit_callbacks
):
    ops = OpsUserFactory()
    reviewer = ComplianceUserFactory()
    client.force_login(reviewer)
    merchants = [MerchantFactory() for _ in range(5)]

    with django_capture_on_commit_callbacks(execute=True):
        for merchant in merchants[:2]:
            client.post(reveal_url("merchant", merchant), GOOD)
        assert not AccessAlert.objects.exists()
        for merchant in merchants[2:]:
            client.post(reveal_url("merchant", merchant), GOOD)

    alert = AccessAlert.objects.get()
    assert (alert.user, alert.reveal_count, alert.merchant_count) == (reviewer, 3, 3)
    assert [message.to for message in mail.outbox] == [[ops.email]]
    client.force_login(ops)
    page = client.get(reverse("compliance:operations")).content.decode()
    assert reviewer.email in page


@override_settings(REVEAL_ALERT_COUNT=3, REVEAL_ALERT_WINDOW_MINUTES=10)
def test_reveals_spread_beyond_the_window_raise_no_alert(client):
    reviewer = ComplianceUserFactory()
    for minutes in (40, 25):
        DataAccessAuditLogFactory(
            user=reviewer, accessed_at=timezone.now() - timedelta(minutes=minutes)
        )
    client.force_login(reviewer)
    client.post(reveal_url("merchant", MerchantFactory()), GOOD)
    assert not AccessAlert.objects.exists()


# --- The data access log page -------------------------------------------------------------


def test_the_access_log_is_searchable_by_user_merchant_and_date(client):
    alice, bob = ComplianceUserFactory(email="alice@staff.test"), ComplianceUserFactory()
    acme, other = MerchantFactory(legal_business_name="Acme Bikes"), MerchantFactory()
    recent = DataAccessAuditLogFactory(user=alice, merchant_id=acme.pk, entity_id=acme.pk)
    DataAccessAuditLogFactory(user=bob, merchant_id=other.pk, entity_id=other.pk)
    old = DataAccessAuditLogFactory(
        user=alice, merchant_id=other.pk, accessed_at=timezone.now() - timedelta(days=40)
    )
    client.force_login(bob)
    url = reverse("compliance:access_log")

    def found(**params):
        page = client.get(url, params).context["page"]
        return {row.pk for row in page.object_list}

    assert found(user="alice@") == {recent.pk, old.pk}
    assert found(merchant="acme") == {recent.pk}
    assert found(merchant=str(other.pk), user="alice") == {old.pk}
    day = (timezone.localdate() - timedelta(days=40)).isoformat()
    assert found(date_from=day, date_to=day) == {old.pk}


@pytest.mark.parametrize(
    "params",
    [
        {"date_from": "yesterday"},
        {"date_from": "2025-02-30"},
        {"date_from": "2025-03-02", "date_to": "2025-03-01"},
        {"user": "x" * 5000},
    ],
)
def test_a_bad_search_is_a_400_with_the_reason(client, params):
    client.force_login(ComplianceUserFactory())
    response = client.get(reverse("compliance:access_log"), params)
    assert response.status_code == 400
    assert (
        'class="error"' in response.content.decode() or "message-error" in response.content.decode()
    )


def test_the_access_log_page_costs_the_same_queries_for_more_rows(
    client, django_assert_max_num_queries
):
    client.force_login(ComplianceUserFactory())
    url = reverse("compliance:access_log")
    DataAccessAuditLogFactory.create_batch(2, merchant_id=MerchantFactory().pk)
    with django_assert_max_num_queries(12) as small:
        client.get(url)
    for _ in range(30):
        DataAccessAuditLogFactory(merchant_id=MerchantFactory().pk)
    with django_assert_max_num_queries(len(small.captured_queries)):
        client.get(url)


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_the_access_log_csv_is_formula_safe_and_its_export_is_logged(client):
    reviewer = ComplianceUserFactory()
    DataAccessAuditLogFactory(access_reason='=HYPERLINK("http://evil")')
    client.force_login(reviewer)

    response = client.get(reverse("compliance:access_log"), {"format": "csv"})

    rows = _csv(response)
    assert rows[0][0] == "accessed_at"
    reasons = [row[9] for row in rows[1:]]
    assert '\'=HYPERLINK("http://evil")' in reasons
    export = DataAccessAuditLog.objects.get(action=AccessAction.EXPORT)
    assert (export.user, export.entity_type) == (reviewer, "data_access_log")


# --- Decision log export ---------------------------------------------------------------------


# Midday: the decisions two hours apart fall on the same day (run near midnight, they did not).
@time_machine.travel(datetime(2026, 6, 1, 12, 0, tzinfo=UTC), tick=False)
def test_the_decision_export_has_actor_reason_check_id_and_previous_state(client):
    reviewer = ComplianceUserFactory(email="rev@staff.test")
    merchant = MerchantFactory(legal_business_name="=cmd|' /C calc'!A0")
    now = timezone.now()
    KybKycAuditLogFactory(
        merchant=merchant,
        decision=Decision.REVIEW_REQUIRED,
        check_reference="kyb_check_1",
        decision_reason="Watchlist hit",
        submitted_at=now - timedelta(hours=2),
    )
    KybKycAuditLogFactory(
        merchant=merchant,
        decision=Decision.APPROVED,
        check_reference="kyb_check_1",
        reviewed_by=reviewer,
        reviewer_notes="Documents verified",
        manual_override=True,
        submitted_at=now - timedelta(hours=1),
    )
    person = MerchantPersonFactory(merchant=merchant)
    KybKycAuditLogFactory(
        merchant=merchant,
        person=person,
        check_type=CheckType.KYC,
        decision=Decision.APPROVED,
        check_reference="kyc_check_9",
        submitted_at=now,
    )
    # Outside the range: not exported.
    KybKycAuditLogFactory(submitted_at=now - timedelta(days=10))
    client.force_login(reviewer)
    today = timezone.localdate().isoformat()

    response = client.get(
        reverse("compliance:decisions"), {"date_from": today, "date_to": today, "format": "csv"}
    )

    rows = _csv(response)
    header, data = rows[0], [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert "previous_decision" in header
    assert [(r["decision"], r["previous_decision"], r["provider_check_id"]) for r in data] == [
        ("review_required", "", "kyb_check_1"),
        ("approved", "review_required", "kyb_check_1"),
        ("approved", "", "kyc_check_9"),
    ]
    assert data[1]["actor"] == "rev@staff.test"
    assert data[1]["reason"] == "Documents verified"
    assert data[0]["actor"] == "provider (sandbox)"
    assert data[0]["merchant"].startswith("'=")
    export = DataAccessAuditLog.objects.get()
    assert (export.action, export.entity_type) == (AccessAction.EXPORT, "kyb_kyc_decisions")
    assert today in export.access_reason


@pytest.mark.parametrize(
    "params",
    [
        {"date_from": "2025-01-01", "format": "csv"},
        {"date_from": "soon", "date_to": "2025-01-01", "format": "csv"},
        {"date_from": "2025-02-01", "date_to": "2025-01-01", "format": "csv"},
        {"date_from": "1990-01-01", "date_to": "2025-01-01", "format": "csv"},
        {"date_from": "<b>", "date_to": "2025-01-01"},
    ],
)
def test_a_bad_decision_range_is_a_400_and_nothing_is_exported(client, params):
    client.force_login(ComplianceUserFactory())
    response = client.get(reverse("compliance:decisions"), params)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert not DataAccessAuditLog.objects.exists()
    assert KybKycAuditLog.objects.count() == 0
