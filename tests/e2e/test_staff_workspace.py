"""Staff journeys through the workspace (issue 14), at 1280 px and at 390 px (a phone, where
no page may scroll sideways): an AE goes from their home to a queue item's merchant and adds a
note; an IC goes from an alert to the merchant and resolves the intervention."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.leads.models import Cohort
from apps.progress.models import AlertStatus, StallAlert
from apps.routing.models import AssignmentNote, AssignmentStatus, QueueAssignment
from tests.accounts.factories import AeUserFactory, IcUserFactory
from tests.merchants.factories import MerchantFactory
from tests.progress.factories import JourneyStepFactory, StallAlertFactory
from tests.routing.factories import QueueAssignmentFactory, seeded_queues

VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


def no_sideways_scroll(page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_an_ae_goes_from_home_to_the_merchant_and_adds_a_note(sign_in, page, live_server, viewport):
    page.set_viewport_size(VIEWPORTS[viewport])
    queues = seeded_queues()
    ae = AeUserFactory(first_name="Maria")
    merchant = MerchantFactory(
        legal_business_name="Harbor Golf Club", cohort=Cohort.ASSISTED, ein="12-3456789"
    )
    now = timezone.now()
    item = QueueAssignmentFactory(
        queue=queues["ae_standard"],
        lead=merchant.lead,
        status=AssignmentStatus.ASSIGNED,
        assigned_to=ae,
        queued_at=now - timedelta(minutes=200),
        sla_due_at=now + timedelta(minutes=40),
    )

    sign_in(ae)
    expect(page.get_by_role("heading", name="Home", level=1)).to_be_visible()
    assert page.url.endswith("/staff/")
    items = page.locator("#my-items")
    expect(items).to_contain_text("Due soon")
    assert no_sideways_scroll(page)

    items.get_by_role("link", name="Harbor Golf Club").click()
    expect(page.get_by_role("heading", name="Harbor Golf Club", level=1)).to_be_visible()
    expect(page.locator("#merchant-ein")).to_have_text("•••• 6789")
    assert no_sideways_scroll(page)

    note_form = page.locator("form", has=page.get_by_role("heading", name="Add a note"))
    note_form.get_by_label("Note").fill("Called: wants the hardware bundle, back Monday")
    note_form.get_by_role("button", name="Save note").click()

    expect(page.get_by_role("status")).to_contain_text("Note added.")
    expect(page.locator("#notes")).to_contain_text("Called: wants the hardware bundle")
    note = AssignmentNote.objects.get()
    assert (note.assignment_id, note.author_id) == (item.pk, ae.pk)
    assert no_sideways_scroll(page)


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_an_ic_goes_from_an_alert_to_the_merchant_and_resolves_the_intervention(
    sign_in, page, live_server, viewport
):
    page.set_viewport_size(VIEWPORTS[viewport])
    queues = seeded_queues()
    ic = IcUserFactory(first_name="Ines")
    for step_id in range(1, 4):
        JourneyStepFactory(id=step_id)
    merchant = MerchantFactory(legal_business_name="Copper Kettle Café", current_step=3)
    item = QueueAssignmentFactory(
        queue=queues["ic_intervention"],
        merchant=merchant,
        lead=None,
        reason="Stalled 4 days on step 3",
        sla_due_at=timezone.now() + timedelta(hours=3),
    )
    alert = StallAlertFactory(
        merchant=merchant, queue_assignment=item, assigned_to=ic, alert_status="assigned"
    )

    sign_in(ic)
    alerts = page.locator("#my-alerts")
    expect(alerts).to_contain_text("Stalled on step 3")
    assert no_sideways_scroll(page)
    alerts.get_by_role("link", name="Copper Kettle Café").click()

    expect(page.get_by_role("heading", name="Copper Kettle Café", level=1)).to_be_visible()
    expect(page.locator("#work")).to_contain_text("Stalled 4 days on step 3")
    assert no_sideways_scroll(page)
    form = page.locator("form", has=page.get_by_role("heading", name="Resolve the IC intervention"))
    form.get_by_label("What was done").fill("Walked the owner through the bank details")
    form.get_by_role("button", name="Resolve intervention").click()

    expect(page.get_by_role("status")).to_contain_text("IC intervention resolved.")
    expect(page.locator("#work")).to_contain_text("Nothing open.")
    assert QueueAssignment.objects.get(pk=item.pk).status == AssignmentStatus.RESOLVED
    alert = StallAlert.objects.get(pk=alert.pk)
    assert alert.alert_status == AlertStatus.RESOLVED
    assert alert.resolution_action == "Walked the owner through the bank details"
    assert no_sideways_scroll(page)
