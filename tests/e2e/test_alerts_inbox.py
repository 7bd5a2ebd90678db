from playwright.sync_api import expect

from apps.leads.models import Cohort
from apps.progress.models import AlertStatus, Severity, StallAlert
from apps.progress.services import ACTION_REQUIRED
from apps.progress.views import CLAIMED, RESOLVED
from tests.accounts.factories import IcUserFactory
from tests.merchants.factories import MerchantFactory
from tests.progress.factories import StallAlertFactory


def _alert(name: str, severity: str):
    merchant = MerchantFactory(
        legal_business_name=name, cohort=Cohort.SELF_SERVE, current_step=3
    )
    return StallAlertFactory(merchant=merchant, severity=severity)


def test_an_ic_claims_the_top_alert_and_resolves_it(sign_in, page, live_server):
    ic = IcUserFactory()
    top = _alert("Copper Kettle Café", Severity.CRITICAL)
    other = _alert("Quiet Books", Severity.LOW)
    sign_in(ic)

    page.goto(f"{live_server.url}/staff/alerts/")
    first = page.locator("article.alert-card").first
    expect(first).to_contain_text("Stalled: Copper Kettle Café")
    expect(first).to_contain_text("Critical")

    first.get_by_role("button", name="Claim").click()
    card = page.locator(f"#alert-{top.pk}")
    expect(card).to_contain_text(CLAIMED)
    expect(card).to_contain_text("claimed by you")

    card.locator("summary", has_text="Resolve").click()
    card.get_by_label("What was done").fill("Called the owner: KYB documents uploaded")
    card.get_by_role("button", name="Mark resolved").click()

    card = page.locator(f"#alert-{top.pk}")
    expect(card).to_contain_text(RESOLVED)
    expect(card).to_contain_text("Called the owner: KYB documents uploaded")
    expect(card.get_by_role("button", name="Mark resolved")).to_have_count(0)
    top = StallAlert.objects.get(pk=top.pk)
    assert top.alert_status == AlertStatus.RESOLVED
    assert top.assigned_to == ic
    assert top.resolution_action == "Called the owner: KYB documents uploaded"
    assert StallAlert.objects.get(pk=other.pk).alert_status == AlertStatus.OPEN


def test_resolving_without_an_action_shows_why_on_the_alert(sign_in, page, live_server):
    ic = IcUserFactory()
    alert = _alert("Copper Kettle Café", Severity.HIGH)
    sign_in(ic)
    page.goto(f"{live_server.url}/staff/alerts/")
    card = page.locator(f"#alert-{alert.pk}")
    card.locator("summary", has_text="Resolve").click()
    textarea = card.get_by_label("What was done")
    # Only spaces: the browser lets it through, the server refuses it (422, swapped in).
    textarea.fill("   ")
    card.get_by_role("button", name="Mark resolved").click()

    expect(page.locator(f"#alert-{alert.pk} [role=alert]")).to_contain_text(ACTION_REQUIRED)
    assert StallAlert.objects.get(pk=alert.pk).alert_status == AlertStatus.OPEN
