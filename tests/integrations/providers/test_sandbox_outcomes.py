"""The sandbox's deterministic outcomes (DESIGN.md "Integrations"), as a merchant's data
would produce them. Decisions arrive as webhooks through the inbox."""

import uuid
from decimal import Decimal

import pytest
from django.core import mail

from apps.integrations.models import WebhookEvent, WebhookStatus
from apps.integrations.providers import get_provider, sandbox
from apps.integrations.providers.base import PermanentError

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_webhook_handlers")]


def key() -> str:
    return str(uuid.uuid4())


def business(ein: str) -> dict:
    return {
        "merchant_id": str(uuid.uuid4()),
        "legal_name": "Blue Bottle LLC",
        "ein": ein,
        "structure": "llc",
        "address": {"line1": "1 Main St", "postal_code": "94107"},
    }


def person(ssn: str) -> dict:
    return {
        "person_id": str(uuid.uuid4()),
        "merchant_id": str(uuid.uuid4()),
        "first_name": "Ada",
        "last_name": "Lovelace",
        "ssn": ssn,
        "date_of_birth": "1980-12-10",
    }


def bank_account(account_number: str) -> dict:
    return {
        "bank_account_id": str(uuid.uuid4()),
        "merchant_id": str(uuid.uuid4()),
        "routing_number": "110000000",
        "account_number": account_number,
        "holder": "Blue Bottle LLC",
    }


def webhook_data(event_type: str) -> dict:
    event = WebhookEvent.objects.get(event_type=event_type)
    assert event.status == WebhookStatus.PROCESSED
    return event.payload["data"]


