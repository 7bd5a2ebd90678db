from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from apps.compliance.services import kyb_kyc_audit_record
from apps.core.errors import DomainError, TransitionRefused
from apps.core.fsm import save_tracked
from apps.core.services import transition_perform
from apps.merchants.models import (
    CheckStatus,
    Merchant,
    MerchantBankAccount,
    MerchantPerson,
    PersonType,
    VerificationStatus,
)

DECISIONS = (CheckStatus.APPROVED, CheckStatus.REJECTED, CheckStatus.REVIEW_REQUIRED)
UNKNOWN_DECISION = "A decision is approved, rejected or review_required."
NOTES_REQUIRED = "A reviewer's decision needs notes: they are kept in the audit log."
NOT_UNDER_REVIEW = "Only a case under review can be decided by a reviewer."
OWNERSHIP_OVER_100 = "Owners' shares add up to more than 100 %."
NO_REPRESENTATIVE = "Add a representative: someone who can act for the business."
KYC_NOT_APPROVED = "Every owner and representative must pass KYC first."
ALREADY_ACTIVATED = "Payments are already active for this business."

_KYB_TRANSITIONS = {
    CheckStatus.APPROVED: "kyb_approve",
    CheckStatus.REJECTED: "kyb_reject",
    CheckStatus.REVIEW_REQUIRED: "kyb_require_review",
}
_KYC_TRANSITIONS = {
    CheckStatus.APPROVED: "kyc_approve",
    CheckStatus.REJECTED: "kyc_reject",
    CheckStatus.REVIEW_REQUIRED: "kyc_require_review",
}


def _check_decision(decision: str, *, actor, notes: str, status: str) -> None:
    if decision not in DECISIONS:
        raise DomainError(UNKNOWN_DECISION, code="unknown_decision")
    if actor is not None:
        # People decide only what the provider sent to review; otherwise the provider's
        # own decision, still on its way, would arrive to a case already closed.
        if status != CheckStatus.REVIEW_REQUIRED:
            raise TransitionRefused(NOT_UNDER_REVIEW, code="not_under_review")
        if not notes.strip():
            raise DomainError(NOTES_REQUIRED, code="notes_required")


# --- KYB --------------------------------------------------------------------------------------


def merchant_kyb_submit(*, merchant: Merchant, actor) -> Merchant:
    """Send the legal entity for verification; the provider's decision arrives later."""
    return transition_perform(
        merchant,
        "kyb_submit",
        actor=actor,
        reason="merchant_kyb_submit",
        event_type="merchant.kyb_submitted",
    )


def merchant_kyb_decide(
    *,
    merchant: Merchant,
    decision: str,
    actor=None,
    notes: str = "",
    provider: str = "",
    reference: str = "",
    request_payload: dict | None = None,
    response_payload: dict | None = None,
    risk_score: Decimal | None = None,
) -> Merchant:
    """Record a KYB decision: by the provider (actor None) or by a compliance reviewer
    (actor, with notes). Writes the audit row; an approval qualifies the lead."""
    from apps.leads.models import LeadStatus
    from apps.leads.services import lead_qualify

    _check_decision(decision, actor=actor, notes=notes, status=merchant.kyb_status)
    params = {"reason": notes} if decision == CheckStatus.REJECTED else None
    who = "reviewer" if actor else "provider"
    with transaction.atomic():
        submitted_at = merchant.kyb_submitted_at or timezone.now()
        transition_perform(
            merchant,
            _KYB_TRANSITIONS[decision],
            actor=actor,
            reason=f"merchant_kyb_decide: {decision} by {who}" + (f": {notes}" if notes else ""),
            event_type=f"merchant.kyb_{decision}",
            params=params,
        )
        kyb_kyc_audit_record(
            check_type="kyb",
            merchant=merchant,
            decision=decision,
            actor=actor,
            notes=notes,
            provider=provider,
            reference=reference,
            request_payload=request_payload,
            response_payload=response_payload,
            risk_score=risk_score,
            submitted_at=submitted_at,
        )
        lead = merchant.lead
        if decision == CheckStatus.APPROVED and lead.status in (
            LeadStatus.NEW,
            LeadStatus.CONTACTED,
        ):
            lead_qualify(lead=lead, actor=actor)
    return merchant


# --- KYC --------------------------------------------------------------------------------------


def person_kyc_submit(*, person: MerchantPerson, actor) -> MerchantPerson:
    with transaction.atomic():
        transition_perform(
            person,
            "kyc_submit",
            actor=actor,
            reason="person_kyc_submit",
            event_type="person.kyc_submitted",
        )
        merchant_kyc_status_sync(merchant=person.merchant, actor=actor)
    return person


def person_kyc_decide(
    *,
    person: MerchantPerson,
    decision: str,
    actor=None,
    notes: str = "",
    provider: str = "",
    reference: str = "",
    request_payload: dict | None = None,
    response_payload: dict | None = None,
    risk_score: Decimal | None = None,
) -> MerchantPerson:
    _check_decision(decision, actor=actor, notes=notes, status=person.kyc_status)
    params = {"reason": notes} if decision == CheckStatus.REJECTED else None
    who = "reviewer" if actor else "provider"
    with transaction.atomic():
        submitted_at = person.kyc_submitted_at or timezone.now()
        transition_perform(
            person,
            _KYC_TRANSITIONS[decision],
            actor=actor,
            reason=f"person_kyc_decide: {decision} by {who}" + (f": {notes}" if notes else ""),
            event_type=f"person.kyc_{decision}",
            params=params,
        )
        kyb_kyc_audit_record(
            check_type="kyc",
            merchant=person.merchant,
            person=person,
            decision=decision,
            actor=actor,
            notes=notes,
            provider=provider,
            reference=reference,
            request_payload=request_payload,
            response_payload=response_payload,
            risk_score=risk_score,
            submitted_at=submitted_at,
        )
        merchant_kyc_status_sync(merchant=person.merchant, actor=actor)
    return person


