"""A merchant whose email is not verified may look around, but not submit KYB, pay, or enter
owners' or bank details (issue 11: an account made with someone else's address must not get
far). Each refusal says why and changes nothing; once verified, the same request works."""

import html

import pytest
from django.urls import reverse

from apps.core.errors import DomainError
from apps.merchants.choices import CheckStatus
from apps.merchants.models import Merchant, MerchantBankAccount, MerchantPerson
from apps.merchants.services import accounts
from apps.merchants.services.bank import bank_account_submit
from apps.merchants.services.kyc import person_add
from tests.merchants.factories import account_created_merchant, merchant_at_setup
from tests.merchants.test_bank_account import account_data
from tests.merchants.test_kyb import details
from tests.merchants.test_kyc import person_data

pytestmark = pytest.mark.django_db

KYB = reverse("merchants:kyb")
DASHBOARD = reverse("merchants:dashboard")


def not_verified(user) -> str:
    return accounts.EMAIL_NOT_VERIFIED.format(email=user.email)


def verify(merchant) -> None:
    accounts.merchant_email_verify(token=accounts.merchant_email_token(user=merchant.user))


def test_an_unverified_merchant_sees_why_on_the_dashboard(client, journey_steps):
    merchant = account_created_merchant(email_verified=False)
    client.force_login(merchant.user)

    page = html.unescape(client.get(DASHBOARD).text)

    assert "Verify your email" in page
    assert "Send the link again" in page
    assert "verifying your business, paying, and entering owners' or bank details" in page


def test_kyb_waits_for_the_email_to_be_verified(client, journey_steps):
    merchant = account_created_merchant(email_verified=False)
    client.force_login(merchant.user)

    response = client.post(KYB, details())

    assert response.status_code == 422
    assert not_verified(merchant.user) in html.unescape(response.text)
    merchant = Merchant.objects.get(pk=merchant.pk)
    assert merchant.kyb_status == CheckStatus.PENDING
    assert merchant.ein is None

    verify(merchant)
    assert client.post(KYB, details()).status_code == 302
    assert Merchant.objects.get(pk=merchant.pk).kyb_status != CheckStatus.PENDING


def test_owners_wait_for_the_email_to_be_verified(journey_steps):
    merchant = merchant_at_setup(user__email_verified_at=None)

    with pytest.raises(DomainError, match="Confirm your email address first"):
        person_add(merchant=merchant, actor=merchant.user, **person_data())

    assert not MerchantPerson.objects.filter(merchant=merchant).exists()


def test_bank_details_wait_for_the_email_to_be_verified(journey_steps):
    merchant = merchant_at_setup(user__email_verified_at=None)

    with pytest.raises(DomainError) as refused:
        bank_account_submit(merchant=merchant, actor=merchant.user, **account_data())

    assert refused.value.code == "email_not_verified"
    assert not MerchantBankAccount.objects.filter(merchant=merchant).exists()
