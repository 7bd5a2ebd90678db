"""Lead ↔ CRM through the outbox and the sandbox CRM: every remote effect is counted in the
sandbox ledger, so "exactly once" is checked, not assumed."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from apps.integrations import delivery, outbox, services
from apps.integrations.models import (
    ExternalSystemSync,
    IntegrationEvent,
    SandboxLedgerEntry,
    SyncStatus,
    WebhookEvent,
    WebhookStatus,
)
from apps.integrations.providers import reset_providers
from apps.integrations.providers.sandbox import sandbox_crm_edit, sandbox_fail
from apps.leads import crm
from apps.leads.models import Cohort, SellingPlan
from apps.leads.services import lead_create, lead_update
from tests.accounts.factories import AeUserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_providers():
    reset_providers()
    yield
    reset_providers()


def _upserts():
    return SandboxLedgerEntry.objects.filter(system="crm", operation="upsert_lead")


def _new_lead(**fields):
    return lead_create(
        email=fields.pop("email", "owner@bistro.test"),
        first_name="Ana",
        last_name="Lopez",
        phone="+1-415-555-0100",
        business_name="Bistro Ana",
        annual_revenue_estimate=Decimal("750000"),
        number_of_locations=2,
        **fields,
    )


def _sync(lead):
    return ExternalSystemSync.objects.get(entity_id=lead.pk, external_system="crm")


def _run_due_retries(sync):
    with time_machine.travel(sync.next_retry_at + timedelta(seconds=1)):
        delivery.syncs_retry_due()
    sync.refresh_from_db()
    return sync


def test_a_new_lead_is_created_in_the_crm_with_the_mapped_fields():
    lead = _new_lead()
    lead.refresh_from_db()
    sync = _sync(lead)
    assert sync.sync_status == SyncStatus.SYNCED
    assert lead.crm_lead_id == sync.external_entity_id
    entry = _upserts().get()
    fields = entry.request["fields"]
    assert fields["Email"] == "owner@bistro.test"
    assert fields["GTV_Estimate__c"] == "750000.00"
    assert fields["Opportunity_Stage"] == "Prospecting"
    assert entry.idempotency_key == str(sync.last_event_id)


def test_cohort_and_selling_plan_reach_the_crm_custom_fields():
    lead = _new_lead()
    lead.cohort, lead.selling_plan = Cohort.ASSISTED, SellingPlan.AE_ASSISTED
    lead.save()
    lead_update(lead=lead, actor=None, phone="+1-415-555-0199")
    fields = _upserts().order_by("-created_at").first().request["fields"]
    assert fields["Cohort__c"] == "assisted"
    assert fields["Opportunity_Stage"] == crm.OPPORTUNITY_STAGE["ae_assisted"]
    assert fields["Phone"] == "+1-415-555-0199"


def test_crm_down_for_two_attempts_then_up_creates_one_crm_lead():
    sandbox_fail("crm", "upsert_lead", times=2)
    lead = _new_lead()
    sync = _sync(lead)
    assert (sync.sync_status, sync.retry_count) == (SyncStatus.FAILED, 1)
    sync = _run_due_retries(sync)
    assert (sync.sync_status, sync.retry_count) == (SyncStatus.FAILED, 2)
    sync = _run_due_retries(sync)
    assert sync.sync_status == SyncStatus.SYNCED
    assert _upserts().count() == 1


def test_the_merchant_side_never_waits_for_a_down_crm():
    sandbox_fail("crm", times=None)
    lead = _new_lead()
    assert lead.pk is not None
    event = IntegrationEvent.objects.get(aggregate_id=lead.pk, event_type="lead.created")
    assert event.published is True  # handed to the sync, which keeps retrying
    assert _sync(lead).sync_status == SyncStatus.FAILED
    assert _upserts().count() == 0


def test_a_permanent_crm_error_is_failed_and_visible():
    sandbox_fail("crm", "upsert_lead", kind="permanent", message="Email rejected by CRM")
    lead = _new_lead()
    sync = _sync(lead)
    assert sync.sync_status == SyncStatus.FAILED
    assert "Email rejected by CRM" in sync.last_error
    assert sync.next_retry_at is None


def test_a_redelivered_event_after_a_worker_crash_makes_one_remote_effect():
    lead = _new_lead()
    event = IntegrationEvent.objects.get(aggregate_id=lead.pk, event_type="lead.created")
    # The worker called the CRM, then died before recording anything: on its side the event
    # is unpublished and the sync pending again.
    IntegrationEvent.objects.filter(pk=event.pk).update(published=False)
    ExternalSystemSync.objects.filter(pk=_sync(lead).pk).delete()
    services.event_deliver(event_id=event.pk)
    services.event_deliver(event_id=event.pk)
    assert _upserts().count() == 1
    assert _sync(lead).sync_status == SyncStatus.SYNCED


def test_the_sweep_delivers_an_event_whose_enqueue_was_lost(monkeypatch):
    monkeypatch.setattr(outbox, "enqueue_delivery", lambda event_id: None)
    lead = _new_lead()
    monkeypatch.undo()
    event = IntegrationEvent.objects.get(aggregate_id=lead.pk, event_type="lead.created")
    assert event.published is False
    IntegrationEvent.objects.filter(pk=event.pk).update(
        occurred_at=timezone.now() - timedelta(minutes=2)
    )
    assert services.events_sweep_unpublished() == 1
    event.refresh_from_db()
    assert event.published is True
    assert _upserts().count() == 1


def test_a_field_changed_on_both_sides_is_a_conflict_not_an_overwrite():
    lead = _new_lead()
    lead.refresh_from_db()
    sandbox_crm_edit(lead.crm_lead_id, fields={"Phone": "+1-212-555-0001"})
    lead_update(lead=lead, actor=None, phone="+1-415-555-0002")
    sync = _sync(lead)
    assert sync.sync_status == SyncStatus.CONFLICT
    assert sync.conflict_fields == ["Phone"]
    assert "Phone" in sync.last_error
    assert _upserts().count() == 1  # nothing pushed over the CRM's value


@pytest.mark.parametrize(
    ("keep", "phone_everywhere"), [("ours", "+1-415-555-0002"), ("theirs", "+1-212-555-0001")]
)
def test_a_person_resolves_a_conflict(keep, phone_everywhere, ops_user):
    lead = _new_lead()
    lead.refresh_from_db()
    sandbox_crm_edit(lead.crm_lead_id, fields={"Phone": "+1-212-555-0001"})
    lead_update(lead=lead, actor=None, phone="+1-415-555-0002")
    crm.crm_conflict_resolve(sync=_sync(lead), keep=keep, actor=ops_user)
    lead.refresh_from_db()
    sync = _sync(lead)
    assert sync.sync_status == SyncStatus.SYNCED
    assert lead.phone == phone_everywhere
    assert _upserts().order_by("-created_at").first().request["fields"]["Phone"] == (
        phone_everywhere
    )
    assert sync.history.filter(history_user=ops_user).exists()


def test_a_contact_field_changed_only_in_the_crm_is_pulled_into_the_lead():
    lead = _new_lead()
    lead.refresh_from_db()
    sandbox_crm_edit(lead.crm_lead_id, fields={"LastName": "López-García"})
    lead_update(lead=lead, actor=None, business_name="Bistro Ana & Co")
    lead.refresh_from_db()
    assert (lead.last_name, lead.business_name) == ("López-García", "Bistro Ana & Co")
    pushed = _upserts().order_by("-created_at").first().request["fields"]
    assert pushed["LastName"] == "López-García"
    assert _sync(lead).sync_status == SyncStatus.SYNCED


def test_an_owner_change_in_the_crm_reassigns_the_lead():
    ae = AeUserFactory(email="maria.ae@lightspeed.example")
    lead = _new_lead()
    lead.refresh_from_db()
    sandbox_crm_edit(lead.crm_lead_id, owner_email="maria.ae@lightspeed.example")
    lead.refresh_from_db()
    assert lead.assigned_ae == ae
    webhook = WebhookEvent.objects.get(provider="crm", event_type="lead.owner_changed")
    assert webhook.status == WebhookStatus.PROCESSED
    assert lead.history.first().history_change_reason.startswith("lead_assign_ae")


def test_an_owner_unknown_here_leaves_the_webhook_failed_for_ops():
    lead = _new_lead()
    lead.refresh_from_db()
    sandbox_crm_edit(lead.crm_lead_id, owner_email="nobody@elsewhere.test")
    webhook = WebhookEvent.objects.get(provider="crm", event_type="lead.owner_changed")
    assert webhook.status == WebhookStatus.FAILED
    assert "DoesNotExist" in webhook.error
    lead.refresh_from_db()
    assert lead.assigned_ae is None
