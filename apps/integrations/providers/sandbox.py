"""Sandbox providers: every external system simulated in our own database, no network.

Outcomes follow from the input (DESIGN.md "Integrations"):

    KYB   EIN ending 0000 → rejected; ending 9999 → review_required; else approved
    KYC   SSN ending 0001 → rejected; ending 9999 → review_required; else approved;
          ending 0000 → PermanentError "invalid_ssn" (the forms refuse it first)
    bank  account number ending 0000 → not verified (BANK_FAILED_REASON); else verified
    card  an amount ending in .13 → PermanentError "card_declined"
    ship  ship_to postal code 00000 → tracking ends in failed_delivery; else delivered

Remote effects are recorded in SandboxLedgerEntry, once per (system, operation,
idempotency key): a repeated call returns the first answer and does nothing new, so tests
prove "delivered twice, one remote effect" by counting rows. Ids a sandbox returns are
derived from the key (stable), and an id it never issued is answered with not_found.
Ledger rows are written in the caller's transaction: call providers outside a transaction
that may roll back, as a real provider's effect would not roll back with it.

Faults (SandboxFault rows, see `sandbox_fail`) and SANDBOX_LATENCY_MS simulate outages and
slowness across processes. Decisions that take time reach us the way a real provider sends
them: signed webhooks through the inbox (tasks.sandbox_webhook_send), after commit and
SANDBOX_WEBHOOK_DELAY_SECONDS later.
"""

import hashlib
import json
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.mail import send_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task, schedule

from apps.integrations.models import SandboxFault, SandboxFaultKind, SandboxLedgerEntry
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

WEBHOOK_TASK = "apps.integrations.tasks.sandbox_webhook_send"

REVIEW_REASON = "Manual review required."
KYB_REJECTED_REASON = "The business could not be verified."
KYC_REJECTED_REASON = "The identity could not be verified."
RISK_SCORES = {"approved": 12, "review_required": 55, "rejected": 91}
INVALID_SSN_MESSAGE = "The SSN is not valid."
BANK_FAILED_REASON = "Account could not be verified"
CARD_DECLINED_MESSAGE = "The card was declined."
UNDELIVERABLE_POSTAL_CODE = "00000"
DELIVERY_FAILED_REASON = "The carrier could not deliver to this address."
SHIPMENT_STEPS = ("pending", "processing", "shipped", "in_transit", "delivered")
FAILED_SHIPMENT_STEPS = (*SHIPMENT_STEPS[:-1], "failed_delivery")

# Stored masked in the ledger: numbers keep their last 4 digits, a birth date nothing.
MASKED_LAST4 = {"ssn", "ein", "account_number", "routing_number"}
MASKED_FULLY = {"date_of_birth"}


# --- Outcome rules ----------------------------------------------------------------------


def _digits(value) -> str:
    return "".join(char for char in str(value or "") if char.isdigit())


def kyb_decision(ein) -> str:
    ein = _digits(ein)
    if ein.endswith("0000"):
        return "rejected"
    return "review_required" if ein.endswith("9999") else "approved"


def kyc_decision(ssn) -> str:
    ssn = _digits(ssn)
    if ssn.endswith("0001"):
        return "rejected"
    return "review_required" if ssn.endswith("9999") else "approved"


def shipment_steps(ship_to: dict) -> tuple[str, ...]:
    postal_code = str((ship_to or {}).get("postal_code", "")).strip()
    return FAILED_SHIPMENT_STEPS if postal_code == UNDELIVERABLE_POSTAL_CODE else SHIPMENT_STEPS


def _digest(*parts: str) -> str:
    return hashlib.sha256(":".join(parts).encode()).hexdigest()


def remote_id(prefix: str, *parts: str) -> str:
    return f"{prefix}_{_digest(*parts)[:20]}"


# --- Ledger -----------------------------------------------------------------------------


def _masked(value, key: str = ""):
    if key in MASKED_LAST4 and value:
        return f"***{_digits(value)[-4:]}"
    if key in MASKED_FULLY and value:
        return "****"
    if isinstance(value, dict):
        return {name: _masked(item, name) for name, item in value.items()}
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value


