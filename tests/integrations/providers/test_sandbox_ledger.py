"""Every sandbox remote effect is in the ledger once per idempotency key, without raw PII."""

import json
import threading
import uuid

import pytest
from django.db import connection

from apps.integrations.models import SandboxLedgerEntry, WebhookEvent
from apps.integrations.providers import get_provider
from tests.integrations.providers.test_sandbox_outcomes import bank_account, business, person


@pytest.mark.django_db
@pytest.mark.usefixtures("no_webhook_handlers")
def test_a_call_repeated_with_its_key_returns_the_first_answer_and_acts_once(
    django_capture_on_commit_callbacks,
):
    payments = get_provider("payments")
    with django_capture_on_commit_callbacks(execute=True):
        first = payments.submit_kyb(idempotency_key="evt-1", business=business("12-3456789"))
        again = payments.submit_kyb(idempotency_key="evt-1", business=business("12-3456789"))
    assert again == first
    assert SandboxLedgerEntry.objects.filter(operation="submit_kyb").count() == 1
    assert WebhookEvent.objects.filter(event_type="kyb.decision").count() == 1


@pytest.mark.django_db
def test_a_new_key_is_a_new_remote_effect():
    payments = get_provider("payments")
    first = payments.create_account(idempotency_key="evt-1", merchant={})
    second = payments.create_account(idempotency_key="evt-2", merchant={})
    assert first != second
    assert SandboxLedgerEntry.objects.filter(operation="create_account").count() == 2


@pytest.mark.django_db
def test_reading_a_crm_lead_records_nothing():
    crm = get_provider("crm")
    lead = crm.upsert_lead(idempotency_key="evt-1", lead={"lead_id": "L1", "fields": {}})
    crm.get_lead(crm_lead_id=lead["crm_lead_id"])
    assert SandboxLedgerEntry.objects.count() == 1


@pytest.mark.django_db
def test_the_ledger_keeps_only_the_last_four_of_ssn_ein_and_bank_numbers():
    payments = get_provider("payments")
    payments.submit_kyb(idempotency_key="k1", business=business("12-3456789"))
    payments.submit_kyc(idempotency_key="k2", person=person("123-45-6789"))
    payments.verify_bank_account(idempotency_key="k3", bank_account=bank_account("000987654321"))
    requests = {entry.operation: entry.request for entry in SandboxLedgerEntry.objects.all()}
    assert requests["submit_kyb"]["ein"] == "***6789"
    assert requests["submit_kyc"]["ssn"] == "***6789"
    assert requests["submit_kyc"]["date_of_birth"] == "****"
    assert requests["verify_bank_account"]["account_number"] == "***4321"
    assert requests["verify_bank_account"]["routing_number"] == "***0000"
    stored = json.dumps(requests)
    for raw in ("3456789", "45-6789", "1980-12-10", "987654321", "110000000"):
        assert raw not in stored


@pytest.mark.django_db(transaction=True)
def test_concurrent_calls_with_one_key_make_one_remote_effect():
    key = str(uuid.uuid4())
    start = threading.Barrier(6)
    results, errors = [], []

    def call():
        try:
            start.wait()
            results.append(
                get_provider("x_series").create_account(idempotency_key=key, merchant={})
            )
        except Exception as exc:  # reported below: a thread's exception is otherwise lost
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=call) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 6
    assert all(result == results[0] for result in results)
    assert SandboxLedgerEntry.objects.filter(idempotency_key=key).count() == 1
