"""HTTP clients for the real providers (httpx).

Configuration per system (settings "Provider settings"): base URL `<SYSTEM>_API_URL`, bearer
token `<SYSTEM>_API_TOKEN`, timeout PROVIDER_TIMEOUT_SECONDS (connect and read).

Every request sends `Authorization: Bearer <token>` and JSON; every write sends the
idempotency key as `Idempotency-Key` (the provider answers a repeated key with the first
answer). Every answer is a JSON object with the keys documented in base.py.

    crm       POST /leads                                  lead                 upsert_lead
              GET  /leads/{crm_lead_id}                                         get_lead
    x_series  POST /accounts                               merchant             create_account
              POST /accounts/{account_id}/locations        location             create_location
              POST /accounts/{account_id}/licences         {"licences": [...]}  allocate_licences
    payments  POST /accounts                               merchant             create_account
              POST /kyb-checks                             business             submit_kyb
              POST /kyc-checks                             person               submit_kyc
              POST /bank-account-verifications             bank_account         verify_bank_account
    hardware  POST /orders                                 order                create_order
              POST /orders/{hardware_order_id}/cancel      {}                   cancel_order
    billing   POST /customers                              merchant             create_customer
              POST /charges/authorize       {"customer_id", "amount": "12.34", "currency"}
              POST /authorizations/{authorization_id}/capture  {}               capture
              POST /charges/{charge_id}/refunds            {"amount": "12.34"}  refund
    email     POST /messages                               {"to", "subject", "body"}  send

Errors: a connection error, a timeout, 429 or 5xx → RetryableError (status kept); any
other non-2xx → PermanentError with the provider's message and code when the body has
them ({"error": "..."} or {"error": {"message": "...", "code": "..."}}); a 2xx that is
not a JSON object with the documented keys → RetryableError (code "invalid_response").
"""

import json
from decimal import Decimal
from urllib.parse import quote

import httpx
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.serializers.json import DjangoJSONEncoder

from apps.integrations.providers.base import (
    BillingProvider,
    CrmProvider,
    EmailProvider,
    HardwareProvider,
    PaymentsProvider,
    PermanentError,
    RetryableError,
    XSeriesProvider,
)


def _path(template: str, **ids: str) -> str:
    return template.format(**{name: quote(str(value), safe="") for name, value in ids.items()})


