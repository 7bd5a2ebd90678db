import pytest

from apps.merchants.choices import CheckStatus, JourneyStatus, VerificationStatus
from apps.merchants.services import bank, journey, kyb, kyc
from apps.progress.models import StepStatus
from tests.fsm_matrix import Case, allowed, check_allowed, check_refused, refused
from tests.merchants.factories import (
    MerchantBankAccountFactory,
    MerchantFactory,
    MerchantPersonFactory,
)
from tests.progress.factories import MerchantStepProgressFactory

pytestmark = pytest.mark.django_db

C = CheckStatus
J = JourneyStatus
V = VerificationStatus


def _merchant(field):
    return lambda state: MerchantFactory(**{field: state})


def _merchant_with_required_steps_done(state):
    merchant = MerchantFactory(journey_status=state)
    for step_id in (1, 2, 3, 4, 5, 6, 7, 9):
        MerchantStepProgressFactory(
            merchant=merchant, step__id=step_id, status=StepStatus.COMPLETED
        )
    return merchant


def _decide(decision, **kwargs):
    return lambda m: kyb.merchant_kyb_decide(merchant=m, decision=decision, **kwargs)


def _person_decide(decision):
    return lambda p: kyc.person_kyc_decide(person=p, decision=decision, provider="sandbox")


def _bank(state):
    return MerchantBankAccountFactory(verification_status=state)


CASES = [
    Case(
        "kyb_submit", _merchant("kyb_status"), "kyb_status", [C.PENDING, C.REJECTED], C.SUBMITTED,
        lambda m: kyb.merchant_kyb_submit(merchant=m, actor=None), C.values,
        "merchant_kyb_submit", "merchant.kyb_submitted",
    ),
    Case(
        "kyb_approve", _merchant("kyb_status"), "kyb_status", [C.SUBMITTED, C.REVIEW_REQUIRED],
        C.APPROVED, _decide(C.APPROVED, provider="sandbox"), C.values,
        "merchant_kyb_decide: approved by provider", "merchant.kyb_approved",
    ),
    Case(
        "kyb_reject", _merchant("kyb_status"), "kyb_status", [C.SUBMITTED, C.REVIEW_REQUIRED],
        C.REJECTED, _decide(C.REJECTED, provider="sandbox"), C.values,
        "merchant_kyb_decide: rejected by provider", "merchant.kyb_rejected",
    ),
    Case(
        "kyb_review", _merchant("kyb_status"), "kyb_status", [C.SUBMITTED], C.REVIEW_REQUIRED,
        _decide(C.REVIEW_REQUIRED, provider="sandbox"), C.values,
        "merchant_kyb_decide: review_required by provider", "merchant.kyb_review_required",
    ),
    Case(
        "journey_complete", _merchant_with_required_steps_done, "journey_status",
        [J.IN_PROGRESS], J.COMPLETED,
        lambda m: journey.merchant_journey_complete(merchant=m), J.values,
        "merchant_journey_complete", "merchant.journey_completed",
    ),
    Case(
        "journey_block", _merchant("journey_status"), "journey_status", [J.IN_PROGRESS],
        J.BLOCKED,
        lambda m: journey.merchant_journey_block(merchant=m, actor=None, reason="Lost EIN"),
        J.values, "merchant_journey_block: Lost EIN", "merchant.blocked",
    ),
    Case(
        "journey_abandon", _merchant("journey_status"), "journey_status", [J.IN_PROGRESS],
        J.ABANDONED, lambda m: journey.merchant_journey_abandon(merchant=m), J.values,
        "merchant_journey_abandon", "merchant.abandoned",
    ),
    Case(
        "journey_resume", _merchant("journey_status"), "journey_status",
        [J.BLOCKED, J.ABANDONED], J.IN_PROGRESS,
        lambda m: journey.merchant_journey_resume(merchant=m), J.values,
        "merchant_journey_resume", "merchant.resumed",
    ),
    Case(
        "person_kyc_submit", lambda s: MerchantPersonFactory(kyc_status=s), "kyc_status",
        [C.PENDING, C.REJECTED], C.SUBMITTED,
        lambda p: kyc.person_kyc_submit(person=p, actor=None), C.values,
        "person_kyc_submit", "person.kyc_submitted",
    ),
    Case(
        "person_kyc_approve", lambda s: MerchantPersonFactory(kyc_status=s), "kyc_status",
        [C.SUBMITTED, C.REVIEW_REQUIRED], C.APPROVED, _person_decide(C.APPROVED), C.values,
        "person_kyc_decide: approved by provider", "person.kyc_approved",
    ),
    Case(
        "person_kyc_reject", lambda s: MerchantPersonFactory(kyc_status=s), "kyc_status",
        [C.SUBMITTED, C.REVIEW_REQUIRED], C.REJECTED, _person_decide(C.REJECTED), C.values,
        "person_kyc_decide: rejected by provider", "person.kyc_rejected",
    ),
    Case(
        "person_kyc_review", lambda s: MerchantPersonFactory(kyc_status=s), "kyc_status",
        [C.SUBMITTED], C.REVIEW_REQUIRED, _person_decide(C.REVIEW_REQUIRED), C.values,
        "person_kyc_decide: review_required by provider", "person.kyc_review_required",
    ),
    Case(
        "bank_verification_start", _bank, "verification_status", [V.PENDING, V.FAILED],
        V.IN_PROGRESS,
        lambda b: bank.bank_account_verification_start(bank_account=b, actor=None),
        V.values, "bank_account_verification_start", "bank_account.verification_started",
    ),
    Case(
        "bank_verification_succeed", _bank, "verification_status", [V.IN_PROGRESS], V.VERIFIED,
        lambda b: bank.bank_account_verification_succeed(bank_account=b), V.values,
        "bank_account_verification_succeed", "bank_account.verified",
    ),
    Case(
        "bank_verification_fail", _bank, "verification_status", [V.IN_PROGRESS], V.FAILED,
        lambda b: bank.bank_account_verification_fail(bank_account=b, reason="Closed"),
        V.values, "bank_account_verification_fail: Closed", "bank_account.verification_failed",
    ),
]


@pytest.mark.parametrize(("case", "source"), allowed(CASES))
def test_merchant_transition_is_allowed_from_its_sources(case, source):
    check_allowed(case, source)


@pytest.mark.parametrize(("case", "state"), refused(CASES))
def test_merchant_transition_is_refused_from_other_states(case, state):
    check_refused(case, state)
