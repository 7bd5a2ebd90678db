"""What the portal asks of each external system. Two implementations of each interface:
`sandbox` (deterministic, no network, the default) and `http` (real providers).

Contract every implementation keeps:
- Every call that creates or changes something remote takes `idempotency_key` (the outbox
  event id, or a key derived from it): calling again with the same key returns the first
  call's result and performs nothing new remotely.
- Failures raise RetryableError (timeouts, 5xx, 429, connection refused: try again later)
  or PermanentError (4xx, validation, declined: retrying cannot help).
- Results are plain dicts of JSON-serialisable values; each documented key is present.
- Decisions that take time (KYB, KYC, bank verification, shipment tracking) are not in the
  result: they arrive later as signed webhooks through /api/v1/webhooks/<provider>/.
"""

from abc import ABC, abstractmethod
from decimal import Decimal


class ProviderError(Exception):
    def __init__(self, message: str, *, code: str = "provider_error", status: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


class RetryableError(ProviderError):
    """Worth retrying later with backoff."""


class PermanentError(ProviderError):
    """Retrying will not help; a person must look."""


class CrmProvider(ABC):
    system = "crm"

    @abstractmethod
    def upsert_lead(self, *, idempotency_key: str, lead: dict) -> dict:
        """Create or update the CRM lead for `lead["lead_id"]`.
        Returns {"crm_lead_id": str, "updated_at": iso str, "fields": dict}."""

    @abstractmethod
    def get_lead(self, *, crm_lead_id: str) -> dict:
        """Returns {"crm_lead_id", "updated_at", "fields": {...}, "owner_email": str|None}."""


class XSeriesProvider(ABC):
    system = "x_series"

    @abstractmethod
    def create_account(self, *, idempotency_key: str, merchant: dict) -> dict:
        """Returns {"account_id": str}."""

    @abstractmethod
    def create_location(self, *, idempotency_key: str, account_id: str, location: dict) -> dict:
        """Returns {"location_id": str}."""

    @abstractmethod
    def allocate_licences(
        self, *, idempotency_key: str, account_id: str, licences: list[dict]
    ) -> dict:
        """licences: [{"sku", "quantity", "location_id"|None}]. Returns {"licence_ids": [str]}."""

    @abstractmethod
    def close_account(self, *, idempotency_key: str, account_id: str, reason: str) -> dict:
        """Close an account (its licences released): a purchase that provisioned it was
        refunded. Returns {"account_id": str, "status": "closed"}."""


class PaymentsProvider(ABC):
    system = "payments"

    @abstractmethod
    def create_account(self, *, idempotency_key: str, merchant: dict) -> dict:
        """Returns {"account_id": str}."""

    @abstractmethod
    def submit_kyb(self, *, idempotency_key: str, business: dict) -> dict:
        """business: {"merchant_id", "legal_name", "ein", "structure", "address": {...}}.
        Returns {"check_id": str, "status": "pending"}; the decision comes by webhook
        `kyb.decision` {"merchant_id", "check_id", "decision", "reason", "risk_score"}."""

    @abstractmethod
    def submit_kyc(self, *, idempotency_key: str, person: dict) -> dict:
        """person: {"person_id", "merchant_id", "first_name", "last_name", "ssn",
        "date_of_birth", ...}. Returns {"check_id", "status": "pending"}; decision by webhook
        `kyc.decision` {"person_id", "check_id", "decision", "reason", "risk_score"}."""

    @abstractmethod
    def close_account(self, *, idempotency_key: str, account_id: str, reason: str) -> dict:
        """Close a payments account never activated, opened for a purchase since refunded.
        Returns {"account_id": str, "status": "closed"}."""

    @abstractmethod
    def verify_bank_account(self, *, idempotency_key: str, bank_account: dict) -> dict:
        """bank_account: {"bank_account_id", "merchant_id", "routing_number",
        "account_number", "holder"}. Returns {"verification_id", "status": "pending"};
        result by webhook `bank_account.verification` {"bank_account_id", "verified", "reason"}."""


class HardwareProvider(ABC):
    system = "hardware"

    @abstractmethod
    def create_order(self, *, idempotency_key: str, order: dict) -> dict:
        """order: {"order_id", "items": [{"sku", "quantity"}], "ship_to": {...}}.
        Returns {"hardware_order_id": str, "shipments": [{"shipment_ref", "tracking_number",
        "carrier"}]}; tracking arrives by webhook `shipment.status`
        {"shipment_ref", "tracking_number", "status", "reason"}."""

    @abstractmethod
    def cancel_order(self, *, idempotency_key: str, hardware_order_id: str) -> dict:
        """Returns {"cancelled": bool}."""


class BillingProvider(ABC):
    system = "billing"

    @abstractmethod
    def create_customer(self, *, idempotency_key: str, merchant: dict) -> dict:
        """Returns {"customer_id": str}."""

    @abstractmethod
    def authorize(
        self, *, idempotency_key: str, customer_id: str, amount: Decimal, currency: str
    ) -> dict:
        """Returns {"authorization_id": str}. A declined card raises PermanentError
        (code "card_declined")."""

    @abstractmethod
    def capture(self, *, idempotency_key: str, authorization_id: str) -> dict:
        """Returns {"charge_id": str}."""

    @abstractmethod
    def refund(self, *, idempotency_key: str, charge_id: str, amount: Decimal) -> dict:
        """Returns {"refund_id": str}."""


class EmailProvider(ABC):
    system = "email"

    @abstractmethod
    def send(
        self, *, idempotency_key: str, to: str, subject: str, body: str, html_body: str = ""
    ) -> dict:
        """Plain text `body`, and `html_body` as its HTML alternative when given.
        Returns {"message_id": str}."""
