"""An AE works their queue in the browser: claim the top lead, record first contact, and the
SLA clock stops."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.routing.models import AssignmentStatus, QueueAssignment
from tests.accounts.factories import AeUserFactory
from tests.leads.factories import LeadFactory
from tests.routing.factories import QueueAssignmentFactory, seeded_queues


def waiting_item(queue, business_name, priority, minutes_ago):
    queued_at = timezone.now() - timedelta(minutes=minutes_ago)
    return QueueAssignmentFactory(
        queue=queue,
        lead=LeadFactory(business_name=business_name, cohort="assisted"),
        priority=priority,
        queued_at=queued_at,
        sla_due_at=queued_at + timedelta(minutes=queue.sla_minutes),
    )


VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


def test_an_ae_claims_the_top_lead_and_sees_the_sla_clock_stop(sign_in, page, live_server):
    queue = seeded_queues()["ae_standard"]
    waiting_item(queue, "Corner Cafe", priority=45, minutes_ago=30)
    top = waiting_item(queue, "Harbor Golf Club", priority=210, minutes_ago=5)
    ae = AeUserFactory(first_name="Maria")

    sign_in(ae)
    page.goto(f"{live_server.url}/staff/queues/")
    page.get_by_role("link", name="AE standard").click()
    expect(page.get_by_role("heading", name="AE standard", level=1)).to_be_visible()
    expect(page.get_by_role("heading", name="Open items (2)")).to_be_visible()

    page.get_by_role("button", name="Claim next").click()

    expect(page.get_by_role("status")).to_contain_text("You took Harbor Golf Club.")
    expect(page.get_by_role("link", name="Mine (1)")).to_be_visible()
    row = page.locator(f"#item-{top.pk}")
    expect(row).to_contain_text("Assigned")
    expect(row).to_contain_text(re.compile(r"Due in \d+ (h|min)"))

    row.get_by_role("button", name="Record contact").click()

    row = page.locator(f"#item-{top.pk}")
    expect(row).to_contain_text("Contacted on time · clock stopped")
    expect(row).to_contain_text("Met")
    expect(row.get_by_role("button", name="Start work")).to_be_visible()
    item = QueueAssignment.objects.get(pk=top.pk)
    assert item.status == AssignmentStatus.CONTACTED
    assert item.assigned_to == ae
    assert item.first_contact_at is not None


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=list(VIEWPORTS))
def test_an_ae_finds_and_claims_a_specific_lead_then_opens_its_page(
    sign_in, page, live_server, viewport
):
    queue = seeded_queues()["ae_standard"]
    waiting_item(queue, "Harbor Golf Club", priority=210, minutes_ago=5)
    chosen = waiting_item(queue, "Sunrise Bakery", priority=10, minutes_ago=300)
    ae = AeUserFactory(first_name="Maria")
    page.set_viewport_size(VIEWPORTS[viewport])

    sign_in(ae)
    page.goto(f"{live_server.url}/staff/queues/ae_standard/")
    page.get_by_label("Search").fill("sunrise")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", name="Matching items (1)")).to_be_visible()
    row = page.locator(f"#item-{chosen.pk}")
    expect(row).to_contain_text("Breached")
    expect(row).to_contain_text(re.compile(r"Breached \d+ h ago"))
    box = row.get_by_role("button", name="Claim").bounding_box()
    assert box["width"] >= 24 and box["height"] >= 24  # a target a finger can hit

    row.get_by_role("button", name="Claim").click()

    expect(page.get_by_role("status")).to_contain_text("You took Sunrise Bakery.")
    expect(page).to_have_url(re.compile(r"q=sunrise"))
    row = page.locator(f"#item-{chosen.pk}")
    expect(row.get_by_role("button", name="Record contact")).to_be_visible()
    item = QueueAssignment.objects.get(pk=chosen.pk)
    assert (item.status, item.assigned_to) == (AssignmentStatus.ASSIGNED, ae)

    row.get_by_role("link", name="Item page").click()
    expect(page.get_by_role("heading", name="Sunrise Bakery", level=1)).to_be_visible()
    page.get_by_label("New note").fill("Called, will sign tomorrow")
    page.get_by_role("button", name="Add note").click()
    expect(page.get_by_role("status")).to_contain_text("Note added to Sunrise Bakery.")
    expect(page.get_by_text("Called, will sign tomorrow")).to_be_visible()


def test_the_queue_refreshes_every_30_seconds(sign_in, page, live_server):
    queue = seeded_queues()["ae_standard"]
    waiting_item(queue, "Corner Cafe", priority=45, minutes_ago=30)
    sign_in(AeUserFactory())
    page.clock.install()
    page.goto(f"{live_server.url}/staff/queues/ae_standard/")
    expect(page.get_by_role("heading", name="Open items (1)")).to_be_visible()

    waiting_item(queue, "Harbor Golf Club", priority=210, minutes_ago=5)
    page.clock.run_for(31_000)

    expect(page.get_by_role("heading", name="Open items (2)")).to_be_visible()


def test_claim_next_says_why_it_is_disabled_when_nothing_waits(sign_in, page, live_server):
    seeded_queues()
    sign_in(AeUserFactory())
    page.goto(f"{live_server.url}/staff/queues/ae_standard/")

    button = page.get_by_role("button", name="Claim next")
    expect(button).to_be_disabled()
    expect(button).to_have_accessible_description(re.compile("Nothing is waiting"))
