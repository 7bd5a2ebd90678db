"""The payout bank account at /bank-account/: ABA routing numbers, account number format,
verification through the payments provider (sandbox: account number ending 0000 fails),
try again, replace, and payouts exactly as DESIGN.md rule 2."""

import html
import json

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.integrations.models import ExternalSystemSync, SandboxLedgerEntry, WebhookEvent
from apps.integrations.providers import sandbox
from apps.merchants import validators
from apps.merchants.choices import CheckStatus, VerificationStatus
from apps.merchants.models import MerchantBankAccount
from apps.merchants.services import bank
from apps.merchants.views.bank import (
    ACCOUNT_ADDED,
    ACCOUNT_REPLACED,
    PAYOUTS_HELD,
    PAYOUTS_ON,
)
from tests.accounts.factories import (
    AeUserFactory,
    ComplianceUserFactory,
    IcUserFactory,
    OpsUserFactory,
    UserFactory,
)
from tests.merchants.factories import MerchantBankAccountFactory, merchant_at_setup

pytestmark = pytest.mark.django_db

PAGE = reverse("merchants:bank_account")
STATUS = reverse("merchants:bank_account_status")
ROUTING = "021000021"  # a real ABA number (JPMorgan Chase, New York)
ACCOUNT = "000123456789"
FAILING_ACCOUNT = "000123450000"  # the sandbox cannot verify numbers ending 0000


def text(response) -> str:
    return html.unescape(response.content.decode())


def account_data(**overrides) -> dict:
    data = {
        "account_holder_name": "Copper Bistro LLC",
        "account_type": "checking",
        "routing_number": ROUTING,
        "account_number": ACCOUNT,
        "bank_name": "Chase",
    }
    data.update(overrides)
    return data


def verify_url(account) -> str:
    return reverse("merchants:bank_account_verify", args=[account.pk])


def current(merchant) -> MerchantBankAccount:
    return MerchantBankAccount.objects.get(merchant=merchant, is_primary=True)


@pytest.fixture
def merchant(journey_steps):
    """Ready for step 7 with every person KYC-approved (payouts then hang on the bank)."""
    return merchant_at_setup(kyc_status=CheckStatus.APPROVED)


@pytest.fixture
def signed_in(client, merchant):
    client.force_login(merchant.user)
    return client


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    def run(call):
        with django_capture_on_commit_callbacks(execute=True):
            return call()

    return run


# --- the validators ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number", ["021000021", "011000015", "121000358", "026009593", "0210-0002-1", " 021000021 "]
)
def test_a_routing_number_with_a_good_aba_checksum_passes(number):
    assert validators.aba_checksum_ok(validators.validate_routing_number(number))
    assert validators.validate_routing_number(number) == number.replace("-", "").strip()


@pytest.mark.parametrize("number", ["021000022", "123456789", "111111111", "000000000"])
def test_a_routing_number_with_a_bad_checksum_is_refused(number):
    with pytest.raises(ValidationError, match=validators.ROUTING_NUMBER_INVALID):
        validators.validate_routing_number(number)


@pytest.mark.parametrize("number", ["02100002", "0210000210", "02100002A", ""])
def test_a_routing_number_needs_nine_digits(number):
    with pytest.raises(ValidationError, match=validators.ROUTING_NUMBER_FORMAT):
        validators.validate_routing_number(number)


def test_the_aba_checksum_weights_digits_3_7_1():
    # 3·(0+0+0) + 7·(2+0+0) + 1·(1+0+1) = 16 → not a multiple of 10; 021000021 → 20.
    assert validators.aba_checksum_ok("021000021")
    assert not validators.aba_checksum_ok("021000011")
    assert not validators.aba_checksum_ok("02100002")


@pytest.mark.parametrize("number", ["1234", "12345678901234567", "1234-5678"])
def test_an_account_number_has_4_to_17_digits(number):
    assert validators.validate_account_number(number) == number.replace("-", "")


@pytest.mark.parametrize("number", ["123", "123456789012345678", "12AB5678", ""])
def test_other_account_numbers_are_refused(number):
    with pytest.raises(ValidationError, match=validators.ACCOUNT_NUMBER_INVALID):
        validators.validate_account_number(number)


# --- the page ---------------------------------------------------------------------------------


