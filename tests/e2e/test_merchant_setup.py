"""In the browser: a merchant who has paid (steps 1-6 done) adds its owner, passes KYC
(sandbox approval), adds a bank account (verified as it is saved), sees payouts turn on and
the progress bar advance on the dashboard."""

from playwright.sync_api import expect

from apps.merchants.choices import CheckStatus
from apps.merchants.models import Merchant
from apps.merchants.views.bank import PAYOUTS_HELD, PAYOUTS_ON
from tests.accounts.factories import PASSWORD
from tests.merchants.factories import merchant_at_setup

SSN = "123-45-6789"


def merchant_signs_in(page, live_server, user) -> None:
    """Through the login form; a merchant lands on their dashboard (the shared `sign_in`
    fixture waits for the home page, which sends merchants on)."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/dashboard/")


def test_a_merchant_passes_kyc_verifies_its_bank_account_and_gets_payouts(
    page, live_server, journey_steps
):
    merchant = merchant_at_setup(legal_business_name="Copper Bistro LLC")
    merchant_signs_in(page, live_server, merchant.user)

    progress = page.locator("#journey-progress")
    expect(progress).to_have_attribute("value", "6")
    expect(page.locator("#step-7")).to_have_attribute("aria-current", "step")

    # Step 7: the owner, who also represents the business.
    page.goto(f"{live_server.url}/kyc/")
    expect(page.get_by_role("heading", name="Verify owners and get paid out")).to_be_visible()
    page.get_by_label("Representative and owner").check()
    page.get_by_label("First name").fill("Maya")
    page.get_by_label("Last name").fill("Okafor")
    page.get_by_label("Title").fill("Founder")
    page.get_by_label("Ownership (%)").fill("100")
    page.get_by_label("Social Security number").fill(SSN)
    page.get_by_label("Date of birth").fill("1980-05-17")
    page.get_by_label("Home address").fill("1 Market St")
    page.get_by_label("City").fill("San Francisco")
    page.get_by_label("State").fill("CA")
    page.get_by_label("ZIP code").fill("94105")
    page.get_by_role("button", name="Add this person").click()

    row = page.locator("#kyc-main tbody tr")
    expect(row).to_contain_text("Maya Okafor")
    expect(row).to_contain_text("•••• 6789")
    expect(row).to_contain_text("Not submitted yet")
    expect(page.locator("#kyc-main")).not_to_contain_text(SSN)

    page.get_by_role("button", name="Submit for verification").click()
    expect(page.locator("#kyc-status")).to_contain_text("Payments are active")
    expect(row).to_contain_text("Approved")

    # The bank account: added, verified, payouts on.
    page.get_by_role("button", name="Add your bank account for payouts").click()
    expect(page.locator("#payouts")).to_contain_text(PAYOUTS_HELD)
    page.get_by_label("Account holder").fill("Copper Bistro LLC")
    page.get_by_label("Routing number").fill("021000021")
    page.get_by_label("Account number").fill("000123456789")
    # Verification starts on save: no second button.
    page.get_by_role("button", name="Save bank account").click()
    expect(page.locator("#bank-status")).to_contain_text("•••• 6789")
    expect(page.locator("#bank-status")).to_contain_text("Verified")
    expect(page.locator("#payouts")).to_contain_text(PAYOUTS_ON)
    expect(page.locator("#bank-main")).not_to_contain_text("000123456789")

    # The dashboard shows the step done and the bar one step further.
    page.goto(f"{live_server.url}/dashboard/")
    expect(progress).to_have_attribute("value", "7")
    expect(page.locator("#step-7")).to_have_attribute("data-status", "completed")
    expect(page.locator("#step-7")).to_have_attribute("data-state", "done")

    merchant = Merchant.objects.get(pk=merchant.pk)
    assert merchant.kyc_status == CheckStatus.APPROVED
    assert merchant.payments_activated is True
    assert merchant.payouts_enabled is True


def test_a_rejected_owner_is_corrected_and_passes(page, live_server, journey_steps):
    merchant = merchant_at_setup()
    merchant_signs_in(page, live_server, merchant.user)
    page.goto(f"{live_server.url}/kyc/")
    page.get_by_label("Representative and owner").check()
    page.get_by_label("First name").fill("Ben")
    page.get_by_label("Last name").fill("Reyes")
    page.get_by_label("Ownership (%)").fill("100")
    page.get_by_label("Social Security number").fill("123-45-0001")  # sandbox: rejected
    page.get_by_label("Date of birth").fill("1975-01-02")
    page.get_by_label("Home address").fill("9 Pine St")
    page.get_by_label("City").fill("Portland")
    page.get_by_label("State").fill("OR")
    page.get_by_label("ZIP code").fill("97205")
    page.get_by_role("button", name="Add this person").click()
    page.get_by_role("button", name="Submit for verification").click()
    expect(page.locator("#kyc-status")).to_contain_text("Rejected")
    expect(page.locator("#kyc-status")).to_contain_text("The identity could not be verified.")

    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Social Security number").fill("123-45-6780")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("button", name="Submit for verification").click()

    expect(page.locator("#kyc-status")).to_contain_text("Payments are active")
