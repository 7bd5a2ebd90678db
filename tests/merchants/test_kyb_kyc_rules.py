"""DESIGN.md rules 2, 3 and 10 at the service layer: KYB/KYC decisions, derived KYC,
payments activation and the payouts gate."""

from decimal import Decimal

import pytest

from apps.compliance.models import KybKycAuditLog
from apps.core.errors import ActionForbidden, DomainError
from apps.leads.models import LeadStatus
from apps.merchants.choices import CheckStatus, PersonType, VerificationStatus
from apps.merchants.services import bank, decisions, kyb, kyc
from tests.merchants.factories import (
    MerchantBankAccountFactory,
    MerchantFactory,
    MerchantPersonFactory,
)

pytestmark = pytest.mark.django_db

C = CheckStatus


def test_provider_approval_qualifies_the_lead_and_writes_the_audit_row():
    merchant = MerchantFactory(kyb_status=C.SUBMITTED)
    kyb.merchant_kyb_decide(
        merchant=merchant,
        decision=C.APPROVED,
        provider="sandbox",
        reference="kyb_123",
        request_payload={"ein_last4": "6789"},
        response_payload={"decision": "approved"},
        risk_score=Decimal("12.50"),
    )
    merchant.lead.refresh_from_db()
    assert merchant.lead.status == LeadStatus.QUALIFIED
    assert merchant.lead.qualified_at is not None
    audit = KybKycAuditLog.objects.get(merchant=merchant)
    assert audit.check_type == "kyb"
    assert audit.decision == "approved"
    assert audit.check_reference == "kyb_123"
    assert audit.response_payload == {"decision": "approved"}
    assert audit.reviewed_by is None and audit.manual_override is False
    assert audit.retention_until is not None


def test_rejection_keeps_the_reason_for_the_merchant_and_allows_resubmission():
    merchant = MerchantFactory(kyb_status=C.SUBMITTED)
    kyb.merchant_kyb_decide(merchant=merchant, decision=C.REJECTED, notes="EIN mismatch")
    merchant.refresh_from_db()
    assert merchant.kyb_rejection_reason == "EIN mismatch"
    kyb.merchant_kyb_submit(merchant=merchant, actor=merchant.user)
    merchant.refresh_from_db()
    assert merchant.kyb_status == C.SUBMITTED
    assert merchant.kyb_rejection_reason == ""
    assert merchant.lead.status == LeadStatus.NEW


def test_kyb_submit_refused_while_the_legal_entity_is_incomplete():
    merchant = MerchantFactory(registered_address_line1="")
    with pytest.raises(DomainError, match="registered address"):
        kyb.merchant_kyb_submit(merchant=merchant, actor=None)
    merchant.refresh_from_db()
    assert merchant.kyb_status == C.PENDING


def test_compliance_reviewer_decides_a_review_with_notes_and_is_recorded(compliance_user):
    merchant = MerchantFactory(kyb_status=C.REVIEW_REQUIRED)
    kyb.merchant_kyb_decide(
        merchant=merchant, decision=C.APPROVED, actor=compliance_user, notes="Docs verified"
    )
    merchant.refresh_from_db()
    assert merchant.kyb_status == C.APPROVED
    audit = KybKycAuditLog.objects.get(merchant=merchant)
    assert audit.reviewed_by == compliance_user
    assert audit.reviewer_notes == "Docs verified"
    assert audit.manual_override is True
    assert merchant.history.first().history_user == compliance_user


def test_a_reviewer_decision_without_notes_is_refused(compliance_user):
    merchant = MerchantFactory(kyb_status=C.REVIEW_REQUIRED)
    with pytest.raises(DomainError, match=decisions.NOTES_REQUIRED):
        kyb.merchant_kyb_decide(merchant=merchant, decision=C.APPROVED, actor=compliance_user)
    assert not KybKycAuditLog.objects.exists()