def test_the_page_waits_for_step_6_like_step_7(client, journey_steps):
    merchant = merchant_at_setup(steps_done=(1, 2, 3, 4, 5))
    client.force_login(merchant.user)

    page = client.get(PAGE)
    refused = client.post(PAGE, account_data())

    assert "Step 7 opens once step 6 (Pay) is completed." in text(page)
    assert refused.status_code == 409
    assert not MerchantBankAccount.objects.exists()


def test_the_merchant_adds_an_account_shown_masked(signed_in, merchant):
    response = signed_in.post(PAGE, account_data(), follow=True)

    account = current(merchant)
    assert (account.routing_number, account.account_number) == (ROUTING, ACCOUNT)
    # Verification starts on save: no second button to press.
    assert account.verification_status == VerificationStatus.IN_PROGRESS
    assert ACCOUNT_ADDED in text(response)
    assert "•••• 6789" in text(response) and "•••• 0021" in text(response)
    assert "Verify this account" not in text(response)
    assert "Verifying" in text(response)
    assert PAYOUTS_HELD in text(response)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"routing_number": "021000022"}, validators.ROUTING_NUMBER_INVALID),
        ({"routing_number": "12345"}, validators.ROUTING_NUMBER_FORMAT),
        ({"account_number": "12"}, validators.ACCOUNT_NUMBER_INVALID),
        ({"account_number": "12345678901234567890"}, validators.ACCOUNT_NUMBER_INVALID),
        ({"account_type": "brokerage"}, "Select a valid choice"),
        ({"account_holder_name": ""}, "This field is required."),
    ],
)
def test_bad_input_is_a_422_that_saves_nothing(signed_in, data, message):
    response = signed_in.post(PAGE, account_data(**data))

    assert response.status_code == 422
    assert message in text(response)
    assert not MerchantBankAccount.objects.exists()


def test_numbers_typed_are_never_shown_back_even_after_a_form_error(signed_in, merchant):
    signed_in.post(PAGE, account_data())
    pages = [
        signed_in.get(PAGE),
        signed_in.post(PAGE, account_data(account_holder_name="")),
        signed_in.post(PAGE, account_data(routing_number="021000022")),
    ]

    for response in pages:
        for fragment in (ACCOUNT, "0001234", "12345", ROUTING, "021000022", "0210"):
            assert fragment not in response.content.decode()


def test_an_htmx_form_error_is_a_retargeted_422(signed_in):
    response = signed_in.post(
        PAGE, account_data(account_number="1"), headers={"HX-Request": "true"}
    )

    assert response.status_code == 422
    assert response["HX-Retarget"] == "#bank-main"
    assert response.text.strip().startswith('<section id="bank-main">')


# --- verification and payouts -----------------------------------------------------------------


def test_a_verified_account_turns_payouts_on(signed_in, merchant, run_on_commit):
    response = run_on_commit(lambda: signed_in.post(PAGE, account_data(), follow=True))
    account = current(merchant)

    account.refresh_from_db()
    merchant.refresh_from_db()
    assert account.verification_status == VerificationStatus.VERIFIED
    assert account.is_active is True
    assert merchant.payouts_enabled is True
    assert PAYOUTS_ON in text(signed_in.get(PAGE))
    assert response.status_code == 200
    ledger = SandboxLedgerEntry.objects.get(operation="verify_bank_account")
    assert ledger.request["account_number"] == "***6789"
    sync = ExternalSystemSync.objects.get(entity_type="bank_account", entity_id=account.pk)
    assert sync.external_entity_id == ledger.response["verification_id"]


def test_a_failed_verification_shows_the_reason_and_keeps_payouts_held(
    signed_in, merchant, run_on_commit
):
    run_on_commit(lambda: signed_in.post(PAGE, account_data(account_number=FAILING_ACCOUNT)))
    account = current(merchant)

    account.refresh_from_db()
    merchant.refresh_from_db()
    assert account.verification_status == VerificationStatus.FAILED
    assert account.verification_failure_reason == sandbox.BANK_FAILED_REASON
    assert merchant.payouts_enabled is False
    page = text(signed_in.get(PAGE))
    assert f"Verification failed: {sandbox.BANK_FAILED_REASON}" in page
    assert "Try again" in page
    assert "Replace account" in page
    assert PAYOUTS_HELD in page


