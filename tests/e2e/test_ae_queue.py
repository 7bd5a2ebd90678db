"""An AE works their queue in the browser: claim the top lead, record first contact, and the
SLA clock stops."""

import re
from datetime import timedelta

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


def test_an_ae_claims_the_top_lead_and_sees_the_sla_clock_stop(sign_in, page, live_server):
    queue = seeded_queues()["ae_standard"]
    waiting_item(queue, "Corner Cafe", priority=45, minutes_ago=30)
    top = waiting_item(queue, "Harbor Golf Club", priority=210, minutes_ago=5)
    ae = AeUserFactory(first_name="Maria")

    sign_in(ae)
    page.goto(f"{live_server.url}/staff/queues/")
    page.get_by_role("link", name="AE standard").click()
    expect(page.get_by_role("heading", name="AE standard", level=1)).to_be_visible()
    expect(page.get_by_role("heading", name="Unassigned (2)")).to_be_visible()

    page.get_by_role("button", name="Claim next").click()

    expect(page.get_by_role("status")).to_contain_text("You took Harbor Golf Club.")
    expect(page.get_by_role("heading", name="My items (1)")).to_be_visible()
    row = page.locator(f"#item-{top.pk}")
    expect(row).to_contain_text("Assigned")
    expect(row).to_contain_text(re.compile(r"\d+ (h|min).* left"))

    row.get_by_role("button", name="Record contact").click()

    row = page.locator(f"#item-{top.pk}")
    expect(row).to_contain_text("Contacted on time · clock stopped")
    expect(row).not_to_contain_text("left")
    expect(row.get_by_role("button", name="Start work")).to_be_visible()
    item = QueueAssignment.objects.get(pk=top.pk)
    assert item.status == AssignmentStatus.CONTACTED
    assert item.assigned_to == ae
    assert item.first_contact_at is not None


def test_the_queue_refreshes_every_30_seconds_but_not_while_a_form_is_open(
    sign_in, page, live_server
):
    queue = seeded_queues()["ae_standard"]
    sign_in(AeUserFactory())
    page.clock.install()
    page.goto(f"{live_server.url}/staff/queues/ae_standard/")
    expect(page.get_by_role("heading", name="Unassigned (0)")).to_be_visible()

    waiting_item(queue, "Harbor Golf Club", priority=210, minutes_ago=5)
    page.clock.run_for(31_000)
    expect(page.get_by_role("heading", name="Unassigned (1)")).to_be_visible()

    page.get_by_text("Notes (0)").click()  # a form is open: typing is never swept away
    waiting_item(queue, "Corner Cafe", priority=45, minutes_ago=30)
    page.clock.run_for(31_000)
    page.wait_for_timeout(500)
    expect(page.get_by_role("heading", name="Unassigned (1)")).to_be_visible()

    page.get_by_text("Notes (0)").click()
    page.clock.run_for(31_000)
    expect(page.get_by_role("heading", name="Unassigned (2)")).to_be_visible()


def test_claiming_from_an_empty_queue_says_so_on_the_page(sign_in, page, live_server):
    seeded_queues()
    sign_in(AeUserFactory())
    page.goto(f"{live_server.url}/staff/queues/ae_standard/")

    page.get_by_role("button", name="Claim next").click()

    expect(page.get_by_role("alert")).to_contain_text("Nothing is waiting in this queue")
