"""Two KYB submits at once (a double click) and saves from a stale copy end in a clear
refusal, never an unhandled ConcurrentTransition (a 500) (issue 13 item 1)."""

import threading

import pytest
from django.db import connection

from apps.core.errors import DomainError, TransitionRefused
from apps.core.fsm import CHANGED_MEANWHILE, save_tracked
from apps.merchants.choices import CheckStatus
from apps.merchants.models import Merchant
from apps.merchants.services.kyb import merchant_kyb_details_submit
from tests.merchants.factories import account_created_merchant
from tests.merchants.test_kyb import details


@pytest.mark.django_db(transaction=True)
def test_two_kyb_submits_at_once_submit_once_and_refuse_the_other_clearly(journey_steps):
    merchant = account_created_merchant()
    form = {k: v for k, v in details().items() if k != "ein"}
    outcomes: list[object] = []
    start = threading.Barrier(2)

    def submit():
        copy = Merchant.objects.get(pk=merchant.pk)  # each request reads its own copy
        try:
            start.wait()
            merchant_kyb_details_submit(merchant=copy, actor=copy.user, ein="12-3456789", **form)
            outcomes.append("submitted")
        except DomainError as exc:
            outcomes.append(exc)
        except BaseException as exc:  # anything else would have been a 500
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes.count("submitted") == 1
    [refusal] = [outcome for outcome in outcomes if outcome != "submitted"]
    assert isinstance(refusal, TransitionRefused), refusal
    assert Merchant.objects.get(pk=merchant.pk).kyb_status != CheckStatus.PENDING


@pytest.mark.django_db
def test_a_save_from_a_stale_copy_is_refused_with_a_message(journey_steps):
    merchant = account_created_merchant()
    stale = Merchant.objects.get(pk=merchant.pk)
    Merchant.objects.filter(pk=merchant.pk).update(kyb_status=CheckStatus.SUBMITTED)
    stale.legal_business_name = "Changed"

    with pytest.raises(TransitionRefused) as refused:
        save_tracked(stale, actor=None, reason="test")

    assert refused.value.code == "concurrent_transition"
    assert refused.value.message == CHANGED_MEANWHILE.format(noun="merchant")
    assert Merchant.objects.get(pk=merchant.pk).legal_business_name != "Changed"