def test_try_again_sends_the_account_again_as_a_new_attempt(signed_in, merchant, run_on_commit):
    run_on_commit(lambda: signed_in.post(PAGE, account_data(account_number=FAILING_ACCOUNT)))
    account = current(merchant)

    retried = run_on_commit(lambda: signed_in.post(verify_url(account)))

    account.refresh_from_db()
    assert retried.status_code == 302
    assert SandboxLedgerEntry.objects.filter(operation="verify_bank_account").count() == 2
    assert account.verification_status == VerificationStatus.FAILED  # same numbers, same answer
    states = list(
        account.history.order_by("history_date").values_list("verification_status", flat=True)
    )
    assert states == ["pending", "in_progress", "failed", "in_progress", "failed"]


def test_replacing_a_failed_account_then_verifying_turns_payouts_on(
    signed_in, merchant, run_on_commit
):
    run_on_commit(lambda: signed_in.post(PAGE, account_data(account_number=FAILING_ACCOUNT)))
    failed = current(merchant)

    replaced = run_on_commit(lambda: signed_in.post(PAGE, account_data(), follow=True))
    new = current(merchant)

    failed.refresh_from_db()
    merchant.refresh_from_db()
    assert ACCOUNT_REPLACED in text(replaced)
    assert new.pk != failed.pk and failed.is_primary is False
    assert merchant.payouts_enabled is True


def test_replacing_a_verified_account_holds_payouts_again(signed_in, merchant, run_on_commit):
    run_on_commit(lambda: signed_in.post(PAGE, account_data()))
    merchant.refresh_from_db()
    assert merchant.payouts_enabled is True

    signed_in.post(PAGE, account_data(account_number="000987654321"))

    merchant.refresh_from_db()
    assert merchant.payouts_enabled is False
    assert PAYOUTS_HELD in text(signed_in.get(PAGE))


def test_a_replaced_account_cannot_be_verified(signed_in, merchant):
    signed_in.post(PAGE, account_data())
    old = current(merchant)
    signed_in.post(PAGE, account_data(account_number="000987654321"))

    response = signed_in.post(verify_url(old))

    assert response.status_code == 409
    assert bank.BANK_ACCOUNT_REPLACED in text(response)
    old.refresh_from_db()
    assert old.verification_status == VerificationStatus.IN_PROGRESS  # sent on save, unanswered


def test_an_account_being_verified_is_not_sent_twice(signed_in, merchant):
    account = MerchantBankAccountFactory(
        merchant=merchant, verification_status=VerificationStatus.IN_PROGRESS
    )

    response = signed_in.post(verify_url(account))

    assert response.status_code == 409
    assert "Verifying" in text(response)


def test_a_verified_account_waits_for_kyc_before_payouts(client, journey_steps, run_on_commit):
    merchant = merchant_at_setup(kyc_status=CheckStatus.SUBMITTED)
    client.force_login(merchant.user)
    run_on_commit(lambda: client.post(PAGE, account_data()))

    merchant.refresh_from_db()
    assert current(merchant).verification_status == VerificationStatus.VERIFIED
    assert merchant.payouts_enabled is False
    assert PAYOUTS_HELD in text(client.get(PAGE))


@pytest.mark.parametrize(
    ("kyc", "verification", "primary", "payouts"),
    [
        (CheckStatus.APPROVED, VerificationStatus.VERIFIED, True, True),
        (CheckStatus.APPROVED, VerificationStatus.VERIFIED, False, False),
        (CheckStatus.APPROVED, VerificationStatus.PENDING, True, False),
        (CheckStatus.APPROVED, VerificationStatus.FAILED, True, False),
        (CheckStatus.SUBMITTED, VerificationStatus.VERIFIED, True, False),
        (CheckStatus.REVIEW_REQUIRED, VerificationStatus.VERIFIED, True, False),
    ],
)
def test_payouts_are_on_exactly_when_the_primary_account_is_verified_and_kyc_approved(
    journey_steps, kyc, verification, primary, payouts
):
    merchant = merchant_at_setup(kyc_status=kyc)
    MerchantBankAccountFactory(
        merchant=merchant, verification_status=verification, is_primary=primary
    )

    bank.merchant_payouts_refresh(merchant=merchant)

    merchant.refresh_from_db()
    assert merchant.payouts_enabled is payouts