class HttpClient:
    """The shared part: one httpx client per provider, and error mapping."""

    system: str  # from the provider interface

    def __init__(self):
        config = settings.PROVIDER_API.get(self.system) or {}
        name = self.system.upper()
        if not config.get("url"):
            raise ImproperlyConfigured(
                f"{name}_API_URL is not set: the {self.system} provider is in http mode "
                f"(set the URL, or INTEGRATIONS_MODE_{name}=sandbox)."
            )
        headers = {"Accept": "application/json", "User-Agent": "merchant-onboarding"}
        if config.get("token"):
            headers["Authorization"] = f"Bearer {config['token']}"
        self.timeout = settings.PROVIDER_TIMEOUT_SECONDS
        self.client = httpx.Client(
            base_url=config["url"], headers=headers, timeout=httpx.Timeout(self.timeout)
        )

    def close(self) -> None:
        self.client.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        expect: tuple[str, ...],
        idempotency_key: str | None = None,
        body: dict | None = None,
    ) -> dict:
        headers = {"Content-Type": "application/json"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        content = None if body is None else json.dumps(body, cls=DjangoJSONEncoder)
        where = f"{self.system} {method} {path}"
        try:
            response = self.client.request(method, path, content=content, headers=headers)
        except httpx.TimeoutException as exc:
            raise RetryableError(
                f"{where}: no answer within {self.timeout} s.", code="timeout"
            ) from exc
        except httpx.TransportError as exc:
            raise RetryableError(f"{where}: {exc}", code="connection_error") from exc
        status = response.status_code
        if status == 429 or status >= 500:
            message, code = _error(response)
            raise RetryableError(
                message or f"{where}: HTTP {status}.",
                code=code or ("rate_limited" if status == 429 else "server_error"),
                status=status,
            )
        if not response.is_success:
            message, code = _error(response)
            raise PermanentError(
                message or f"{where}: HTTP {status}.", code=code or "rejected", status=status
            )
        try:
            result = response.json()
        except ValueError:
            result = None
        if not isinstance(result, dict) or any(key not in result for key in expect):
            raise RetryableError(
                f"{where}: the answer is not a JSON object with {', '.join(expect)}.",
                code="invalid_response",
                status=status,
            )
        return result

    def post(self, path: str, idempotency_key: str, body: dict, *expect: str) -> dict:
        """A write: POST `body` under the idempotency key, expecting these keys back."""
        return self.call("POST", path, idempotency_key=idempotency_key, body=body, expect=expect)


def _error(response: httpx.Response) -> tuple[str | None, str | None]:
    """The provider's own error message and code, if the body has them."""
    try:
        body = response.json()
    except ValueError:
        return None, None
    if not isinstance(body, dict):
        return None, None
    error = body.get("error")
    if isinstance(error, dict):
        return error.get("message"), error.get("code")
    return (error if isinstance(error, str) else body.get("message")), body.get("code")


class HttpCrm(HttpClient, CrmProvider):
    def upsert_lead(self, *, idempotency_key: str, lead: dict) -> dict:
        return self.post("/leads", idempotency_key, lead, "crm_lead_id", "updated_at", "fields")

    def get_lead(self, *, crm_lead_id: str) -> dict:
        result = self.call(
            "GET",
            _path("/leads/{id}", id=crm_lead_id),
            expect=("crm_lead_id", "updated_at", "fields"),
        )
        result.setdefault("owner_email", None)
        return result


class HttpXSeries(HttpClient, XSeriesProvider):
    def create_account(self, *, idempotency_key: str, merchant: dict) -> dict:
        return self.post("/accounts", idempotency_key, merchant, "account_id")

    def create_location(self, *, idempotency_key: str, account_id: str, location: dict) -> dict:
        return self.post(
            _path("/accounts/{id}/locations", id=account_id),
            idempotency_key,
            location,
            "location_id",
        )

    def allocate_licences(
        self, *, idempotency_key: str, account_id: str, licences: list[dict]
    ) -> dict:
        return self.post(
            _path("/accounts/{id}/licences", id=account_id),
            idempotency_key,
            {"licences": licences},
            "licence_ids",
        )

    def close_account(self, *, idempotency_key: str, account_id: str, reason: str) -> dict:
        return self.post(
            _path("/accounts/{id}/close", id=account_id),
            idempotency_key,
            {"reason": reason},
            "account_id",
            "status",
        )


class HttpPayments(HttpClient, PaymentsProvider):
    def create_account(self, *, idempotency_key: str, merchant: dict) -> dict:
        return self.post("/accounts", idempotency_key, merchant, "account_id")

    def close_account(self, *, idempotency_key: str, account_id: str, reason: str) -> dict:
        return self.post(
            _path("/accounts/{id}/close", id=account_id),
            idempotency_key,
            {"reason": reason},
            "account_id",
            "status",
        )

    def submit_kyb(self, *, idempotency_key: str, business: dict) -> dict:
        return self.post("/kyb-checks", idempotency_key, business, "check_id", "status")

    def submit_kyc(self, *, idempotency_key: str, person: dict) -> dict:
        return self.post("/kyc-checks", idempotency_key, person, "check_id", "status")

    def verify_bank_account(self, *, idempotency_key: str, bank_account: dict) -> dict:
        return self.post(
            "/bank-account-verifications",
            idempotency_key,
            bank_account,
            "verification_id",
            "status",
        )


class HttpHardware(HttpClient, HardwareProvider):
    def create_order(self, *, idempotency_key: str, order: dict) -> dict:
        return self.post("/orders", idempotency_key, order, "hardware_order_id", "shipments")

    def cancel_order(self, *, idempotency_key: str, hardware_order_id: str) -> dict:
        return self.post(
            _path("/orders/{id}/cancel", id=hardware_order_id), idempotency_key, {}, "cancelled"
        )


class HttpBilling(HttpClient, BillingProvider):
    def create_customer(self, *, idempotency_key: str, merchant: dict) -> dict:
        return self.post("/customers", idempotency_key, merchant, "customer_id")

    def authorize(
        self, *, idempotency_key: str, customer_id: str, amount: Decimal, currency: str
    ) -> dict:
        return self.post(
            "/charges/authorize",
            idempotency_key,
            {"customer_id": customer_id, "amount": str(amount), "currency": currency},
            "authorization_id",
        )

    def capture(self, *, idempotency_key: str, authorization_id: str) -> dict:
        return self.post(
            _path("/authorizations/{id}/capture", id=authorization_id),
            idempotency_key,
            {},
            "charge_id",
        )

    def refund(self, *, idempotency_key: str, charge_id: str, amount: Decimal) -> dict:
        return self.post(
            _path("/charges/{id}/refunds", id=charge_id),
            idempotency_key,
            {"amount": str(amount)},
            "refund_id",
        )


class HttpEmail(HttpClient, EmailProvider):
    def send(
        self, *, idempotency_key: str, to: str, subject: str, body: str, html_body: str = ""
    ) -> dict:
        message = {"to": to, "subject": subject, "body": body}
        if html_body:
            message["html"] = html_body
        return self.post("/messages", idempotency_key, message, "message_id")


PROVIDERS = {
    provider.system: provider
    for provider in (HttpCrm, HttpXSeries, HttpPayments, HttpHardware, HttpBilling, HttpEmail)
}