def _jsonable(value):
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def _effect(
    system: str,
    operation: str,
    key: str,
    request: dict,
    compute: Callable[[], dict],
    *,
    requires: tuple[str, str, str] | None = None,
    then: Callable[[], None] | None = None,
) -> dict:
    """Perform one remote effect at most once per key. `requires` (operation, field, id):
    an id this sandbox must have issued before. `compute()` builds the response (it may
    raise to refuse the call: nothing is recorded). `then()` runs after commit, only for the
    call that recorded the effect (webhooks, mail)."""
    if not key:
        raise PermanentError("An idempotency key is required.", code="missing_idempotency_key")
    _simulate_conditions(system, operation)
    lookup = {"system": system, "operation": operation, "idempotency_key": key}
    entry = SandboxLedgerEntry.objects.filter(**lookup).first()
    if entry is not None:
        return entry.response
    if requires is not None:
        _require_issued(system, *requires)
    response = compute()
    # A concurrent call with the same key may record first: get_or_create returns its row.
    entry, created = SandboxLedgerEntry.objects.get_or_create(
        **lookup, defaults={"request": _masked(_jsonable(request)), "response": response}
    )
    if created and then is not None:
        transaction.on_commit(then)
    return entry.response


def _require_issued(system: str, operation: str, field: str, value: str) -> None:
    """Refuse an id this sandbox never returned, as the real provider would (404)."""
    issued = SandboxLedgerEntry.objects.filter(
        system=system, operation=operation, **{f"response__{field}": value}
    )
    if not issued.exists():
        raise PermanentError(f"Unknown {field} “{value}”.", code="not_found", status=404)


# --- Faults and latency -----------------------------------------------------------------


def sandbox_fail(
    system: str,
    operation: str = "*",
    times: int | None = 1,
    kind: str = SandboxFaultKind.RETRYABLE,
    *,
    message: str = "",
    latency_ms: int = 0,
) -> SandboxFault:
    """Make the next `times` calls of `system.operation` ("*": any) fail with `kind` after
    waiting `latency_ms`; times=None: until sandbox_clear_faults. kind="latency" only
    slows them down."""
    return SandboxFault.objects.create(
        system=system,
        operation=operation,
        remaining_failures=times,
        kind=kind,
        message=message,
        latency_ms=latency_ms,
    )


def sandbox_clear_faults(system: str | None = None) -> None:
    faults = SandboxFault.objects.all()
    if system is not None:
        faults = faults.filter(system=system)
    faults.delete()


def _consume_fault(system: str, operation: str) -> SandboxFault | None:
    # The lock makes two concurrent callers use up two failures. The error is raised after
    # this block so that raising does not undo the decrement (a caller's own transaction
    # still can: see the module docstring).
    with transaction.atomic():
        fault = (
            SandboxFault.objects.select_for_update()
            .filter(system=system, operation__in=[operation, "*"])
            .exclude(remaining_failures=0)
            .first()
        )
        if fault is not None and fault.remaining_failures is not None:
            fault.remaining_failures -= 1
            if fault.remaining_failures:
                fault.save(update_fields=["remaining_failures"])
            else:
                fault.delete()
    return fault


def _simulate_conditions(system: str, operation: str) -> None:
    fault = _consume_fault(system, operation)
    latency_ms = settings.SANDBOX_LATENCY_MS + (fault.latency_ms if fault else 0)
    if latency_ms > 0:
        time.sleep(latency_ms / 1000)
    if fault is None or fault.kind == SandboxFaultKind.LATENCY:
        return
    message = fault.message or f"The {system} sandbox is failing {operation} (injected fault)."
    if fault.kind == SandboxFaultKind.PERMANENT:
        raise PermanentError(message, code="sandbox_fault", status=422)
    raise RetryableError(message, code="sandbox_fault", status=503)


# --- Webhooks ---------------------------------------------------------------------------


