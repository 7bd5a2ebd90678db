"""Outbox handlers that email the merchant an outcome (apps/merchants/emails.py): each runs
at least once, and sends once per event (the event id, suffixed, is the email provider's
idempotency key, so another handler of the same event mailing with the event id never
collides). A subject that moved on meanwhile (a rejection already corrected, a bank account
already replaced) still gets its email: it says what happened, the link shows what is now."""

from apps.integrations import registry
from apps.merchants import emails
from apps.merchants.models import Merchant, MerchantBankAccount, MerchantPerson
from apps.merchants.services.step_links import STEP_LINK_REQUESTED


def _key(event, outcome: str) -> str:
    return f"{event.pk}:{outcome}"


def _merchant(merchant_id) -> Merchant | None:
    return Merchant.objects.select_related("user", "lead").filter(pk=merchant_id).first()


def _merchant_outcome(event, outcome: str, **values) -> None:
    merchant = _merchant(event.aggregate_id)
    if merchant is not None:
        emails.merchant_outcome_email_send(
            merchant=merchant, outcome=outcome, idempotency_key=_key(event, outcome), **values
        )


@registry.handles("merchant.kyb_approved")
def kyb_approved_email(event) -> None:
    _merchant_outcome(event, emails.KYB_APPROVED_OUTCOME)


@registry.handles("merchant.kyb_rejected")
def kyb_rejected_email(event) -> None:
    merchant = _merchant(event.aggregate_id)
    if merchant is not None:
        emails.merchant_outcome_email_send(
            merchant=merchant,
            outcome=emails.KYB_REJECTED_OUTCOME,
            idempotency_key=_key(event, emails.KYB_REJECTED_OUTCOME),
            reason=merchant.kyb_rejection_reason,
        )


@registry.handles("merchant.kyb_review_required")
def kyb_review_email(event) -> None:
    _merchant_outcome(event, emails.KYB_REVIEW_OUTCOME)


@registry.handles("person.kyc_rejected")
def kyc_rejected_email(event) -> None:
    person = MerchantPerson.objects.filter(pk=event.aggregate_id).first()
    if person is None:
        return
    name = f"{person.first_name} {person.last_name}".strip()
    reason = person.kyc_rejection_reason
    emails.merchant_outcome_email_send(
        merchant=person.merchant,
        outcome=emails.KYC_REJECTED_OUTCOME,
        idempotency_key=_key(event, emails.KYC_REJECTED_OUTCOME),
        reason=f"{name}: {reason}" if reason else name,
    )


@registry.handles("bank_account.verification_failed")
def bank_failed_email(event) -> None:
    account = MerchantBankAccount.objects.filter(pk=event.aggregate_id).first()
    if account is None:
        return
    emails.merchant_outcome_email_send(
        merchant=account.merchant,
        outcome=emails.BANK_FAILED_OUTCOME,
        idempotency_key=_key(event, emails.BANK_FAILED_OUTCOME),
        reason=account.verification_failure_reason,
    )


@registry.handles("merchant.journey_completed")
def live_email(event) -> None:
    _merchant_outcome(event, emails.LIVE_OUTCOME)


@registry.handles(STEP_LINK_REQUESTED)
def fresh_link_email(event) -> None:
    """The merchant opened an expired link and asked for a fresh one: same destination."""
    merchant = _merchant(event.aggregate_id)
    if merchant is None:
        return
    payload = event.event_payload
    emails.merchant_outcome_email_send(
        merchant=merchant,
        outcome=emails.FRESH_LINK_OUTCOME,
        idempotency_key=_key(event, emails.FRESH_LINK_OUTCOME),
        path=payload.get("path") or "",
        base_url=payload.get("base_url") or "",
    )