def test_a_late_or_duplicate_verification_webhook_changes_nothing(
    signed_in, merchant, run_on_commit
):
    from apps.integrations.tasks import sandbox_webhook_send

    run_on_commit(lambda: signed_in.post(PAGE, account_data()))
    account = current(merchant)
    first = WebhookEvent.objects.get(event_type="bank_account.verification")
    late = {**first.payload, "id": "evt_late", "data": {**first.payload["data"], "verified": False}}

    run_on_commit(lambda: sandbox_webhook_send("payments", json.dumps(late)))
    run_on_commit(lambda: sandbox_webhook_send("payments", json.dumps(first.payload)))

    account.refresh_from_db()
    merchant.refresh_from_db()
    assert account.verification_status == VerificationStatus.VERIFIED
    assert merchant.payouts_enabled is True
    assert WebhookEvent.objects.get(external_id="evt_late").status == "processed"
    assert WebhookEvent.objects.filter(event_type="bank_account.verification").count() == 2


def test_the_page_polls_while_verifying_and_reloads_when_done(signed_in, merchant):
    account = MerchantBankAccountFactory(
        merchant=merchant, verification_status=VerificationStatus.IN_PROGRESS
    )

    waiting = signed_in.get(PAGE).text
    polled = signed_in.get(STATUS, headers={"HX-Request": "true"})
    bank.bank_account_verification_succeed(bank_account=account)
    over = signed_in.get(STATUS, headers={"HX-Request": "true"})

    assert f'hx-get="{STATUS}"' in waiting
    assert polled.text.strip().startswith('<div id="bank-status"')
    assert over["HX-Refresh"] == "true"


# --- ownership, roles, methods ----------------------------------------------------------------


def test_another_merchants_account_is_a_404(signed_in, journey_steps):
    other = MerchantBankAccountFactory(merchant=merchant_at_setup())

    response = signed_in.post(verify_url(other))

    assert response.status_code == 404
    other.refresh_from_db()
    assert other.verification_status == VerificationStatus.PENDING
    assert other.account_number_masked not in signed_in.get(PAGE).text


@pytest.mark.parametrize(
    "make_user",
    [AeUserFactory, IcUserFactory, ComplianceUserFactory, OpsUserFactory, UserFactory],
    ids=["ae", "ic", "compliance", "ops", "no-role"],
)
def test_staff_and_users_without_a_business_are_refused(client, make_user, journey_steps):
    account = MerchantBankAccountFactory(merchant=merchant_at_setup())
    client.force_login(make_user())

    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, account_data()).status_code == 403
    assert client.post(verify_url(account)).status_code == 403
    assert client.get(STATUS, headers={"HX-Request": "true"}).status_code == 403


def test_an_anonymous_visitor_is_sent_to_sign_in(client):
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response.url == f"{reverse('accounts:login')}?next={PAGE}"


def test_wrong_methods_are_refused(signed_in, merchant):
    account = MerchantBankAccountFactory(merchant=merchant)
    assert signed_in.get(verify_url(account)).status_code == 405
    assert signed_in.delete(PAGE).status_code == 405


def test_the_page_costs_the_same_queries_with_one_or_many_old_accounts(signed_in, merchant):
    def queries():
        with CaptureQueriesContext(connection) as context:
            assert signed_in.get(PAGE).status_code == 200
        return len(context.captured_queries)

    MerchantBankAccountFactory(merchant=merchant)
    few = queries()
    for _ in range(8):
        MerchantBankAccountFactory(merchant=merchant, is_primary=False)

    assert queries() == few


@pytest.mark.django_db(transaction=True)
def test_outbox_sandbox_and_webhook_verify_an_account_end_to_end(client, journey_steps):
    """Real commits: the verification event is delivered after commit, the sandbox answers
    through a signed webhook, the inbox processes it."""
    merchant = merchant_at_setup(kyc_status=CheckStatus.APPROVED)
    client.force_login(merchant.user)

    client.post(PAGE, account_data())  # verification starts on save

    merchant.refresh_from_db()
    assert current(merchant).verification_status == VerificationStatus.VERIFIED
    assert merchant.payouts_enabled is True
    assert WebhookEvent.objects.get(event_type="bank_account.verification").status == "processed"