def _send_webhooks(provider: str, events: list[dict]) -> None:
    """Enqueue one signed delivery per event; with a delay, the n-th arrives n delays later
    (tracking steps spread out in order)."""
    delay, now = settings.SANDBOX_WEBHOOK_DELAY_SECONDS, timezone.now()
    for position, event in enumerate(events, start=1):
        body = json.dumps(event, cls=DjangoJSONEncoder)
        if delay > 0:
            next_run = now + timedelta(seconds=delay * position)
            schedule(WEBHOOK_TASK, provider, body, next_run=next_run)
        else:
            async_task(WEBHOOK_TASK, provider, body, task_name=f"sandbox_webhook:{event['id']}")


def _webhooks(provider: str, *events: dict) -> Callable[[], None]:
    events = _jsonable(list(events))
    return lambda: _send_webhooks(provider, events)


# --- Providers --------------------------------------------------------------------------


class SandboxCrm(CrmProvider):
    def upsert_lead(self, *, idempotency_key: str, lead: dict) -> dict:
        crm_lead_id = remote_id("crm_lead", str(lead["lead_id"]))
        fields = lead.get("fields", {k: v for k, v in lead.items() if k != "lead_id"})

        def compute():
            current = _crm_lead(crm_lead_id) or {"fields": {}, "owner_email": None}
            return {
                "crm_lead_id": crm_lead_id,
                "updated_at": timezone.now().isoformat(),
                "fields": {**current["fields"], **_jsonable(fields)},
                "owner_email": current["owner_email"],
            }

        return _effect(self.system, "upsert_lead", idempotency_key, lead, compute)

    def get_lead(self, *, crm_lead_id: str) -> dict:
        _simulate_conditions(self.system, "get_lead")
        lead = _crm_lead(crm_lead_id)
        if lead is None:
            raise PermanentError(f"No CRM lead “{crm_lead_id}”.", code="not_found", status=404)
        return lead


CRM_EDIT = "edit_in_crm"


def _crm_lead(crm_lead_id: str) -> dict | None:
    """The CRM's current copy of a lead: the latest upsert or edit."""
    entry = (
        SandboxLedgerEntry.objects.filter(
            system="crm",
            operation__in=["upsert_lead", CRM_EDIT],
            response__crm_lead_id=crm_lead_id,
        )
        .order_by("-created_at", "-pk")
        .first()
    )
    return entry.response if entry else None


def sandbox_crm_edit(
    crm_lead_id: str, *, fields: dict | None = None, owner_email: str | None = None
) -> dict:
    """Someone edits the lead inside the CRM (for tests of sync conflicts and pulls). A new
    owner is announced as the real CRM does it: webhook `lead.owner_changed`. Not a call
    of ours, so no fault or latency applies."""
    current = _crm_lead(crm_lead_id)
    if current is None:
        raise PermanentError(f"No CRM lead “{crm_lead_id}”.", code="not_found", status=404)
    edited = {
        **current,
        "updated_at": timezone.now().isoformat(),
        "fields": {**current["fields"], **_jsonable(fields or {})},
        "owner_email": owner_email or current["owner_email"],
    }
    edit = SandboxLedgerEntry.objects.create(
        system="crm",
        operation=CRM_EDIT,
        idempotency_key=uuid.uuid4().hex,
        request=_masked(_jsonable({"fields": fields or {}, "owner_email": owner_email})),
        response=edited,
    )
    if edited["owner_email"] != current["owner_email"]:
        data = {"crm_lead_id": crm_lead_id, "owner_email": edited["owner_email"]}
        event_id = f"evt_{edit.idempotency_key}_owner"
        transaction.on_commit(
            _webhooks("crm", {"id": event_id, "type": "lead.owner_changed", "data": data})
        )
    return edited