@pytest.mark.parametrize("role_user", ["ae_user", "ic_user", "ops_user", "merchant_user"])
def test_only_compliance_may_decide_a_kyb_review(role_user, request):
    user = request.getfixturevalue(role_user)
    merchant = MerchantFactory(kyb_status=C.REVIEW_REQUIRED)
    with pytest.raises(ActionForbidden):
        kyb.merchant_kyb_decide(
            merchant=merchant, decision=C.APPROVED, actor=user, notes="looks fine"
        )
    merchant.refresh_from_db()
    assert merchant.kyb_status == C.REVIEW_REQUIRED
    assert not KybKycAuditLog.objects.exists()


def test_an_unknown_decision_is_refused():
    merchant = MerchantFactory(kyb_status=C.SUBMITTED)
    with pytest.raises(DomainError, match=decisions.UNKNOWN_DECISION):
        kyb.merchant_kyb_decide(merchant=merchant, decision="maybe")


def _submitted_persons(merchant, *types):
    return [
        MerchantPersonFactory(
            merchant=merchant,
            person_type=person_type,
            kyc_status=C.SUBMITTED,
            ownership_percentage=None if person_type == PersonType.REPRESENTATIVE else Decimal(50),
        )
        for person_type in types
    ]


def test_merchant_kyc_is_approved_only_when_every_person_is():
    merchant = MerchantFactory()
    first, second = _submitted_persons(merchant, PersonType.BOTH, PersonType.OWNER)
    kyc.person_kyc_decide(person=first, decision=C.APPROVED)
    merchant.refresh_from_db()
    assert merchant.kyc_status == C.SUBMITTED
    kyc.person_kyc_decide(person=second, decision=C.APPROVED)
    merchant.refresh_from_db()
    assert merchant.kyc_status == C.APPROVED
    assert merchant.kyc_all_approved_at is not None
    assert KybKycAuditLog.objects.filter(merchant=merchant, check_type="kyc").count() == 2


def test_one_rejected_person_rejects_the_merchant_kyc():
    merchant = MerchantFactory()
    first, second = _submitted_persons(merchant, PersonType.BOTH, PersonType.OWNER)
    kyc.person_kyc_decide(person=first, decision=C.APPROVED)
    kyc.person_kyc_decide(person=second, decision=C.REJECTED, notes="SSN mismatch")
    merchant.refresh_from_db()
    assert merchant.kyc_status == C.REJECTED


def _activatable_merchant():
    merchant = MerchantFactory()
    for person in _submitted_persons(merchant, PersonType.BOTH, PersonType.OWNER):
        kyc.person_kyc_decide(person=person, decision=C.APPROVED)
    merchant.refresh_from_db()
    return merchant


def test_payments_activation_with_every_person_approved(merchant_user):
    merchant = _activatable_merchant()
    kyc.merchant_payments_activate(merchant=merchant, actor=merchant_user)
    merchant.refresh_from_db()
    assert merchant.payments_activated is True
    assert merchant.payments_activated_at is not None


def test_payments_activation_refused_while_a_person_is_not_approved():
    merchant = MerchantFactory()
    _submitted_persons(merchant, PersonType.BOTH)
    with pytest.raises(DomainError, match=kyc.KYC_NOT_APPROVED):
        kyc.merchant_payments_activate(merchant=merchant, actor=None)
    merchant.refresh_from_db()
    assert merchant.payments_activated is False


def test_payments_activation_refused_when_owners_exceed_100_percent():
    merchant = _activatable_merchant()
    merchant.persons.filter(person_type=PersonType.OWNER).update(ownership_percentage=Decimal("60"))
    with pytest.raises(DomainError, match=kyc.OWNERSHIP_OVER_100):
        kyc.merchant_payments_activate(merchant=merchant, actor=None)


def test_payments_activation_refused_without_a_representative():
    merchant = MerchantFactory()
    for person in _submitted_persons(merchant, PersonType.OWNER):
        kyc.person_kyc_decide(person=person, decision=C.APPROVED)
    merchant.refresh_from_db()
    with pytest.raises(DomainError, match=kyc.NO_REPRESENTATIVE):
        kyc.merchant_payments_activate(merchant=merchant, actor=None)


