"""Outbox and webhook handlers of steps 7 and the bank account: persons' KYC, the payments
account and bank verification go to the payments provider; its decisions come back as
signed webhooks.

Pushes run through `sync_push` (one ExternalSystemSync per entity and system, the outbox
event id as the provider's idempotency key); webhook handlers are idempotent: a decision
that finds its person or account no longer waiting for one, or that answers an older check
than the latest one sent, is logged and ignored.
"""

import logging

from django.core.exceptions import ValidationError

from apps.integrations import providers, registry
from apps.integrations.delivery import registers_push, sync_push
from apps.integrations.inbox import handles_webhook
from apps.integrations.models import ExternalSystemSync
from apps.integrations.providers.base import PermanentError
from apps.merchants import validators
from apps.merchants.choices import CheckStatus, VerificationStatus
from apps.merchants.handlers import decided_subject, provider_label
from apps.merchants.models import Merchant, MerchantBankAccount, MerchantPerson
from apps.merchants.services.bank import (
    bank_account_verification_fail,
    bank_account_verification_request,
    bank_account_verification_succeed,
)
from apps.merchants.services.kyc import (
    PAYMENTS_ACCOUNT_KEY,
    merchant_payments_account_record,
    merchant_payments_activation_attempt,
    person_kyc_provider_decide,
    person_kyc_request,
)

logger = logging.getLogger(__name__)

PAYMENTS = "payments"
PERSON_KYC_ENTITY = "person_kyc"
BANK_ACCOUNT_ENTITY = "bank_account"
MERCHANT_PAYMENTS_ENTITY = "merchant_payments"
BANK_FAILED_DEFAULT_REASON = "The bank could not verify this account."


def _payments():
    return providers.get_provider(PAYMENTS)


def _latest_external_id(entity_type: str, entity_id) -> str:
    sync = ExternalSystemSync.objects.filter(
        entity_type=entity_type, entity_id=entity_id, external_system=PAYMENTS
    ).first()
    return sync.external_entity_id if sync else ""


# --- Payments account -------------------------------------------------------------------------


def payments_account_ensure(merchant: Merchant) -> str:
    """The merchant's payments account id, created at the provider the first time. The
    idempotency key is derived from the merchant, so however many events ask for it (and
    however often they are retried) the provider opens one account."""
    merchant = Merchant.objects.get(pk=merchant.pk)
    if merchant.payments_account_id:
        return merchant.payments_account_id
    result = _payments().create_account(
        idempotency_key=PAYMENTS_ACCOUNT_KEY.format(merchant_id=merchant.pk),
        merchant={
            "merchant_id": str(merchant.pk),
            "legal_name": merchant.legal_business_name,
            "structure": merchant.business_structure,
            "country": merchant.registered_country,
        },
    )
    merchant_payments_account_record(merchant=merchant, account_id=result["account_id"])
    return result["account_id"]


@registry.handles("merchant.payments_account_requested")
def payments_account_requested(event) -> None:
    sync_push(
        entity_type=MERCHANT_PAYMENTS_ENTITY,
        entity_id=event.aggregate_id,
        system=PAYMENTS,
        event=event,
    )


@registers_push(MERCHANT_PAYMENTS_ENTITY, PAYMENTS)
def payments_push_account(sync, event) -> str:
    return payments_account_ensure(Merchant.objects.get(pk=sync.entity_id))


@registry.handles("merchant.kyc_approved")
def payments_activation_on_kyc_approved(event) -> None:
    """Every person passed KYC (provider or reviewer): activate payments, complete step 7."""
    merchant = Merchant.objects.filter(pk=event.aggregate_id).first()
    if merchant is not None:
        merchant_payments_activation_attempt(merchant=merchant)


# --- KYC: submission ------------------------------------------------------------------------


@registry.handles("person.kyc_submitted")
def person_kyc_submitted_push(event) -> None:
    sync_push(
        entity_type=PERSON_KYC_ENTITY, entity_id=event.aggregate_id, system=PAYMENTS, event=event
    )