class SandboxXSeries(XSeriesProvider):
    def create_account(self, *, idempotency_key: str, merchant: dict) -> dict:
        account_id = remote_id("xs_acct", idempotency_key)
        return _effect(
            self.system,
            "create_account",
            idempotency_key,
            merchant,
            lambda: {"account_id": account_id},
        )

    def create_location(self, *, idempotency_key: str, account_id: str, location: dict) -> dict:
        location_id = remote_id("xs_loc", idempotency_key)
        return _effect(
            self.system,
            "create_location",
            idempotency_key,
            {"account_id": account_id, "location": location},
            lambda: {"location_id": location_id},
            requires=("create_account", "account_id", account_id),
        )

    def allocate_licences(
        self, *, idempotency_key: str, account_id: str, licences: list[dict]
    ) -> dict:
        units = sum(int(licence.get("quantity", 1)) for licence in licences)
        licence_ids = [remote_id("xs_lic", idempotency_key, str(n)) for n in range(units)]
        return _effect(
            self.system,
            "allocate_licences",
            idempotency_key,
            {"account_id": account_id, "licences": licences},
            lambda: {"licence_ids": licence_ids},
            requires=("create_account", "account_id", account_id),
        )

    def close_account(self, *, idempotency_key: str, account_id: str, reason: str) -> dict:
        return _close_account(self.system, idempotency_key, account_id, reason)


def _close_account(system: str, idempotency_key: str, account_id: str, reason: str) -> dict:
    return _effect(
        system,
        "close_account",
        idempotency_key,
        {"account_id": account_id, "reason": reason},
        lambda: {"account_id": account_id, "status": "closed"},
        requires=("create_account", "account_id", account_id),
    )


def _identity_check(
    system: str,
    *,
    check: str,
    subject_key: str,
    idempotency_key: str,
    request: dict,
    decision: str,
    rejected_reason: str,
    refuse: Callable[[], None] | None = None,
) -> dict:
    """A KYB or KYC check: answered "pending" at once; its decision (from the sandbox rules)
    arrives later as a signed `<check>.decision` webhook naming the check id."""

    def compute():
        if refuse is not None:
            refuse()
        return {"check_id": check_id, "status": "pending"}

    check_id = remote_id(check, idempotency_key)
    reasons = {"rejected": rejected_reason, "review_required": REVIEW_REASON}
    data = {
        subject_key: request.get(subject_key),
        "check_id": check_id,
        "decision": decision,
        "reason": reasons.get(decision, ""),
        "risk_score": RISK_SCORES[decision],
    }
    event = {"id": f"evt_{check_id}_decision", "type": f"{check}.decision", "data": data}
    return _effect(
        system, f"submit_{check}", idempotency_key, request, compute, then=_webhooks(system, event)
    )


class SandboxPayments(PaymentsProvider):
    def create_account(self, *, idempotency_key: str, merchant: dict) -> dict:
        account_id = remote_id("pay_acct", idempotency_key)
        return _effect(
            self.system,
            "create_account",
            idempotency_key,
            merchant,
            lambda: {"account_id": account_id},
        )

    def close_account(self, *, idempotency_key: str, account_id: str, reason: str) -> dict:
        return _close_account(self.system, idempotency_key, account_id, reason)

    def submit_kyb(self, *, idempotency_key: str, business: dict) -> dict:
        return _identity_check(
            self.system,
            check="kyb",
            subject_key="merchant_id",
            idempotency_key=idempotency_key,
            request=business,
            decision=kyb_decision(business.get("ein")),
            rejected_reason=KYB_REJECTED_REASON,
        )

    def submit_kyc(self, *, idempotency_key: str, person: dict) -> dict:
        def refuse():
            if _digits(person.get("ssn")).endswith("0000"):
                raise PermanentError(INVALID_SSN_MESSAGE, code="invalid_ssn", status=422)

        return _identity_check(
            self.system,
            check="kyc",
            subject_key="person_id",
            idempotency_key=idempotency_key,
            request=person,
            decision=kyc_decision(person.get("ssn")),
            rejected_reason=KYC_REJECTED_REASON,
            refuse=refuse,
        )

    def verify_bank_account(self, *, idempotency_key: str, bank_account: dict) -> dict:
        verification_id = remote_id("bav", idempotency_key)
        verified = not _digits(bank_account.get("account_number")).endswith("0000")
        data = {
            "bank_account_id": bank_account.get("bank_account_id"),
            "verification_id": verification_id,
            "verified": verified,
            "reason": "" if verified else BANK_FAILED_REASON,
        }
        event = {
            "id": f"evt_{verification_id}_result",
            "type": "bank_account.verification",
            "data": data,
        }
        return _effect(
            self.system,
            "verify_bank_account",
            idempotency_key,
            bank_account,
            lambda: {"verification_id": verification_id, "status": "pending"},
            then=_webhooks(self.system, event),
        )


