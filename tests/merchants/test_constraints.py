"""The database itself refuses rows that break the merchant rules (DESIGN.md rules 1-4)."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from apps.merchants.choices import CheckStatus
from apps.merchants.models import MerchantBankAccount, MerchantLocation
from tests.merchants.factories import (
    MerchantBankAccountFactory,
    MerchantFactory,
    MerchantLocationFactory,
    MerchantPersonFactory,
)

pytestmark = pytest.mark.django_db

NOT_APPROVED = [
    CheckStatus.PENDING,
    CheckStatus.SUBMITTED,
    CheckStatus.REVIEW_REQUIRED,
    CheckStatus.REJECTED,
]


@pytest.mark.parametrize("kyb_status", NOT_APPROVED)
def test_x_series_account_before_kyb_approval_is_refused(kyb_status):
    with pytest.raises(IntegrityError, match="kyb_before_purchase"), transaction.atomic():
        MerchantFactory(kyb_status=kyb_status, x_series_account_id="XS-100200")


def test_x_series_account_set_later_on_a_merchant_not_approved_is_refused():
    merchant = MerchantFactory(kyb_status=CheckStatus.SUBMITTED)
    merchant.x_series_account_id = "XS-100200"

    with pytest.raises(IntegrityError, match="kyb_before_purchase"), transaction.atomic():
        merchant.save()


def test_x_series_account_after_kyb_approval_is_accepted():
    merchant = MerchantFactory(kyb_status=CheckStatus.APPROVED, x_series_account_id="XS-100200")

    merchant.refresh_from_db()
    assert merchant.x_series_account_id == "XS-100200"


def test_second_primary_location_is_refused():
    first = MerchantLocationFactory(is_primary=True)

    with (
        pytest.raises(IntegrityError, match="location_one_primary_per_merchant"),
        transaction.atomic(),
    ):
        MerchantLocationFactory(merchant=first.merchant, is_primary=True)


def test_second_non_primary_location_is_accepted():
    first = MerchantLocationFactory(is_primary=True)

    MerchantLocationFactory(merchant=first.merchant, is_primary=False)

    assert first.merchant.locations.count() == 2


def test_primary_locations_of_two_merchants_are_accepted():
    MerchantLocationFactory(is_primary=True)
    MerchantLocationFactory(is_primary=True)

    assert MerchantLocation.objects.filter(is_primary=True).count() == 2


def test_second_primary_bank_account_is_refused():
    first = MerchantBankAccountFactory(is_primary=True)

    with (
        pytest.raises(IntegrityError, match="bank_one_primary_per_merchant"),
        transaction.atomic(),
    ):
        MerchantBankAccountFactory(merchant=first.merchant, is_primary=True)


def test_second_non_primary_bank_account_is_accepted():
    first = MerchantBankAccountFactory(is_primary=True)

    MerchantBankAccountFactory(merchant=first.merchant, is_primary=False)

    assert first.merchant.bank_accounts.count() == 2


def test_primary_bank_accounts_of_two_merchants_are_accepted():
    MerchantBankAccountFactory(is_primary=True)
    MerchantBankAccountFactory(is_primary=True)

    assert MerchantBankAccount.objects.filter(is_primary=True).count() == 2


@pytest.mark.parametrize("second_ein", ["12-3456789", "123456789", " 12 345 6789 "])
def test_same_ein_on_a_second_merchant_is_refused_however_formatted(second_ein):
    MerchantFactory(ein="12-3456789")

    with pytest.raises(IntegrityError, match="ein_hash"), transaction.atomic():
        MerchantFactory(ein=second_ein)


def test_different_eins_are_accepted():
    first = MerchantFactory(ein="12-3456789")
    second = MerchantFactory(ein="12-3456788")

    assert first.ein_hash != second.ein_hash


@pytest.mark.parametrize(
    ("flag", "constraint"),
    [
        ("payouts_enabled", "payouts_need_kyc"),
        ("payments_activated", "payments_activation_needs_kyc"),
    ],
)
@pytest.mark.parametrize("kyc_status", NOT_APPROVED)
def test_payments_and_payouts_before_kyc_approval_are_refused(flag, constraint, kyc_status):
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        MerchantFactory(kyc_status=kyc_status, **{flag: True})


def test_payments_and_payouts_after_kyc_approval_are_accepted():
    merchant = MerchantFactory(
        kyc_status=CheckStatus.APPROVED, payments_activated=True, payouts_enabled=True
    )

    merchant.refresh_from_db()
    assert merchant.payments_activated and merchant.payouts_enabled


@pytest.mark.parametrize("percentage", [Decimal("-0.01"), Decimal("100.01"), Decimal("150")])
def test_ownership_percentage_outside_0_to_100_is_refused(percentage):
    with pytest.raises(IntegrityError, match="person_valid_ownership_pct"), transaction.atomic():
        MerchantPersonFactory(owner=True, ownership_percentage=percentage)


@pytest.mark.parametrize("percentage", [Decimal("0"), Decimal("25.50"), Decimal("100"), None])
def test_ownership_percentage_within_0_to_100_is_accepted(percentage):
    person = MerchantPersonFactory(owner=True, ownership_percentage=percentage)

    person.refresh_from_db()
    assert person.ownership_percentage == percentage


@pytest.mark.parametrize(
    ("factory", "field", "constraint"),
    [
        (MerchantFactory, "kyb_status", "merchant_valid_kyb_status"),
        (MerchantFactory, "kyc_status", "merchant_valid_kyc_status"),
        (MerchantFactory, "journey_status", "merchant_valid_journey_status"),
        (MerchantFactory, "cohort", "merchant_valid_cohort"),
        (MerchantPersonFactory, "kyc_status", "person_valid_kyc_status"),
        (MerchantPersonFactory, "person_type", "person_valid_type"),
        (MerchantBankAccountFactory, "verification_status", "bank_valid_verification_status"),
    ],
)
def test_status_outside_its_choices_is_refused(factory, field, constraint):
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        factory(**{field: "approved_by_magic"})


def test_current_step_outside_1_to_10_is_refused():
    with pytest.raises(IntegrityError, match="merchant_current_step_1_to_10"), transaction.atomic():
        MerchantFactory(current_step=11)
