"""Money moves only for a merchant whose email is verified (issue 11)."""

import pytest

from apps.accounts.models import User
from apps.core.errors import DomainError
from apps.merchants.services.accounts import EMAIL_NOT_VERIFIED
from apps.orders.models import Payment
from tests.orders.helpers import accepted_quote, ledger, pay

pytestmark = pytest.mark.django_db


def test_payment_waits_for_the_email_to_be_verified(make_merchant):
    merchant = make_merchant(journey=5)
    order = accepted_quote(merchant)
    User.objects.filter(pk=merchant.user.pk).update(email_verified_at=None)
    order.merchant.user.refresh_from_db()

    with pytest.raises(DomainError) as refused:
        pay(order)

    assert refused.value.message == EMAIL_NOT_VERIFIED.format(email=merchant.user.email)
    assert not Payment.objects.filter(order=order).exists()
    assert ledger("billing", "authorize") == 0
