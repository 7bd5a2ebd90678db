"""Retrying a merchant's failed sync from the merchant hub (issue 14): ops get a "Retry now"
on each failed or conflicting sync and come back to the hub's syncs with the outcome; other
roles get no button and a 403; a `next` that leaves the site falls back to the ops console."""

import pytest
from django.urls import reverse
from django.utils.html import escape

from apps.accounts import roles
from apps.integrations.models import SyncStatus
from apps.integrations.services import RETRY_NOTHING_TO_SEND
from apps.integrations.views import RETRY_QUEUED
from tests.integrations.factories import ExternalSystemSyncFactory
from tests.merchants.factories import MerchantFactory

CONSOLE = reverse("integrations:ops_console")
RETRY_BUTTON = ">Retry now</button>"


def hub_url(merchant) -> str:
    return reverse("staff:merchant", args=[merchant.pk])


def retry_url(sync) -> str:
    return reverse("integrations:sync_retry", args=[sync.pk])


@pytest.fixture
def merchant(db):
    return MerchantFactory(legal_business_name="Harbor Golf Club")


def crm_sync(merchant, status=SyncStatus.FAILED, **extra):
    """The merchant's lead as sent to the CRM (the CRM syncs leads)."""
    return ExternalSystemSyncFactory(
        entity_type="lead",
        entity_id=merchant.lead_id,
        sync_status=status,
        retry_count=3 if status == SyncStatus.FAILED else 0,
        max_retries=3,
        last_error="CRM answered 503 Service Unavailable" if status == SyncStatus.FAILED else "",
        **extra,
    )


def sync_row(page: str, sync) -> str:
    return page[page.index(f'<tr id="sync-{sync.pk}">') :].split("</tr>", 1)[0]


@pytest.mark.parametrize(
    ("role", "offered"),
    [
        (roles.AE, False),
        (roles.IC, False),
        (roles.COMPLIANCE, False),
        (roles.OPS, True),
        ("superuser", True),
    ],
)
def test_only_ops_are_offered_retry_now_on_the_hub(client, role_users, merchant, role, offered):
    failed = crm_sync(merchant)
    client.force_login(role_users[role])

    page = client.get(hub_url(merchant)).text

    row = sync_row(page, failed)
    assert "CRM answered 503 Service Unavailable" in row
    assert (RETRY_BUTTON in row) == offered
    assert (retry_url(failed) in page) == offered


def test_retry_now_is_offered_on_failed_and_conflicting_syncs_only(client, ops_user, merchant):
    failed = crm_sync(merchant)
    conflicting = ExternalSystemSyncFactory(
        entity_type="merchant_kyb",
        entity_id=merchant.pk,
        external_system="payments",
        sync_status=SyncStatus.CONFLICT,
    )
    synced = ExternalSystemSyncFactory(
        entity_type="merchant_payments",
        entity_id=merchant.pk,
        external_system="payments",
        sync_status=SyncStatus.SYNCED,
    )
    client.force_login(ops_user)

    page = client.get(hub_url(merchant)).text

    assert RETRY_BUTTON in sync_row(page, failed)
    assert RETRY_BUTTON in sync_row(page, conflicting)
    assert RETRY_BUTTON not in sync_row(page, synced)
    assert page.count(RETRY_BUTTON) == 2


def test_a_retry_from_the_hub_comes_back_to_its_syncs_with_the_sync_pending(
    client, ops_user, merchant
):
    sync = crm_sync(merchant)
    client.force_login(ops_user)
    hub = hub_url(merchant)

    response = client.post(retry_url(sync), {"next": f"{hub}#syncs"}, follow=True)

    assert response.redirect_chain == [(f"{hub}#syncs", 302)]
    assert RETRY_QUEUED in response.text
    row = sync_row(response.text, sync)
    assert "Pending" in row
    assert RETRY_BUTTON not in row  # nothing left to retry
    sync.refresh_from_db()
    assert (sync.sync_status, sync.retry_count) == (SyncStatus.PENDING, 0)
    assert sync.history.first().history_user == ops_user


@pytest.mark.parametrize(
    "next_url",
    [
        "https://evil.example/staff/",
        "//evil.example/staff/",
        "/\\evil.example/staff/",
        "javascript:alert(1)",
        "staff/merchants/",
        "",
    ],
    ids=["other-site", "scheme-relative", "backslash", "javascript", "not-a-path", "empty"],
)
def test_a_retry_never_redirects_off_the_site_it_falls_back_to_the_console(
    client, ops_user, merchant, next_url
):
    sync = crm_sync(merchant)
    client.force_login(ops_user)

    response = client.post(retry_url(sync), {"next": next_url})

    assert response.status_code == 302
    assert response["Location"] == CONSOLE
    sync.refresh_from_db()
    assert sync.sync_status == SyncStatus.PENDING


@pytest.mark.parametrize("role", [roles.AE, roles.IC, roles.COMPLIANCE])
def test_other_roles_cannot_retry_and_nothing_changes(client, role_users, merchant, role):
    sync = crm_sync(merchant)
    before = sync.history.count()
    client.force_login(role_users[role])

    response = client.post(retry_url(sync), {"next": f"{hub_url(merchant)}#syncs"})

    assert response.status_code == 403
    sync.refresh_from_db()
    assert (sync.sync_status, sync.retry_count) == (SyncStatus.FAILED, 3)
    assert sync.history.count() == before


def test_retrying_a_synced_sync_is_refused_on_the_hub_and_changes_nothing(
    client, ops_user, merchant
):
    sync = crm_sync(merchant, status=SyncStatus.SYNCED)
    before = sync.history.count()
    client.force_login(ops_user)
    hub = hub_url(merchant)

    response = client.post(retry_url(sync), {"next": f"{hub}#syncs"}, follow=True)

    assert response.redirect_chain == [(f"{hub}#syncs", 302)]
    assert escape(RETRY_NOTHING_TO_SEND.format(status="Synced")) in response.text
    assert RETRY_QUEUED not in response.text
    sync.refresh_from_db()
    assert sync.sync_status == SyncStatus.SYNCED
    assert sync.history.count() == before
