"""/staff/ops/integrations/: ops (and superusers) see what failed and retry syncs; nobody
else gets in; the page costs the same number of queries whatever the row counts."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.integrations.models import SyncStatus, WebhookStatus
from apps.integrations.services import RETRY_NOTHING_TO_SEND
from apps.integrations.views import RETRY_QUEUED
from tests.accounts.factories import (
    AeUserFactory,
    ComplianceUserFactory,
    IcUserFactory,
    MerchantUserFactory,
    OpsUserFactory,
    UserFactory,
)
from tests.integrations.factories import (
    ExternalSystemSyncFactory,
    IntegrationEventFactory,
    WebhookEventFactory,
)
from tests.leads.factories import LeadFactory
from tests.merchants.factories import (
    MerchantBankAccountFactory,
    MerchantFactory,
    MerchantPersonFactory,
)

pytestmark = pytest.mark.django_db

CONSOLE = reverse("integrations:ops_console")


def retry_url(sync) -> str:
    return reverse("integrations:sync_retry", args=[sync.pk])


def failed_sync(**extra):
    return ExternalSystemSyncFactory(
        sync_status=SyncStatus.FAILED,
        retry_count=3,
        max_retries=3,
        last_error="CRM answered 503 Service Unavailable",
        **extra,
    )


def conflict_sync(**extra):
    return ExternalSystemSyncFactory(
        sync_status=SyncStatus.CONFLICT,
        conflict_fields=["legal_name", "phone"],
        last_error="Both sides changed legal_name and phone.",
        **extra,
    )


def sync_row(page: str, sync) -> str:
    return page[page.index(f'<tr id="sync-{sync.pk}">') :].split("</tr>", 1)[0]


def stuck_event(**extra):
    return IntegrationEventFactory(
        occurred_at=timezone.now() - timedelta(minutes=10),
        publish_attempts=4,
        last_publish_error="ConnectionError: billing down",
        **extra,
    )


def rejected_webhook(**extra):
    return WebhookEventFactory(
        status=WebhookStatus.REJECTED,
        signature_valid=False,
        error="Signature does not match.",
        **extra,
    )


# --- who gets in ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make_user", "expected"),
    [
        (MerchantUserFactory, 403),
        (AeUserFactory, 403),
        (IcUserFactory, 403),
        (ComplianceUserFactory, 403),
        (UserFactory, 403),
        (OpsUserFactory, 200),
        (lambda: UserFactory(is_superuser=True, is_staff=True), 200),
    ],
    ids=["merchant", "ae", "ic", "compliance", "no-role", "ops", "superuser"],
)
def test_only_ops_and_superusers_see_the_console(client, make_user, expected):
    client.force_login(make_user())
    assert client.get(CONSOLE).status_code == expected


def test_an_anonymous_visitor_is_sent_to_sign_in_and_back(client):
    response = client.get(CONSOLE)
    assert response.status_code == 302
    assert response.url == f"{reverse('accounts:login')}?next={CONSOLE}"


def test_an_anonymous_htmx_retry_sends_the_whole_window_to_sign_in(client):
    sync = failed_sync()
    response = client.post(
        retry_url(sync),
        headers={"HX-Request": "true", "HX-Current-URL": f"http://testserver{CONSOLE}"},
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"{reverse('accounts:login')}?next={CONSOLE}"
    sync.refresh_from_db()
    assert sync.sync_status == SyncStatus.FAILED


# --- what it shows ----------------------------------------------------------------------------


def test_the_console_lists_what_needs_a_person(client, ops_user):
    failed = failed_sync()
    conflicting = conflict_sync()
    stuck = stuck_event(event_type="order.paid")
    rejected = rejected_webhook(external_id="evt_forged")
    failed_webhook = WebhookEventFactory(status=WebhookStatus.FAILED, error="KeyError: 'x'")
    # Not listed: a synced sync, a fresh unpublished event, a processed webhook, an old reject.
    fine = ExternalSystemSyncFactory(sync_status=SyncStatus.SYNCED)
    fresh = IntegrationEventFactory()
    processed = WebhookEventFactory(status=WebhookStatus.PROCESSED)
    old = rejected_webhook(received_at=timezone.now() - timedelta(days=8))
    client.force_login(ops_user)

    page = client.get(CONSOLE).text

    assert f'id="sync-{failed.pk}"' in page
    assert "CRM answered 503 Service Unavailable" in page
    assert "3/3" in page
    assert f'id="sync-{conflicting.pk}"' in page
    assert "legal_name, phone" in page
    assert f'id="event-{stuck.pk}"' in page
    assert "ConnectionError: billing down" in page
    assert f'id="webhook-{rejected.pk}"' in page
    assert "Signature does not match." in page
    assert f'id="webhook-{failed_webhook.pk}"' in page
    for hidden in (f"sync-{fine.pk}", f"event-{fresh.pk}", f"webhook-{processed.pk}"):
        assert hidden not in page
    assert f"webhook-{old.pk}" not in page
    assert page.count(">Retry</button>") == 2


def test_each_failed_sync_links_to_its_merchant_hub_or_to_its_lead(client, ops_user):
    """Wherever the entity sits (the merchant, its lead, an owner, a bank account), a sync
    that belongs to a merchant links to the merchant hub; a lead with no merchant yet links
    to the lead page."""
    merchant = MerchantFactory(legal_business_name="Harbor Golf Club")
    person = MerchantPersonFactory(merchant=merchant)
    account = MerchantBankAccountFactory(merchant=merchant)
    lone_lead = LeadFactory()
    owned = [
        failed_sync(entity_type="lead", entity_id=merchant.lead_id),
        failed_sync(entity_type="merchant_kyb", entity_id=merchant.pk, external_system="payments"),
        conflict_sync(entity_type="person_kyc", entity_id=person.pk, external_system="payments"),
        failed_sync(entity_type="bank_account", entity_id=account.pk, external_system="payments"),
    ]
    lead_only = failed_sync(entity_type="lead", entity_id=lone_lead.pk)
    client.force_login(ops_user)

    page = client.get(CONSOLE).text

    hub_link = f'<a href="{reverse("staff:merchant", args=[merchant.pk])}">Harbor Golf Club</a>'
    for sync in owned:
        assert hub_link in sync_row(page, sync), sync.entity_type
    lead_link = f'<a href="{reverse("leads:staff_lead_detail", args=[lone_lead.pk])}">lead</a>'
    assert lead_link in sync_row(page, lead_only)


def test_a_rejected_webhook_shows_its_source_size_and_hash_instead_of_a_body(client, ops_user):
    rejected = rejected_webhook(
        source_ip="203.0.113.7", body_size=8042, body_sha256="ab12cd34" + "0" * 56, payload={}
    )
    client.force_login(ops_user)

    page = client.get(CONSOLE).text

    row = page[page.index(f'id="webhook-{rejected.pk}"') :].split("</tr>", 1)[0]
    assert "203.0.113.7" in row
    assert "8042 bytes" in row
    assert "sha256 ab12cd34" in row


def test_the_console_costs_the_same_queries_for_3_or_60_rows_of_each_kind(client, ops_user):
    def make_rows(count):
        for _ in range(count):
            failed_sync()
            conflict_sync()
            stuck_event()
            rejected_webhook()

    def queries():
        with CaptureQueriesContext(connection) as context:
            response = client.get(CONSOLE)
        assert response.status_code == 200
        return len(context.captured_queries)

    client.force_login(ops_user)
    make_rows(3)
    with_few = queries()
    make_rows(57)
    assert queries() == with_few


def test_long_lists_are_paginated_fifty_per_page(client, ops_user):
    for _ in range(51):
        stuck_event()
    client.force_login(ops_user)

    first = client.get(CONSOLE).text
    second = client.get(CONSOLE, {"events_page": 2}).text

    assert first.count('id="event-') == 50
    assert "Page 1 of 2" in first
    assert second.count('id="event-') == 1


# --- retry ------------------------------------------------------------------------------------


def test_an_htmx_retry_queues_the_sync_and_re_renders_its_row(client, ops_user):
    sync = failed_sync()
    client.force_login(ops_user)

    response = client.post(retry_url(sync), headers={"HX-Request": "true"})

    assert response.status_code == 200
    sync.refresh_from_db()
    assert sync.sync_status == SyncStatus.PENDING
    assert sync.retry_count == 0
    assert sync.history.first().history_user == ops_user
    assert response.text.strip().startswith(f'<tr id="sync-{sync.pk}">')
    assert "<html" not in response.text
    assert RETRY_QUEUED in response.text
    assert "Pending" in response.text


def test_a_retry_enqueues_the_push_after_commit(
    client, ops_user, monkeypatch, django_capture_on_commit_callbacks
):
    enqueued = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda *args, **kw: enqueued.append(args))
    sync = failed_sync()
    client.force_login(ops_user)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(retry_url(sync), headers={"HX-Request": "true"})

    assert enqueued == [("apps.integrations.tasks.sync_push_now", str(sync.pk))]


def test_a_retry_without_javascript_redirects_back_with_a_message(client, ops_user):
    sync = conflict_sync()
    client.force_login(ops_user)

    response = client.post(retry_url(sync), follow=True)

    assert response.redirect_chain == [(CONSOLE, 302)]
    assert RETRY_QUEUED in response.text
    sync.refresh_from_db()
    assert sync.sync_status == SyncStatus.PENDING


def test_an_ae_cannot_retry(client):
    sync = failed_sync()
    client.force_login(AeUserFactory())

    response = client.post(retry_url(sync), headers={"HX-Request": "true"})

    assert response.status_code == 403
    sync.refresh_from_db()
    assert sync.sync_status == SyncStatus.FAILED
    assert sync.retry_count == 3


def test_retrying_a_pending_sync_is_refused_with_the_reason_in_its_row(client, ops_user):
    sync = ExternalSystemSyncFactory(sync_status=SyncStatus.PENDING)
    before = sync.history.count()
    client.force_login(ops_user)

    response = client.post(retry_url(sync), headers={"HX-Request": "true"})

    assert response.status_code == 422
    assert response["HX-Retarget"] == f"#sync-{sync.pk}"
    assert response["HX-Reswap"] == "outerHTML"
    assert "it cannot queue again now" in response.text
    assert f'<tr id="sync-{sync.pk}">' in response.text
    sync.refresh_from_db()
    assert sync.sync_status == SyncStatus.PENDING
    assert sync.history.count() == before


def test_retrying_a_synced_sync_is_refused_and_changes_nothing(client, ops_user):
    sync = ExternalSystemSyncFactory(sync_status=SyncStatus.SYNCED)
    before = sync.history.count()
    client.force_login(ops_user)

    response = client.post(retry_url(sync), headers={"HX-Request": "true"})

    assert response.status_code == 422
    assert RETRY_NOTHING_TO_SEND.format(status="Synced") in response.text
    sync.refresh_from_db()
    assert sync.sync_status == SyncStatus.SYNCED
    assert sync.history.count() == before


def test_an_htmx_retry_keeps_the_rows_link_to_the_merchant(client, ops_user):
    merchant = MerchantFactory(legal_business_name="Harbor Golf Club")
    sync = failed_sync(entity_type="lead", entity_id=merchant.lead_id)
    client.force_login(ops_user)

    response = client.post(retry_url(sync), headers={"HX-Request": "true"})

    assert reverse("staff:merchant", args=[merchant.pk]) in response.text


def test_a_refused_retry_without_javascript_says_why(client, ops_user):
    sync = ExternalSystemSyncFactory(sync_status=SyncStatus.PENDING)
    client.force_login(ops_user)

    response = client.post(retry_url(sync), follow=True)

    assert response.status_code == 200
    assert "it cannot queue again now" in response.text


def test_retrying_an_unknown_sync_is_a_404(client, ops_user):
    client.force_login(ops_user)
    response = client.post(
        reverse("integrations:sync_retry", args=["00000000-0000-0000-0000-000000000000"])
    )
    assert response.status_code == 404


def test_retry_is_a_post(client, ops_user):
    sync = failed_sync()
    client.force_login(ops_user)
    assert client.get(retry_url(sync)).status_code == 405
