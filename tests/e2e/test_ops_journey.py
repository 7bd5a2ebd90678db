"""The ops journey of issue 14, at 1280 px and at 390 px (a phone, where no page may scroll
sideways): a merchant's CRM sync failed; ops sign in, see it on their home, follow it to the
merchant hub and retry it there, coming back to the hub's syncs with the outcome.

Tasks run inline in tests (Q_SYNC), so the retry's push to the sandbox CRM runs before the
redirect: the sync is Synced when the hub shows again, which is what ops would see once the
worker picked it up."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.integrations.models import SyncStatus
from apps.integrations.views import RETRY_QUEUED
from tests.accounts.factories import OpsUserFactory
from tests.e2e.conftest import page_accessible
from tests.integrations.factories import ExternalSystemSyncFactory, IntegrationEventFactory
from tests.merchants.factories import MerchantFactory

VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
CRM_DOWN = "CRM answered 503 Service Unavailable"


def no_sideways_scroll(page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


def failed_crm_sync(merchant):
    """The merchant's lead, whose push to the CRM failed on its last change and has used up
    its automatic retries: only a person sends it again (with the same event)."""
    lead = merchant.lead
    event = IntegrationEventFactory(
        event_type="lead.updated",
        aggregate_type="lead",
        aggregate_id=lead.pk,
        event_payload={"lead_id": str(lead.pk)},
        published=True,
        published_at=timezone.now(),
    )
    return ExternalSystemSyncFactory(
        entity_type="lead",
        entity_id=lead.pk,
        sync_status=SyncStatus.FAILED,
        last_event=event,
        retry_count=3,
        max_retries=3,
        last_error=CRM_DOWN,
        last_error_at=timezone.now(),
    )


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_ops_follow_a_failed_sync_to_the_merchant_and_retry_it(
    sign_in, page, live_server, viewport
):
    page.set_viewport_size(VIEWPORTS[viewport])
    ops = OpsUserFactory(first_name="Olga")
    merchant = MerchantFactory(legal_business_name="Harbor Golf Club")
    sync = failed_crm_sync(merchant)

    sign_in(ops)
    expect(page.get_by_role("heading", name="Home", level=1)).to_be_visible()
    assert page.url.endswith("/staff/")
    failures = page.locator("#failed-syncs")
    expect(failures).to_contain_text("Harbor Golf Club")
    expect(failures).to_contain_text("CRM failed")
    assert no_sideways_scroll(page)
    if viewport == "phone":
        page_accessible(page)

    failures.get_by_role("link", name="Harbor Golf Club").click()
    expect(page.get_by_role("heading", name="Harbor Golf Club", level=1)).to_be_visible()
    row = page.locator(f"#sync-{sync.pk}")
    expect(row).to_contain_text("Failed")
    expect(row).to_contain_text(CRM_DOWN)
    assert no_sideways_scroll(page)
    if viewport == "phone":
        page_accessible(page)

    row.get_by_role("button", name="Retry now").click()

    page.wait_for_url(f"**/staff/merchants/{merchant.pk}/#syncs")
    expect(page.get_by_role("status")).to_contain_text(RETRY_QUEUED)
    sync.refresh_from_db()
    assert sync.sync_status == SyncStatus.SYNCED  # the push ran inline (see module docstring)
    assert sync.history.filter(history_user=ops).exists()
    row = page.locator(f"#sync-{sync.pk}")
    expect(row).not_to_contain_text("Failed")
    expect(row).to_contain_text(sync.get_sync_status_display())
    expect(row.get_by_role("button", name="Retry now")).to_have_count(0)
    assert no_sideways_scroll(page)
    if viewport == "phone":
        page_accessible(page)