def _derived_kyc_status(merchant: Merchant) -> str:
    statuses = set(merchant.persons.values_list("kyc_status", flat=True))
    if not statuses or statuses == {CheckStatus.PENDING}:
        return CheckStatus.PENDING
    for status in (CheckStatus.REJECTED, CheckStatus.REVIEW_REQUIRED):
        if status in statuses:
            return status
    if statuses == {CheckStatus.APPROVED}:
        return CheckStatus.APPROVED
    return CheckStatus.SUBMITTED


def merchant_kyc_status_sync(*, merchant: Merchant, actor=None) -> Merchant:
    """Merchant.kyc_status follows its persons: rejected if any is rejected, under review if
    any is, approved when all are. Losing approval turns payments and payouts off."""
    target = _derived_kyc_status(merchant)
    current = merchant.kyc_status
    if target == current or target == CheckStatus.PENDING:
        return merchant
    with transaction.atomic():
        reason = f"merchant_kyc_status_sync: persons are {target}"
        if current in (CheckStatus.PENDING, CheckStatus.REJECTED, CheckStatus.APPROVED) or (
            target == CheckStatus.SUBMITTED
        ):
            if current == CheckStatus.APPROVED:
                merchant.payments_activated = False
                merchant.payouts_enabled = False
            transition_perform(merchant, "kyc_submit", actor=None, reason=reason)
        if target != CheckStatus.SUBMITTED:
            transition_perform(
                merchant,
                _KYC_TRANSITIONS[target],
                actor=None,
                reason=reason,
                event_type=f"merchant.kyc_{target}",
            )
        merchant_payouts_refresh(merchant=merchant, actor=actor)
    return merchant


def merchant_payments_activate(*, merchant: Merchant, actor) -> Merchant:
    """Step 7 done (rule 3): every person KYC-approved, a representative, owners ≤ 100 %."""
    persons = list(merchant.persons.all())
    if merchant.payments_activated:
        raise DomainError(ALREADY_ACTIVATED, code="already_activated")
    if not any(p.person_type in (PersonType.REPRESENTATIVE, PersonType.BOTH) for p in persons):
        raise DomainError(NO_REPRESENTATIVE, code="no_representative")
    owned = sum(
        (p.ownership_percentage or Decimal(0))
        for p in persons
        if p.person_type in (PersonType.OWNER, PersonType.BOTH)
    )
    if owned > 100:
        raise DomainError(OWNERSHIP_OVER_100, code="ownership_over_100")
    if merchant.kyc_status != CheckStatus.APPROVED or any(
        p.kyc_status != CheckStatus.APPROVED for p in persons
    ):
        raise DomainError(KYC_NOT_APPROVED, code="kyc_not_approved")
    from apps.integrations.services import event_emit

    with transaction.atomic():
        merchant.payments_activated = True
        merchant.payments_activated_at = timezone.now()
        save_tracked(merchant, actor=actor, reason="merchant_payments_activate")
        event_emit(event_type="merchant.payments_activated", aggregate=merchant)
        merchant_payouts_refresh(merchant=merchant, actor=actor)
    return merchant


def merchant_payouts_refresh(*, merchant: Merchant, actor=None) -> Merchant:
    """Rule 2: payouts on exactly when the primary bank account is verified and KYC is
    approved; off again otherwise."""
    from apps.integrations.services import event_emit

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


# --- Bank account ---------------------------------------------------------------------------


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


# --- Journey ----------------------------------------------------------------------------------


def merchant_journey_complete(*, merchant: Merchant, actor=None) -> Merchant:
    return transition_perform(
        merchant,
        "journey_complete",
        actor=actor,
        reason="merchant_journey_complete",
        event_type="merchant.journey_completed",
    )


def merchant_journey_block(*, merchant: Merchant, actor, reason: str) -> Merchant:
    if not reason.strip():
        raise DomainError("Say what blocks the journey.", code="reason_required")
    return transition_perform(
        merchant,
        "journey_block",
        actor=actor,
        reason=f"merchant_journey_block: {reason}",
        event_type="merchant.blocked",
        params={"reason": reason},
    )


def merchant_journey_abandon(*, merchant: Merchant, actor=None, reason: str = "") -> Merchant:
    return transition_perform(
        merchant,
        "journey_abandon",
        actor=actor,
        reason=f"merchant_journey_abandon: {reason or 'no activity'}",
        event_type="merchant.abandoned",
    )


def merchant_journey_resume(*, merchant: Merchant, actor=None, reason: str = "") -> Merchant:
    return transition_perform(
        merchant,
        "journey_resume",
        actor=actor,
        reason=f"merchant_journey_resume: {reason or 'activity again'}",
        event_type="merchant.resumed",
    )