@registers_push(PERSON_KYC_ENTITY, PAYMENTS)
def payments_submit_kyc(sync, event) -> str:
    """Send one person for KYC; the check id is the sync's external id. The request holds
    the SSN and date of birth in clear for the provider only: nothing of it is stored here
    (the sync keeps no snapshot; audit rows get the masked request)."""
    person = MerchantPerson.objects.select_related("merchant").get(pk=sync.entity_id)
    if person.kyc_status != CheckStatus.SUBMITTED:
        # Decided (or corrected and sent again) since this event: nothing to send for it.
        return sync.external_entity_id
    try:
        validators.validate_ssn(person.ssn)
    except ValidationError as exc:
        raise PermanentError(validators.SSN_INVALID, code="invalid_ssn") from exc
    payments_account_ensure(person.merchant)
    result = _payments().submit_kyc(
        idempotency_key=str(event.pk), person=person_kyc_request(person, masked=False)
    )
    return result["check_id"]


# --- KYC: the provider's decision -------------------------------------------------------------


@handles_webhook(PAYMENTS, "kyc.decision")
def kyc_decision_received(webhook) -> None:
    """data: {"person_id", "check_id", "decision", "reason", "risk_score"}."""
    person, answer = decided_subject(
        webhook,
        check="KYC",
        subjects=MerchantPerson.objects.select_related("merchant"),
        id_key="person_id",
        status_field="kyc_status",
        entity=PERSON_KYC_ENTITY,
    )
    person_kyc_provider_decide(person=person, provider=provider_label(PAYMENTS), **answer)


# --- Bank account verification ----------------------------------------------------------------


@registry.handles("bank_account.verification_started")
def bank_account_verification_push(event) -> None:
    sync_push(
        entity_type=BANK_ACCOUNT_ENTITY,
        entity_id=event.aggregate_id,
        system=PAYMENTS,
        event=event,
    )


@registers_push(BANK_ACCOUNT_ENTITY, PAYMENTS)
def payments_verify_bank_account(sync, event) -> str:
    account = MerchantBankAccount.objects.get(pk=sync.entity_id)
    if account.verification_status != VerificationStatus.IN_PROGRESS:
        return sync.external_entity_id
    result = _payments().verify_bank_account(
        idempotency_key=str(event.pk), bank_account=bank_account_verification_request(account)
    )
    return result["verification_id"]


@handles_webhook(PAYMENTS, "bank_account.verification")
def bank_account_verification_received(webhook) -> None:
    """data: {"bank_account_id", "verification_id", "verified", "reason"}."""
    data = webhook.payload.get("data") or {}
    verification_id = str(data.get("verification_id") or "")
    if not isinstance(data.get("verified"), bool):
        raise ValueError(f"Bank verification {verification_id!r} has no verified true/false.")
    try:
        account = (
            MerchantBankAccount.objects.select_for_update()
            .select_related("merchant")
            .filter(pk=data.get("bank_account_id"))
            .first()
        )
    except ValidationError:
        account = None
    if account is None:
        logger.warning("Bank verification %s for an unknown account ignored.", verification_id)
        return
    if account.verification_status != VerificationStatus.IN_PROGRESS:
        logger.info(
            "Bank verification %s ignored: account %s is %s.",
            verification_id,
            account.pk,
            account.verification_status,
        )
        return
    latest = _latest_external_id(BANK_ACCOUNT_ENTITY, account.pk)
    if latest and verification_id and latest != verification_id:
        logger.info("Bank verification %s ignored: an older attempt.", verification_id)
        return
    if data["verified"]:
        bank_account_verification_succeed(bank_account=account)
    else:
        bank_account_verification_fail(
            bank_account=account, reason=str(data.get("reason") or BANK_FAILED_DEFAULT_REASON)
        )
