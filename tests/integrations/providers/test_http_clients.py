"""The http providers against a real local HTTP server: the request each call makes, and
how every kind of failure maps to RetryableError or PermanentError."""

import json
from decimal import Decimal

import pytest

from apps.integrations.providers import get_provider
from apps.integrations.providers.base import PermanentError, RetryableError
from tests.integrations.providers.conftest import http_settings

# (system, method, kwargs, HTTP method, path under the base URL, JSON body sent, answer)
CALLS = [
    (
        "crm",
        "upsert_lead",
        {"lead": {"lead_id": "L1", "fields": {"Phone": "555"}}},
        "POST",
        "leads",
        {"lead_id": "L1", "fields": {"Phone": "555"}},
        {"crm_lead_id": "c1", "updated_at": "2026-01-01T00:00:00Z", "fields": {}},
    ),
    (
        "crm",
        "get_lead",
        {"crm_lead_id": "c/1"},
        "GET",
        "leads/c%2F1",
        None,
        {"crm_lead_id": "c/1", "updated_at": "2026-01-01T00:00:00Z", "fields": {}},
    ),
    (
        "x_series",
        "create_account",
        {"merchant": {"name": "M"}},
        "POST",
        "accounts",
        {"name": "M"},
        {"account_id": "a1"},
    ),
    (
        "x_series",
        "create_location",
        {"account_id": "a1", "location": {"name": "Main"}},
        "POST",
        "accounts/a1/locations",
        {"name": "Main"},
        {"location_id": "l1"},
    ),
    (
        "x_series",
        "allocate_licences",
        {"account_id": "a1", "licences": [{"sku": "POS"}]},
        "POST",
        "accounts/a1/licences",
        {"licences": [{"sku": "POS"}]},
        {"licence_ids": ["x"]},
    ),
    (
        "payments",
        "create_account",
        {"merchant": {"name": "M"}},
        "POST",
        "accounts",
        {"name": "M"},
        {"account_id": "p1"},
    ),
    (
        "payments",
        "submit_kyb",
        {"business": {"ein": "12-3456789"}},
        "POST",
        "kyb-checks",
        {"ein": "12-3456789"},
        {"check_id": "k1", "status": "pending"},
    ),
    (
        "payments",
        "submit_kyc",
        {"person": {"ssn": "123-45-6789"}},
        "POST",
        "kyc-checks",
        {"ssn": "123-45-6789"},
        {"check_id": "k2", "status": "pending"},
    ),
    (
        "payments",
        "verify_bank_account",
        {"bank_account": {"account_number": "1"}},
        "POST",
        "bank-account-verifications",
        {"account_number": "1"},
        {"verification_id": "v1", "status": "pending"},
    ),
    (
        "hardware",
        "create_order",
        {"order": {"order_id": "o1"}},
        "POST",
        "orders",
        {"order_id": "o1"},
        {"hardware_order_id": "h1", "shipments": []},
    ),
    (
        "hardware",
        "cancel_order",
        {"hardware_order_id": "h1"},
        "POST",
        "orders/h1/cancel",
        {},
        {"cancelled": True},
    ),
    (
        "billing",
        "create_customer",
        {"merchant": {"name": "M"}},
        "POST",
        "customers",
        {"name": "M"},
        {"customer_id": "c1"},
    ),
    (
        "billing",
        "authorize",
        {"customer_id": "c1", "amount": Decimal("12.30"), "currency": "USD"},
        "POST",
        "charges/authorize",
        {"customer_id": "c1", "amount": "12.30", "currency": "USD"},
        {"authorization_id": "au1"},
    ),
    (
        "billing",
        "capture",
        {"authorization_id": "au1"},
        "POST",
        "authorizations/au1/capture",
        {},
        {"charge_id": "ch1"},
    ),
    (
        "billing",
        "refund",
        {"charge_id": "ch1", "amount": Decimal("5.00")},
        "POST",
        "charges/ch1/refunds",
        {"amount": "5.00"},
        {"refund_id": "r1"},
    ),
    (
        "email",
        "send",
        {"to": "m@example.com", "subject": "S", "body": "B"},
        "POST",
        "messages",
        {"to": "m@example.com", "subject": "S", "body": "B"},
        {"message_id": "m1"},
    ),
]