@pytest.mark.parametrize(
    ("ein", "decision"),
    [
        ("12-3450000", "rejected"),
        ("12-3459999", "review_required"),
        ("12-3456789", "approved"),
    ],
)
def test_kyb_decision_follows_the_ein(ein, decision, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        result = get_provider("payments").submit_kyb(idempotency_key=key(), business=business(ein))
    assert result["status"] == "pending"
    assert result["check_id"].startswith("kyb_")
    data = webhook_data("kyb.decision")
    assert (data["check_id"], data["decision"]) == (result["check_id"], decision)


@pytest.mark.parametrize(
    ("ssn", "decision"),
    [
        ("123-45-0001", "rejected"),
        ("123-45-9999", "review_required"),
        ("123-45-6789", "approved"),
    ],
)
def test_kyc_decision_follows_the_ssn(ssn, decision, django_capture_on_commit_callbacks):
    applicant = person(ssn)
    with django_capture_on_commit_callbacks(execute=True):
        result = get_provider("payments").submit_kyc(idempotency_key=key(), person=applicant)
    data = webhook_data("kyc.decision")
    assert (data["person_id"], data["check_id"]) == (applicant["person_id"], result["check_id"])
    assert (data["decision"], data["risk_score"]) == (decision, sandbox.RISK_SCORES[decision])


def test_an_ssn_ending_0000_is_refused_as_invalid_and_records_nothing():
    with pytest.raises(PermanentError) as refused:
        get_provider("payments").submit_kyc(idempotency_key=key(), person=person("123-45-0000"))
    assert refused.value.code == "invalid_ssn"
    assert not sandbox.SandboxLedgerEntry.objects.exists()


@pytest.mark.parametrize(
    ("account_number", "verified", "reason"),
    [
        ("000123450000", False, sandbox.BANK_FAILED_REASON),
        ("000123456789", True, ""),
    ],
)
def test_bank_verification_fails_for_account_numbers_ending_0000(
    account_number, verified, reason, django_capture_on_commit_callbacks
):
    account = bank_account(account_number)
    with django_capture_on_commit_callbacks(execute=True):
        result = get_provider("payments").verify_bank_account(
            idempotency_key=key(), bank_account=account
        )
    assert result["status"] == "pending"
    data = webhook_data("bank_account.verification")
    assert data["bank_account_id"] == account["bank_account_id"]
    assert (data["verified"], data["reason"]) == (verified, reason)


def _customer() -> str:
    return get_provider("billing").create_customer(idempotency_key=key(), merchant={})[
        "customer_id"
    ]


def test_an_amount_ending_in_13_cents_is_declined():
    with pytest.raises(PermanentError) as declined:
        get_provider("billing").authorize(
            idempotency_key=key(), customer_id=_customer(), amount=Decimal("49.13"), currency="USD"
        )
    assert declined.value.code == "card_declined"
    assert declined.value.message == sandbox.CARD_DECLINED_MESSAGE


def test_authorize_capture_and_refund_return_their_ids():
    billing = get_provider("billing")
    customer_id = _customer()
    authorization = billing.authorize(
        idempotency_key=key(), customer_id=customer_id, amount=Decimal("49.14"), currency="USD"
    )
    charge = billing.capture(
        idempotency_key=key(), authorization_id=authorization["authorization_id"]
    )
    refund = billing.refund(idempotency_key=key(), charge_id=charge["charge_id"], amount=Decimal(5))
    assert customer_id.startswith("cus_")
    assert authorization["authorization_id"].startswith("auth_")
    assert charge["charge_id"].startswith("ch_")
    assert refund["refund_id"].startswith("re_")


def test_an_id_the_provider_never_issued_is_not_found():
    with pytest.raises(PermanentError) as unknown:
        get_provider("billing").capture(idempotency_key=key(), authorization_id="auth_nope")
    assert (unknown.value.code, unknown.value.status) == ("not_found", 404)


def test_x_series_provisioning_returns_an_account_a_location_and_one_licence_per_unit():
    x_series = get_provider("x_series")
    account_id = x_series.create_account(idempotency_key=key(), merchant={})["account_id"]
    location = x_series.create_location(
        idempotency_key=key(), account_id=account_id, location={"name": "Main"}
    )
    licences = x_series.allocate_licences(
        idempotency_key=key(),
        account_id=account_id,
        licences=[{"sku": "POS", "quantity": 2, "location_id": location["location_id"]}],
    )
    assert account_id.startswith("xs_acct_")
    assert location["location_id"].startswith("xs_loc_")
    assert len(set(licences["licence_ids"])) == 2


def test_ids_are_stable_for_one_key_and_prefixed_per_system():
    idempotency_key = key()
    payments = get_provider("payments").create_account(idempotency_key=idempotency_key, merchant={})
    x_series = get_provider("x_series").create_account(idempotency_key=idempotency_key, merchant={})
    assert payments["account_id"] == sandbox.remote_id("pay_acct", idempotency_key)
    assert x_series["account_id"] == sandbox.remote_id("xs_acct", idempotency_key)


def test_a_crm_lead_keeps_its_id_across_upserts_and_reads_back_its_latest_fields():
    crm = get_provider("crm")
    first = crm.upsert_lead(idempotency_key=key(), lead={"lead_id": "L1", "fields": {"A": "1"}})
    second = crm.upsert_lead(idempotency_key=key(), lead={"lead_id": "L1", "fields": {"B": "2"}})
    assert first["crm_lead_id"] == second["crm_lead_id"]
    assert first["crm_lead_id"].startswith("crm_lead_")
    lead = crm.get_lead(crm_lead_id=first["crm_lead_id"])
    assert lead["fields"] == {"A": "1", "B": "2"}
    assert lead["owner_email"] is None


def test_an_edit_made_in_the_crm_is_what_get_lead_returns():
    crm = get_provider("crm")
    lead = crm.upsert_lead(idempotency_key=key(), lead={"lead_id": "L1", "fields": {"Phone": "1"}})
    sandbox.sandbox_crm_edit(lead["crm_lead_id"], fields={"Phone": "2"})
    assert crm.get_lead(crm_lead_id=lead["crm_lead_id"])["fields"] == {"Phone": "2"}


def test_a_new_owner_in_the_crm_is_announced_by_webhook(django_capture_on_commit_callbacks):
    crm = get_provider("crm")
    lead = crm.upsert_lead(idempotency_key=key(), lead={"lead_id": "L1", "fields": {}})
    with django_capture_on_commit_callbacks(execute=True):
        sandbox.sandbox_crm_edit(lead["crm_lead_id"], owner_email="ae@example.com")
    event = WebhookEvent.objects.get(provider="crm", event_type="lead.owner_changed")
    assert event.payload["data"] == {
        "crm_lead_id": lead["crm_lead_id"],
        "owner_email": "ae@example.com",
    }


def test_reading_an_unknown_crm_lead_is_not_found():
    with pytest.raises(PermanentError) as unknown:
        get_provider("crm").get_lead(crm_lead_id="crm_lead_nope")
    assert unknown.value.code == "not_found"


def test_an_email_is_sent_once_per_key(django_capture_on_commit_callbacks):
    idempotency_key = key()
    email = get_provider("email")
    with django_capture_on_commit_callbacks(execute=True):
        first = email.send(
            idempotency_key=idempotency_key, to="m@example.com", subject="Hi", body="B"
        )
        again = email.send(
            idempotency_key=idempotency_key, to="m@example.com", subject="Hi", body="B"
        )
    assert first == again
    assert first["message_id"].startswith("msg_")
    assert [message.to for message in mail.outbox] == [["m@example.com"]]
