"""Outages and slowness injected into the sandbox, shared through the database."""

import time

import pytest

from apps.integrations.models import SandboxFault, SandboxLedgerEntry
from apps.integrations.providers import get_provider
from apps.integrations.providers.base import PermanentError, RetryableError
from apps.integrations.providers.sandbox import sandbox_clear_faults, sandbox_fail

pytestmark = pytest.mark.django_db


def upsert(key: str = "evt-1") -> dict:
    return get_provider("crm").upsert_lead(
        idempotency_key=key, lead={"lead_id": "L1", "fields": {}}
    )


def test_a_provider_fails_the_given_number_of_times_then_succeeds():
    sandbox_fail("crm", times=2)
    for _ in range(2):
        with pytest.raises(RetryableError) as failed:
            upsert()
        assert failed.value.status == 503
    assert upsert()["crm_lead_id"]
    assert SandboxLedgerEntry.objects.count() == 1
    assert not SandboxFault.objects.exists()


def test_a_permanent_fault_raises_a_permanent_error_with_its_message():
    sandbox_fail("crm", kind="permanent", message="Lead rejected by a validation rule")
    with pytest.raises(PermanentError, match="Lead rejected by a validation rule"):
        upsert()
    assert not SandboxLedgerEntry.objects.exists()


def test_a_fault_for_one_operation_leaves_the_others_alone():
    sandbox_fail("payments", "submit_kyb")
    assert get_provider("payments").create_account(idempotency_key="k", merchant={})
    with pytest.raises(RetryableError):
        get_provider("payments").submit_kyb(idempotency_key="k", business={"ein": "1"})


def test_a_fault_without_a_count_lasts_until_cleared():
    sandbox_fail("crm", times=None)
    for _ in range(3):
        with pytest.raises(RetryableError):
            upsert()
    sandbox_clear_faults()
    assert upsert()


def test_read_only_calls_can_fail_too():
    crm_lead_id = upsert()["crm_lead_id"]
    sandbox_fail("crm", "get_lead")
    with pytest.raises(RetryableError):
        get_provider("crm").get_lead(crm_lead_id=crm_lead_id)


def _timed(call) -> float:
    started = time.monotonic()
    call()
    return time.monotonic() - started


def test_the_global_latency_setting_slows_every_call(settings):
    settings.SANDBOX_LATENCY_MS = 50
    assert _timed(upsert) >= 0.04


def test_a_latency_fault_slows_the_call_which_then_succeeds():
    sandbox_fail("crm", kind="latency", latency_ms=50)
    assert _timed(upsert) >= 0.04
    assert SandboxLedgerEntry.objects.count() == 1
