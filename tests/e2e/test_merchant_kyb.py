"""In the browser: a self-serve merchant gets started, creates an account and passes KYB
(sandbox approval); a merchant whose KYB needs review is approved by a compliance reviewer."""

from django.core import mail
from playwright.sync_api import expect

from apps.compliance.models import KybKycAuditLog
from apps.merchants.choices import CheckStatus
from apps.merchants.models import Merchant
from apps.merchants.selectors.kyb import KYB_APPROVED, KYB_UNDER_REVIEW
from tests.accounts.factories import PASSWORD as ACCOUNT_PASSWORD
from tests.accounts.factories import ComplianceUserFactory
from tests.merchants.factories import account_created_merchant
from tests.routing.factories import seeded_queues

PASSWORD = "plum-orchard-42-lantern"


def merchant_signs_in(page, live_server, user) -> None:
    """Through the login form; a merchant lands on their dashboard (the `sign_in` fixture
    waits for the home page, which sends merchants on)."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(ACCOUNT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/dashboard/")


def fill_kyb(page, *, ein: str) -> None:
    page.get_by_label("Business structure").select_option("llc")
    page.get_by_label("EIN").fill(ein)
    page.get_by_label("Street address").fill("1 Market St")
    page.get_by_label("City").fill("San Francisco")
    page.get_by_label("State").select_option("CA")
    page.get_by_label("ZIP code").fill("94105")
    page.get_by_role("button", name="Submit for verification").click()


def test_a_self_serve_merchant_signs_up_and_passes_kyb(page, live_server, journey_steps):
    seeded_queues()
    page.goto(f"{live_server.url}/get-started/")
    page.get_by_label("First name").fill("Ana")
    page.get_by_label("Last name").fill("Silva")
    page.get_by_label("Email").fill("ana@copperbistro.example")
    page.get_by_label("Business name").fill("Copper Bistro")
    page.get_by_label("Vertical").select_option(index=1)
    page.get_by_label("Business type").select_option("llc")
    page.get_by_label("Annual revenue estimate (USD)").fill("350000")
    page.get_by_label("Number of locations").fill("1")
    page.get_by_role("button", name="Get started").click()

    expect(page.get_by_text("Check your email")).to_be_visible()
    # The link to continue goes to the address only (never shown to whoever typed it).
    [message] = mail.outbox
    link = next(line for line in message.body.splitlines() if "/account/create/?lead=" in line)
    page.goto(live_server.url + link[link.index("/account/create/") :])
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    expect(page.get_by_label("Email")).to_have_value("ana@copperbistro.example")
    expect(page.get_by_label("Legal business name")).to_have_value("Copper Bistro")
    page.get_by_label("Legal business name").fill("Copper Bistro LLC")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Create my account").click()

    expect(page.get_by_role("heading", name="Copper Bistro LLC")).to_be_visible()
    progress = page.locator("#journey-progress")
    expect(progress).to_have_attribute("value", "2")
    expect(progress).to_have_attribute("max", "10")  # the ten steps the merchant sees
    # The account came through the link emailed to the address: nothing left to verify.
    expect(page.get_by_role("heading", name="Verify your email")).to_have_count(0)

    page.get_by_role("button", name="Do it yourself").click()
    expect(page.get_by_role("heading", name="Verify your business")).to_be_visible()
    fill_kyb(page, ein="12-3456789")

    expect(page.locator("#kyb")).to_contain_text(KYB_APPROVED)
    expect(page.locator("#kyb")).to_contain_text("•••• 6789")
    expect(page.locator("#kyb")).not_to_contain_text("3456789")

    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="Dashboard").click()
    expect(page.locator("#step-3")).to_contain_text("Done")
    expect(page.locator("#step-3")).to_contain_text(KYB_APPROVED)
    expect(page.locator("#journey-progress")).to_have_attribute("value", "3")
    expect(page.locator("#step-4")).to_have_attribute("aria-current", "step")
    merchant = Merchant.objects.get(lead__email="ana@copperbistro.example")
    assert merchant.cohort == "self_serve"
    assert merchant.kyb_status == CheckStatus.APPROVED


def test_a_kyb_under_review_is_approved_by_compliance(sign_in, page, live_server, journey_steps):
    seeded_queues()
    merchant = account_created_merchant(business_name="Harbor Golf Club")
    reviewer = ComplianceUserFactory(first_name="Kim")

    merchant_signs_in(page, live_server, merchant.user)
    page.goto(f"{live_server.url}/kyb/")
    fill_kyb(page, ein="12-3459999")
    expect(page.locator("#kyb")).to_contain_text(KYB_UNDER_REVIEW)
    page.goto(f"{live_server.url}/dashboard/")
    expect(page.locator("#step-3")).to_contain_text("Waiting on us")
    expect(page.locator("#step-3")).to_contain_text(KYB_UNDER_REVIEW)
    page.get_by_role("button", name="Sign out").click()

    sign_in(reviewer)
    page.goto(f"{live_server.url}/staff/compliance/")
    row = page.locator(f"#case-kyb-{merchant.pk}")
    expect(row).to_contain_text("Harbor Golf Club")
    expect(row).to_contain_text("Manual review required.")
    row.get_by_role("link", name="Review").click()
    case = page.locator(f"#case-kyb-{merchant.pk}")
    case.get_by_role("button", name="Approve").click()
    expect(case.get_by_role("alert")).to_contain_text("needs notes")
    case.get_by_label("Notes").fill("Articles of organization and lease checked")
    case.get_by_role("button", name="Approve").click()
    expect(case).to_contain_text("KYB approved for Harbor Golf Club.")
    page.get_by_role("button", name="Sign out").click()

    merchant_signs_in(page, live_server, merchant.user)
    expect(page.locator("#step-3")).to_contain_text("Done")
    expect(page.locator("#step-3")).to_contain_text(KYB_APPROVED)
    expect(page.locator("#journey-progress")).to_have_attribute("value", "3")
    audit = KybKycAuditLog.objects.filter(merchant=merchant).order_by("completed_at")
    assert [(row.decision, row.reviewed_by) for row in audit] == [
        ("review_required", None),
        ("approved", reviewer),
    ]