@pytest.mark.parametrize(
    ("system", "method", "kwargs", "verb", "path", "sent", "answer"),
    CALLS,
    ids=[f"{call[0]}.{call[1]}" for call in CALLS],
)
def test_each_call_sends_its_request_and_returns_the_answer(
    http_mode, system, method, kwargs, verb, path, sent, answer
):
    writes = method != "get_lead"
    if writes:
        kwargs = {**kwargs, "idempotency_key": "evt-42"}
    http_mode.answer(200, answer)

    result = getattr(get_provider(system), method)(**kwargs)

    assert result == {**answer, **({} if writes else {"owner_email": None})}
    [request] = http_mode.requests
    assert (request.method, request.path) == (verb, f"/api/{path}")
    assert request.headers["authorization"] == f"Bearer token-{system}"
    assert request.headers.get("idempotency-key") == ("evt-42" if writes else None)
    assert request.body == sent


def upsert():
    return get_provider("crm").upsert_lead(idempotency_key="evt-1", lead={"lead_id": "L1"})


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_server_error_is_retryable_and_keeps_its_status(http_mode, status):
    http_mode.answer(status, {})
    with pytest.raises(RetryableError) as failed:
        upsert()
    assert (failed.value.status, failed.value.code) == (status, "server_error")


def test_too_many_requests_is_retryable(http_mode):
    http_mode.answer(429, {"error": "Slow down"})
    with pytest.raises(RetryableError) as failed:
        upsert()
    assert (failed.value.status, failed.value.message) == (429, "Slow down")


def test_a_client_error_is_permanent_with_the_providers_message(http_mode):
    http_mode.answer(400, {"error": "Email is not valid"})
    with pytest.raises(PermanentError) as failed:
        upsert()
    assert (failed.value.status, failed.value.message) == (400, "Email is not valid")


def test_a_client_error_keeps_the_providers_code(http_mode):
    http_mode.answer(402, {"error": {"code": "card_declined", "message": "Declined"}})
    with pytest.raises(PermanentError) as failed:
        get_provider("billing").authorize(
            idempotency_key="k", customer_id="c", amount=Decimal("1.13"), currency="USD"
        )
    assert (failed.value.code, failed.value.message) == ("card_declined", "Declined")


def test_a_client_error_without_a_json_body_is_permanent(http_mode):
    http_mode.answer(404, raw=b"<html>Not found</html>")
    with pytest.raises(PermanentError) as failed:
        upsert()
    assert failed.value.status == 404
    assert "404" in failed.value.message


def test_invalid_json_in_a_success_is_retryable(http_mode):
    http_mode.answer(200, raw=b"{not json")
    with pytest.raises(RetryableError) as failed:
        upsert()
    assert failed.value.code == "invalid_response"


def test_a_success_missing_a_documented_key_is_retryable(http_mode):
    http_mode.answer(200, {"crm_lead_id": "c1"})
    with pytest.raises(RetryableError, match="updated_at"):
        upsert()


def test_a_provider_slower_than_the_timeout_is_retryable(settings, fake_api):
    http_settings(settings, fake_api.url, timeout=0.2)
    fake_api.answer(200, {"crm_lead_id": "c1", "updated_at": "", "fields": {}}, delay=1)
    with pytest.raises(RetryableError) as failed:
        upsert()
    assert failed.value.code == "timeout"


def test_a_refused_connection_is_retryable(settings, closed_port_url):
    http_settings(settings, closed_port_url)
    with pytest.raises(RetryableError) as failed:
        upsert()
    assert failed.value.code == "connection_error"


def test_values_that_json_cannot_encode_by_itself_are_sent_as_strings(http_mode):
    http_mode.answer(200, {"account_id": "a1"})
    get_provider("x_series").create_account(idempotency_key="k", merchant={"gtv": Decimal("1.50")})
    assert http_mode.requests[0].body == {"gtv": "1.50"}
    assert json.loads(json.dumps(http_mode.requests[0].body))
