"""The payout bank account and the payouts gate (rule 2): the merchant adds a primary
account (it replaces the current one) from step 7 on, the payments provider verifies it,
and payouts are on exactly when the primary account is verified and KYC is approved."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.core.errors import DomainError, TransitionRefused
from apps.core.fsm import save_tracked
from apps.integrations.outbox import event_emit, transition_perform
from apps.merchants import validators
from apps.merchants.choices import AccountType, CheckStatus, VerificationStatus
from apps.merchants.models import Merchant, MerchantBankAccount
from apps.merchants.services.accounts import merchant_email_verified_check
from apps.merchants.services.steps import FIELDS_UNKNOWN, _setup_gate

BANK_ACCOUNT_REPLACED = "This bank account was replaced: verify the current one."
BANK_ACCOUNT_FIELDS = frozenset(
    {"account_holder_name", "account_type", "routing_number", "account_number", "bank_name"}
)
HOLDER_REQUIRED = "Enter the account holder's name."


def merchant_payouts_refresh(*, merchant: Merchant, actor=None) -> Merchant:
    """Rule 2: payouts on exactly when the primary bank account is verified and KYC is
    approved; off again otherwise."""
    allowed = (
        merchant.kyc_status == CheckStatus.APPROVED
        and merchant.bank_accounts.filter(
            is_primary=True, verification_status=VerificationStatus.VERIFIED
        ).exists()
    )
    if allowed == merchant.payouts_enabled:
        return merchant
    with transaction.atomic():
        merchant.payouts_enabled = allowed
        merchant.payouts_enabled_at = timezone.now() if allowed else None
        state = "enabled" if allowed else "held"
        save_tracked(merchant, actor=actor, reason=f"merchant_payouts_refresh: payouts {state}")
        event_emit(event_type=f"merchant.payouts_{state}", aggregate=merchant)
    return merchant


def bank_account_add(*, merchant: Merchant, actor, **details) -> MerchantBankAccount:
    """A new primary payout account. It replaces the current primary one, which stops
    being used; payouts are held again until the new account is verified (rule 2)."""
    with transaction.atomic():
        for old in merchant.bank_accounts.select_for_update().filter(is_primary=True):
            old.is_primary = False
            old.is_active = False
            save_tracked(old, actor=actor, reason="bank_account_add: replaced")
        account = MerchantBankAccount(merchant=merchant, is_primary=True, **details)
        save_tracked(account, actor=actor, reason="bank_account_add")
        merchant_payouts_refresh(merchant=merchant, actor=actor)
    return account


def bank_account_verification_start(
    *, bank_account: MerchantBankAccount, actor, method: str = "instant"
) -> MerchantBankAccount:
    return transition_perform(
        bank_account,
        "verification_start",
        actor=actor,
        reason=f"bank_account_verification_start: {method}",
        event_type="bank_account.verification_started",
        params={"verification_method": method},
    )


def bank_account_verification_succeed(
    *, bank_account: MerchantBankAccount, actor=None
) -> MerchantBankAccount:
    with transaction.atomic():
        transition_perform(
            bank_account,
            "verification_succeed",
            actor=actor,
            reason="bank_account_verification_succeed",
            event_type="bank_account.verified",
        )
        merchant_payouts_refresh(merchant=bank_account.merchant, actor=actor)
    return bank_account


def bank_account_verification_fail(
    *, bank_account: MerchantBankAccount, reason: str, actor=None
) -> MerchantBankAccount:
    with transaction.atomic():
        transition_perform(
            bank_account,
            "verification_fail",
            actor=actor,
            reason=f"bank_account_verification_fail: {reason}",
            event_type="bank_account.verification_failed",
            params={"reason": reason},
        )
        merchant_payouts_refresh(merchant=bank_account.merchant, actor=actor)
    return bank_account


def bank_account_submit(*, merchant: Merchant, actor, **details) -> MerchantBankAccount:
    """The bank account page's form: a new primary payout account (replacing the current
    one), its numbers checked first, sent for verification at once (no second button).
    Open from step 7 on, once the email is verified."""
    merchant_email_verified_check(merchant)
    unknown = set(details) - BANK_ACCOUNT_FIELDS
    if unknown:
        raise DomainError(FIELDS_UNKNOWN.format(names=", ".join(sorted(unknown))))
    _setup_gate(merchant, 7)
    details = {k: v.strip() if isinstance(v, str) else v for k, v in details.items()}
    if not details.get("account_holder_name"):
        raise DomainError(HOLDER_REQUIRED, code="holder_required")

    if details.get("account_type", AccountType.CHECKING) not in AccountType.values:
        raise DomainError("Choose checking or savings.", code="account_type")
    try:
        details["routing_number"] = validators.validate_routing_number(
            details.get("routing_number", "")
        )
        details["account_number"] = validators.validate_account_number(
            details.get("account_number", "")
        )
    except ValidationError as exc:
        raise DomainError(exc.messages[0], code="invalid") from exc
    with transaction.atomic():
        account = bank_account_add(merchant=merchant, actor=actor, **details)
        return bank_account_verification_start(bank_account=account, actor=actor)


def bank_account_verify(*, bank_account: MerchantBankAccount, actor) -> MerchantBankAccount:
    """ "Verify" and "Try again": the primary account goes to the provider (outbox)."""
    if not bank_account.is_primary:
        raise TransitionRefused(BANK_ACCOUNT_REPLACED, code="bank_account_replaced")
    _setup_gate(bank_account.merchant, 7)
    return bank_account_verification_start(bank_account=bank_account, actor=actor)


def bank_account_verification_request(bank_account: MerchantBankAccount) -> dict:
    return {
        "bank_account_id": str(bank_account.pk),
        "merchant_id": str(bank_account.merchant_id),
        "routing_number": bank_account.routing_number,
        "account_number": bank_account.account_number,
        "holder": bank_account.account_holder_name,
        "account_type": bank_account.account_type,
    }
