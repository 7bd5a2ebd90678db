"""Outbox and webhook handlers of steps 2-3: the verification email, the KYB check sent to
the payments provider and its decision coming back.

Each handler is idempotent (delivery is at least once): the email and the KYB submission go
out once per outbox event (its id is the provider's idempotency key), and a decision that
finds the merchant no longer waiting for one is logged and ignored.
"""

import logging
from decimal import Decimal, InvalidOperation

from django.template.loader import render_to_string

from apps.compliance.models import KybKycAuditLog
from apps.integrations import providers, registry
from apps.integrations.delivery import registers_push, sync_push
from apps.integrations.inbox import handles_webhook
from apps.merchants.choices import CheckStatus
from apps.merchants.models import Merchant
from apps.merchants.services.accounts import merchant_email_verify_url
from apps.merchants.services.decisions import DECISIONS, ProviderAnswer
from apps.merchants.services.kyb import merchant_kyb_provider_decide, merchant_kyb_request

logger = logging.getLogger(__name__)

KYB_ENTITY = "merchant_kyb"
PAYMENTS = "payments"
VERIFY_EMAIL_SUBJECT = "Confirm your email address"


def _provider(system: str):
    return providers.get_provider(system)


def provider_label(system: str) -> str:
    """How the audit log names who decided: the sandbox, or the real provider."""
    return "sandbox" if providers.provider_mode(system) == "sandbox" else system


# --- Verification email -----------------------------------------------------------------------


@registry.handles("merchant.verification_email_requested")
def verification_email_send(event) -> None:
    merchant = Merchant.objects.select_related("user").filter(pk=event.aggregate_id).first()
    user = merchant.user if merchant else None
    if user is None or user.email_verified_at is not None:
        return
    link = merchant_email_verify_url(user=user, base_url=event.event_payload.get("base_url", ""))
    body = render_to_string(
        "merchants/email/verify_email.txt",
        {"user": user, "merchant": merchant, "link": link, "valid_days": 3},
    )
    _provider("email").send(
        idempotency_key=str(event.pk), to=user.email, subject=VERIFY_EMAIL_SUBJECT, body=body
    )


# --- KYB: submission to the payments provider -------------------------------------------------


@registry.handles("merchant.kyb_submitted")
def kyb_submitted_push(event) -> None:
    sync_push(entity_type=KYB_ENTITY, entity_id=event.aggregate_id, system=PAYMENTS, event=event)


@registers_push(KYB_ENTITY, PAYMENTS)
def payments_submit_kyb(sync, event) -> str:
    """Send the legal entity for its KYB check; the check id is the sync's external id."""
    merchant = Merchant.objects.get(pk=sync.entity_id)
    result = _provider(PAYMENTS).submit_kyb(
        idempotency_key=str(event.pk), business=merchant_kyb_request(merchant, masked=False)
    )
    return result["check_id"]


# --- KYB: the provider's decision -------------------------------------------------------------


def _risk_score(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def provider_answer(webhook, *, check: str) -> ProviderAnswer:
    """A kyb.decision or kyc.decision webhook's data as the provider-decide services take
    it, but for `provider` (see provider_label). `check` ("KYB", "KYC") names the check in
    the error an unknown decision raises."""
    data = webhook.payload.get("data") or {}
    decision, check_id = data.get("decision"), str(data.get("check_id") or "")
    if decision not in DECISIONS:
        # Kept as a failed webhook, visible to ops: the provider sent something we do not know.
        raise ValueError(f"Unknown {check} decision {decision!r} for check {check_id!r}.")
    return ProviderAnswer(
        decision=decision,
        check_id=check_id,
        reason=str(data.get("reason") or ""),
        risk_score=_risk_score(data.get("risk_score")),
        response_payload=data,
    )


@handles_webhook(PAYMENTS, "kyb.decision")
def kyb_decision_received(webhook) -> None:
    """data: {"merchant_id", "check_id", "decision", "reason", "risk_score"}."""
    answer = provider_answer(webhook, check="KYB")
    data, decision, check_id = answer["response_payload"], answer["decision"], answer["check_id"]
    merchant = Merchant.objects.select_for_update().filter(pk=data.get("merchant_id")).first()
    if merchant is None:
        logger.warning("KYB decision %s for unknown merchant %s ignored.", check_id, data)
        return
    waiting = merchant.kyb_status == CheckStatus.SUBMITTED or (
        merchant.kyb_status == CheckStatus.REVIEW_REQUIRED
        and decision != CheckStatus.REVIEW_REQUIRED
    )
    if not waiting:
        logger.info(
            "KYB decision %s (%s) for merchant %s ignored: its KYB is %s.",
            check_id,
            decision,
            merchant.pk,
            merchant.kyb_status,
        )
        return
    if KybKycAuditLog.objects.filter(
        merchant=merchant, check_type="kyb", check_reference=check_id, decision=decision
    ).exists():
        logger.info("KYB decision %s (%s) already recorded: ignored.", check_id, decision)
        return
    merchant_kyb_provider_decide(merchant=merchant, provider=provider_label(PAYMENTS), **answer)