class SandboxHardware(HardwareProvider):
    def create_order(self, *, idempotency_key: str, order: dict) -> dict:
        hardware_order_id = remote_id("hw_ord", idempotency_key)
        shipment = {
            "shipment_ref": remote_id("shp", idempotency_key),
            "tracking_number": "1Z" + _digest("tracking", idempotency_key)[:16].upper(),
            "carrier": "UPS",
        }
        tracking = [
            {
                "id": f"evt_{shipment['shipment_ref']}_{status}",
                "type": "shipment.status",
                "data": {
                    **shipment,
                    "hardware_order_id": hardware_order_id,
                    "status": status,
                    "reason": DELIVERY_FAILED_REASON if status == "failed_delivery" else "",
                },
            }
            for status in shipment_steps(order.get("ship_to"))
        ]
        return _effect(
            self.system,
            "create_order",
            idempotency_key,
            order,
            lambda: {"hardware_order_id": hardware_order_id, "shipments": [shipment]},
            then=_webhooks(self.system, *tracking),
        )

    def cancel_order(self, *, idempotency_key: str, hardware_order_id: str) -> dict:
        return _effect(
            self.system,
            "cancel_order",
            idempotency_key,
            {"hardware_order_id": hardware_order_id},
            lambda: {"cancelled": True},
            requires=("create_order", "hardware_order_id", hardware_order_id),
        )


class SandboxBilling(BillingProvider):
    def create_customer(self, *, idempotency_key: str, merchant: dict) -> dict:
        customer_id = remote_id("cus", idempotency_key)
        return _effect(
            self.system,
            "create_customer",
            idempotency_key,
            merchant,
            lambda: {"customer_id": customer_id},
        )

    def authorize(
        self, *, idempotency_key: str, customer_id: str, amount: Decimal, currency: str
    ) -> dict:
        def compute():
            if Decimal(str(amount)) * 100 % 100 == 13:
                raise PermanentError(CARD_DECLINED_MESSAGE, code="card_declined", status=402)
            return {"authorization_id": remote_id("auth", idempotency_key)}

        return _effect(
            self.system,
            "authorize",
            idempotency_key,
            {"customer_id": customer_id, "amount": amount, "currency": currency},
            compute,
            requires=("create_customer", "customer_id", customer_id),
        )

    def capture(self, *, idempotency_key: str, authorization_id: str) -> dict:
        charge_id = remote_id("ch", idempotency_key)
        return _effect(
            self.system,
            "capture",
            idempotency_key,
            {"authorization_id": authorization_id},
            lambda: {"charge_id": charge_id},
            requires=("authorize", "authorization_id", authorization_id),
        )

    def refund(self, *, idempotency_key: str, charge_id: str, amount: Decimal) -> dict:
        refund_id = remote_id("re", idempotency_key)
        return _effect(
            self.system,
            "refund",
            idempotency_key,
            {"charge_id": charge_id, "amount": amount},
            lambda: {"refund_id": refund_id},
            requires=("capture", "charge_id", charge_id),
        )


class SandboxEmail(EmailProvider):
    """Sends through Django's EMAIL_BACKEND (console in development, locmem in tests), once
    per key, after commit."""

    def send(
        self, *, idempotency_key: str, to: str, subject: str, body: str, html_body: str = ""
    ) -> dict:
        message_id = remote_id("msg", idempotency_key)
        return _effect(
            self.system,
            "send",
            idempotency_key,
            {"to": to, "subject": subject, "body": body},
            lambda: {"message_id": message_id},
            then=lambda: send_mail(subject, body, None, [to], html_message=html_body or None),
        )


PROVIDERS = {
    provider.system: provider
    for provider in (
        SandboxCrm,
        SandboxXSeries,
        SandboxPayments,
        SandboxHardware,
        SandboxBilling,
        SandboxEmail,
    )
}
