"""Retention that runs (issue 16): on a seeded database, what is anonymised, what is kept,
and a job whose query count does not grow with the rows it acts on."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.compliance.models import DataAccessAuditLog, KybKycAuditLog, RetentionRun
from apps.compliance.retention import ANONYMISED, ANONYMISED_PAYLOAD, retention_run
from apps.core.keyed_hash import email_hash
from apps.integrations.models import IntegrationEvent, WebhookEvent
from apps.leads.models import Lead, LeadStatus
from apps.leads.services import lead_capture
from apps.merchants.models import Merchant, MerchantBankAccount, MerchantPerson
from tests.compliance.factories import DataAccessAuditLogFactory, KybKycAuditLogFactory
from tests.integrations.factories import (
    ExternalSystemSyncFactory,
    IntegrationEventFactory,
    WebhookEventFactory,
)
from tests.leads.factories import LeadFactory, capture_data
from tests.merchants.factories import (
    MerchantBankAccountFactory,
    MerchantFactory,
    MerchantLocationFactory,
    MerchantPersonFactory,
)
from tests.orders.factories import HardwareShipmentFactory, OrderFactory
from tests.progress.factories import StallAlertFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)
LONG_AGO = NOW - timedelta(days=400)
RECENTLY = NOW - timedelta(days=30)


def _lost_lead(closed_at, **fields):
    lead = LeadFactory(
        status=LeadStatus.LOST, closed_at=closed_at, close_reason="Chose a rival", **fields
    )
    IntegrationEventFactory(
        aggregate_type="lead", aggregate_id=lead.pk, event_payload={"email": lead.email}
    )
    return lead


def _abandoned_merchant(abandoned_at):
    merchant = MerchantFactory(journey_status="abandoned", journey_abandoned_at=abandoned_at)
    MerchantPersonFactory(merchant=merchant, first_name="Zed")
    MerchantBankAccountFactory(merchant=merchant, account_number="111122223")
    MerchantLocationFactory(merchant=merchant)
    HardwareShipmentFactory(order=OrderFactory(merchant=merchant))
    IntegrationEventFactory(aggregate_id=merchant.pk, event_payload={"name": "Secret Co"})
    StallAlertFactory(
        merchant=merchant,
        lead=merchant.lead,
        notes=[{"at": "2025-01-01T10:00:00+00:00", "author": "ic@x.test", "body": "Zed's cafe"}],
        resolution_action="Called Zed on his mobile",
    )
    return merchant


def seed(n: int) -> dict:
    """n of each kind: due for retention, not yet due, never due."""
    with time_machine.travel(LONG_AGO - timedelta(days=3000), tick=False):
        old_decisions = [KybKycAuditLogFactory() for _ in range(n)]
        old_accesses = [DataAccessAuditLogFactory() for _ in range(n)]
    with time_machine.travel(LONG_AGO, tick=False):
        due_leads = [_lost_lead(LONG_AGO) for _ in range(n)]
        due_merchants = [_abandoned_merchant(LONG_AGO) for _ in range(n)]
        old_events = [IntegrationEventFactory(published=True) for _ in range(n)]
        unpublished = IntegrationEventFactory(published=False)
        old_webhooks = [WebhookEventFactory() for _ in range(n)]
        WebhookEvent.objects.filter(pk__in=[w.pk for w in old_webhooks]).update(status="processed")
        failed_webhook = WebhookEventFactory()
        WebhookEvent.objects.filter(pk=failed_webhook.pk).update(status="failed")
        live = MerchantFactory(is_active=True)
    with time_machine.travel(RECENTLY, tick=False):
        recent = {
            "lead": _lost_lead(RECENTLY),
            "merchant": _abandoned_merchant(RECENTLY),
            "decision": KybKycAuditLogFactory(),
            "access": DataAccessAuditLogFactory(),
            "event": IntegrationEventFactory(published=True),
        }
        open_lead = LeadFactory()
    return {
        "due_leads": due_leads,
        "due_merchants": due_merchants,
        "old_decisions": old_decisions,
        "old_accesses": old_accesses,
        "old_events": old_events,
        "old_webhooks": old_webhooks,
        "kept": [unpublished, failed_webhook, live, open_lead, *recent.values()],
        "recent": recent,
        "open_lead": open_lead,
    }


def _run(**kwargs):
    with time_machine.travel(NOW, tick=False):
        return retention_run(triggered_by="test", **kwargs)


def test_retention_anonymises_deletes_and_keeps_what_it_should():
    data = seed(2)
    lead = data["due_leads"][0]
    old_email = lead.email

    run = _run()

    assert run.counts == {
        "leads_anonymised": 4,  # 2 lost + the leads of 2 abandoned merchants
        "merchants_anonymised": 2,
        "decisions_deleted": 2,
        "data_access_rows_deleted": 2,
        "outbox_events_deleted": 2,
        "webhook_bodies_cleared": 2,
    }
    lead.refresh_from_db()
    assert (lead.first_name, lead.last_name, lead.phone, lead.close_reason) == ("", "", "", "")
    assert lead.email == f"anonymised-{lead.pk}@anonymised.invalid"
    assert lead.business_name == ANONYMISED
    assert lead.email_hash == email_hash(old_email)
    assert lead.anonymised_at == NOW
    history = Lead.history.filter(id=lead.pk)
    assert history.exists()
    assert not history.filter(email=old_email).exists()
    assert set(history.values_list("first_name", flat=True)) == {""}
    payloads = IntegrationEvent.objects.filter(aggregate_id=lead.pk)
    assert [event.event_payload for event in payloads] == [ANONYMISED_PAYLOAD]

    merchant = Merchant.objects.get(pk=data["due_merchants"][0].pk)
    assert (merchant.legal_business_name, merchant.ein, merchant.ein_hash) == (
        ANONYMISED,
        None,
        None,
    )
    assert merchant.anonymised_at == NOW
    person = MerchantPerson.objects.get(merchant=merchant)
    assert (person.first_name, person.ssn, person.date_of_birth, person.email) == (
        ANONYMISED,
        None,
        None,
        "",
    )
    assert not MerchantPerson.history.filter(merchant_id=merchant.pk, first_name="Zed").exists()
    account = MerchantBankAccount.objects.get(merchant=merchant)
    assert "111122223" not in (account.account_number, str(account))
    assert merchant.shipments.get().ship_to_name == ANONYMISED
    alert = merchant.alerts.get()
    assert (alert.notes, alert.resolution_action) == ([], "")
    assert not any("Zed" in str(row.notes) for row in alert.history.all())
    assert (
        IntegrationEvent.objects.get(aggregate_id=merchant.pk).event_payload == ANONYMISED_PAYLOAD
    )

    assert not KybKycAuditLog.objects.filter(pk__in=[r.pk for r in data["old_decisions"]]).exists()
    assert not DataAccessAuditLog.objects.filter(
        pk__in=[r.pk for r in data["old_accesses"]]
    ).exists()
    assert not IntegrationEvent.objects.filter(pk__in=[e.pk for e in data["old_events"]]).exists()
    for webhook in data["old_webhooks"]:
        webhook.refresh_from_db()
        assert (webhook.payload, webhook.headers) == ({}, {})

    # Kept: everything not yet due, or never due.
    for row in data["kept"]:
        assert type(row).objects.filter(pk=row.pk).exists()
    recent = data["recent"]
    recent_lead = Lead.objects.get(pk=recent["lead"].pk)
    assert (recent_lead.email, recent_lead.anonymised_at) == (recent["lead"].email, None)
    assert Merchant.objects.get(pk=recent["merchant"].pk).legal_business_name != ANONYMISED
    assert Lead.objects.get(pk=data["open_lead"].pk).first_name == data["open_lead"].first_name
    assert WebhookEvent.objects.get(status="failed").payload != {}

    # A second run finds nothing more to do.
    assert set(_run().counts.values()) == {0}


def test_a_sync_pointing_at_a_deleted_event_keeps_its_history_with_the_reason():
    with time_machine.travel(LONG_AGO, tick=False):
        old_event = IntegrationEventFactory(published=True)
        sync = ExternalSystemSyncFactory(last_event=old_event)
    untouched = ExternalSystemSyncFactory()
    before = sync.history.count()

    _run()

    sync.refresh_from_db()
    assert sync.last_event_id is None
    assert not IntegrationEvent.objects.filter(pk=old_event.pk).exists()
    latest = sync.history.first()
    assert sync.history.count() == before + 1
    assert latest.history_change_reason == "retention_run: its last outbox event was deleted"
    assert (latest.history_date, latest.last_event_id) == (NOW, None)
    assert untouched.history.count() == 1


def test_a_returning_address_is_recognised_after_anonymisation():
    lead = seed(1)["due_leads"][0]
    _run()

    with time_machine.travel(NOW + timedelta(days=1)):
        new, created = lead_capture(data=capture_data(email=lead.email.upper()))

    assert created
    assert new.returning_from_id == lead.pk
    assert "returning" in new.history.earliest().history_change_reason


def test_the_job_costs_the_same_queries_for_few_or_many_rows():
    seed(1)
    with CaptureQueriesContext(connection) as small:
        first = _run()
    seed(6)
    with CaptureQueriesContext(connection) as large:
        second = _run()
    assert second.counts["leads_anonymised"] > first.counts["leads_anonymised"]
    assert len(large.captured_queries) == len(small.captured_queries)


def test_dry_run_prints_what_it_would_do_and_changes_nothing(capsys):
    data = seed(1)
    with time_machine.travel(NOW, tick=False):
        call_command("retention_run", "--dry-run")

    out = capsys.readouterr().out
    assert "Would" in out
    assert "leads anonymised: 2" in out
    assert "decisions deleted: 1" in out
    assert Lead.objects.get(pk=data["due_leads"][0].pk).anonymised_at is None
    assert KybKycAuditLog.objects.filter(pk=data["old_decisions"][0].pk).exists()
    run = RetentionRun.objects.get()
    assert (run.dry_run, run.triggered_by, run.counts["leads_anonymised"]) == (True, "command", 2)


def test_the_scheduled_task_runs_the_job_and_records_it():
    from apps.compliance.tasks import retention_run as task

    seed(1)
    with time_machine.travel(NOW, tick=False):
        counts = task()
    assert counts["merchants_anonymised"] == 1
    assert RetentionRun.objects.get().triggered_by == "schedule"