def _verify(bank_account):
    bank.bank_account_verification_start(bank_account=bank_account, actor=None)
    bank.bank_account_verification_succeed(bank_account=bank_account)


def test_payouts_enabled_only_with_verified_primary_bank_and_approved_kyc():
    merchant = _activatable_merchant()
    bank_account = MerchantBankAccountFactory(merchant=merchant)
    bank.bank_account_verification_start(bank_account=bank_account, actor=None)
    merchant.refresh_from_db()
    assert merchant.payouts_enabled is False
    bank.bank_account_verification_succeed(bank_account=bank_account)
    merchant.refresh_from_db()
    assert merchant.payouts_enabled is True
    assert merchant.payouts_enabled_at is not None


def test_payouts_stay_held_with_a_verified_bank_but_kyc_pending():
    merchant = MerchantFactory()
    _verify(MerchantBankAccountFactory(merchant=merchant))
    merchant.refresh_from_db()
    assert merchant.payouts_enabled is False


def test_payouts_stay_held_when_only_a_non_primary_account_is_verified():
    merchant = _activatable_merchant()
    MerchantBankAccountFactory(merchant=merchant, is_primary=True)
    _verify(MerchantBankAccountFactory(merchant=merchant, is_primary=False))
    merchant.refresh_from_db()
    assert merchant.payouts_enabled is False


def test_payouts_turn_off_when_the_primary_account_is_replaced(merchant_user):
    merchant = _activatable_merchant()
    old = MerchantBankAccountFactory(merchant=merchant)
    _verify(old)
    replacement = bank.bank_account_add(
        merchant=merchant,
        actor=merchant_user,
        account_holder_name="Acme LLC",
        account_number="000222333444",
        routing_number="021000021",
    )
    merchant.refresh_from_db()
    old.refresh_from_db()
    assert merchant.payouts_enabled is False
    assert (old.is_primary, old.is_active) == (False, False)
    assert replacement.is_primary is True
    assert replacement.verification_status == VerificationStatus.PENDING
    _verify(replacement)
    merchant.refresh_from_db()
    assert merchant.payouts_enabled is True


def test_a_failed_first_verification_keeps_payouts_held():
    merchant = _activatable_merchant()
    bank_account = MerchantBankAccountFactory(merchant=merchant)
    bank.bank_account_verification_start(bank_account=bank_account, actor=None)
    bank.bank_account_verification_fail(bank_account=bank_account, reason="Account closed")
    merchant.refresh_from_db()
    bank_account.refresh_from_db()
    assert merchant.payouts_enabled is False
    assert bank_account.verification_failure_reason == "Account closed"


def test_payouts_turn_off_when_kyc_is_lost():
    merchant = _activatable_merchant()
    _verify(MerchantBankAccountFactory(merchant=merchant))
    merchant.refresh_from_db()
    assert merchant.payouts_enabled is True
    newcomer = MerchantPersonFactory(merchant=merchant, person_type=PersonType.OWNER)
    kyc.person_kyc_submit(person=newcomer, actor=None)
    merchant.refresh_from_db()
    assert merchant.kyc_status == C.SUBMITTED
    assert merchant.payouts_enabled is False
    assert merchant.payments_activated is False


@pytest.mark.parametrize("status", [C.PENDING, C.SUBMITTED, C.APPROVED, C.REJECTED])
def test_a_reviewer_cannot_decide_a_case_that_is_not_under_review(status, compliance_user):
    merchant = MerchantFactory(kyb_status=status)
    with pytest.raises(DomainError, match=decisions.NOT_UNDER_REVIEW):
        kyb.merchant_kyb_decide(
            merchant=merchant, decision=C.APPROVED, actor=compliance_user, notes="ok"
        )
    merchant.refresh_from_db()
    assert merchant.kyb_status == status
