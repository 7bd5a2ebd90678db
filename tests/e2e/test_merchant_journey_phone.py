"""Issue 15 in the browser, on a 390 px phone: a merchant of each cohort walks the whole
journey from Get started to live, and on every page nothing is wider than the screen and
axe-core finds no violation; the bank-failure and the no-bank go-live paths end to end; an
htmx request that cannot reach the server says so and offers to try again.

Tasks and sandbox webhooks run inline (Q_SYNC), so verifications answer at once."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from apps.demo.reference import cohort_rules_seed, products_seed, tax_rates_seed
from apps.leads.models import Cohort
from apps.merchants.models import Merchant
from apps.merchants.selectors.dashboard import PAYOUTS_HELD_LIVE
from apps.orders import pricing
from apps.orders.services import quotes
from tests.accounts.factories import PASSWORD as ACCOUNT_PASSWORD
from tests.accounts.factories import AeUserFactory
from tests.e2e.conftest import page_checked, page_fits
from tests.merchants.factories import MerchantBankAccountFactory, merchant_at_setup
from tests.routing.factories import seeded_queues

PASSWORD = "plum-orchard-42-lantern"
SSN = "123-45-6789"
GOOD_ACCOUNT, FAILING_ACCOUNT = "000123456789", "000123450000"  # sandbox: 0000 fails
CONTINUE_LINK = re.compile(r"https?://[^/\s]+(/continue/\S+/)")

COHORTS = {
    # cohort: (annual revenue, locations): the seeded cohort rules decide.
    Cohort.SELF_SERVE: ("350000", "1"),
    Cohort.ASSISTED: ("600000", "1"),
    Cohort.MANAGED: ("3000000", "1"),
}


def signs_in(page, live_server, user) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page_checked(page)
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(ACCOUNT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/dashboard/")
    page_checked(page)


def get_started(page, live_server, *, email: str, revenue: str, locations: str) -> None:
    page.goto(f"{live_server.url}/get-started/")
    page_checked(page)
    page.get_by_label("First name").fill("Ana")
    page.get_by_label("Last name").fill("Silva")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Business name").fill("Copper Bistro")
    page.get_by_label("Vertical").select_option(index=1)
    page.get_by_label("Business type").select_option("llc")
    page.get_by_label("Annual revenue estimate (USD)").fill(revenue)
    page.get_by_label("Number of locations").fill(locations)
    page.get_by_role("button", name="Get started").click()
    expect(page.get_by_text("Check your email")).to_be_visible()
    page_checked(page)


def create_account(page, live_server) -> None:
    message = mail.outbox[-1]
    link = next(line for line in message.body.splitlines() if "/account/create/?lead=" in line)
    page.goto(live_server.url + link[link.index("/account/create/") :])
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    page_checked(page)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Create my account").click()
    expect(page.locator("#journey-progress")).to_have_attribute("value", "2")
    page_checked(page)


def verify_business(page) -> None:
    page.locator("#next-action a").first.click()
    expect(page.get_by_role("heading", name="Verify your business")).to_be_visible()
    page_checked(page)
    page.get_by_label("Business structure").select_option("llc")
    page.get_by_label("EIN").fill("12-3456789")
    page.get_by_label("Street address").fill("1 Market St")
    page.get_by_label("City").fill("San Francisco")
    page.get_by_label("State").select_option("CA")
    page.get_by_label("ZIP code").fill("94105")
    page.get_by_role("button", name="Submit for verification").click()
    expect(page.locator("#kyb")).to_contain_text("Your business is verified")
    page_checked(page)


def buy(page, live_server, merchant) -> None:
    """Steps 4-6: the self-serve merchant builds its quote; an AE builds it for the others
    and the merchant follows the quote email's step link."""
    if merchant.cohort == Cohort.SELF_SERVE:
        page.goto(f"{live_server.url}/quote/")
        page_checked(page)
        page.get_by_role("radio", name=re.compile(r"Core")).check()
        # Let the live preview answer first: the page shifts on a phone while it swaps in.
        expect(page.locator("#quote-preview")).to_contain_text(pricing.NO_HARDWARE_CHOSEN)
        page.get_by_label("I need no hardware").check()
        expect(page.get_by_label("I need no hardware")).to_be_checked()
        page.get_by_role("button", name="Save quote").click()
    else:
        mail.outbox.clear()
        ae = AeUserFactory()
        quotes.order_quote_create(
            merchant=merchant,
            selection=pricing.Selection(tier="SW-CORE"),
            actor=ae,
            created_by=ae,
        )
        [message] = [m for m in mail.outbox if m.subject.startswith("Your quote")]
        page.goto(live_server.url + CONTINUE_LINK.search(message.body).group(1))
    expect(page.get_by_role("heading", name=re.compile(r"^Quote ORD-"))).to_be_visible()
    page_checked(page)
    page.get_by_role("button", name="Accept the quote and go to checkout").click()
    expect(page.get_by_role("heading", name="Checkout")).to_be_visible()
    page_checked(page)
    page.get_by_role("button", name=re.compile(r"^Pay \$")).click()
    expect(page.get_by_text("Payment received")).to_be_visible()
    page_checked(page)


def add_owner(page, live_server, *, ssn: str = SSN) -> None:
    page.goto(f"{live_server.url}/kyc/")
    expect(page.get_by_role("heading", name="Verify owners and get paid out")).to_be_visible()
    page_checked(page)
    page.get_by_label("Representative and owner").check()
    page.get_by_label("First name").fill("Maya")
    page.get_by_label("Last name").fill("Okafor")
    page.get_by_label("Ownership (%)").fill("100")
    page.get_by_label("Social Security number").fill(ssn)
    page.get_by_label("Date of birth").fill("1980-05-17")
    page.get_by_label("Home address").fill("1 Market St")
    page.get_by_label("City").fill("San Francisco")
    page.get_by_label("State").fill("CA")
    page.get_by_label("ZIP code").fill("94105")
    page.get_by_role("button", name="Add this person").click()
    page.get_by_role("button", name="Submit for verification").click()
    expect(page.locator("#kyc-status")).to_contain_text("Payments are active")
    page_checked(page)


def add_bank_account(page, live_server, number: str) -> None:
    page.goto(f"{live_server.url}/bank-account/")
    page.get_by_label("Account holder").fill("Copper Bistro LLC")
    page.get_by_label("Routing number").fill("021000021")
    page.get_by_label("Account number").fill(number)
    page.get_by_role("button", name=re.compile(r"Save bank account|Replace with this")).click()


def finish_setup(page, live_server) -> None:
    page.goto(f"{live_server.url}/hardware-setup/")
    page_checked(page)
    page.get_by_role("button", name=re.compile("no hardware", re.I)).click()
    page.get_by_role("button", name="Next: final configuration and go live").click()
    expect(page.get_by_role("heading", name="Go live", exact=True).first).to_be_visible()
    page_checked(page)


@pytest.mark.parametrize("cohort", list(COHORTS))
def test_a_merchant_of_each_cohort_goes_live_on_a_phone(phone, live_server, journey_steps, cohort):
    page = phone
    seeded_queues()
    cohort_rules_seed()
    products_seed()
    tax_rates_seed()
    revenue, locations = COHORTS[cohort]

    get_started(page, live_server, email="ana@copper.example", revenue=revenue, locations=locations)
    create_account(page, live_server)
    merchant = Merchant.objects.get(lead__email="ana@copper.example")
    assert merchant.cohort == cohort
    # The header folds behind "Menu" on a phone.
    expect(page.get_by_role("button", name="Menu")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_hidden()
    page.get_by_role("button", name="Menu").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.get_by_role("button", name="Menu").click()

    verify_business(page)
    buy(page, live_server, Merchant.objects.get(pk=merchant.pk))
    add_owner(page, live_server)
    add_bank_account(page, live_server, GOOD_ACCOUNT)
    expect(page.locator("#bank-status")).to_contain_text("Verified")
    page_checked(page)
    finish_setup(page, live_server)
    page.get_by_role("button", name="Go live").click()
    expect(page.get_by_text("Your business is live since")).to_be_visible()

    page.goto(f"{live_server.url}/dashboard/")
    expect(page.locator("#journey-progress")).to_have_attribute("value", "10")
    expect(page.get_by_text("Every step is done")).to_be_visible()
    page_checked(page)
    for page_path in ("/orders/",):
        page.goto(live_server.url + page_path)
        page_checked(page)
    merchant.refresh_from_db()
    assert merchant.is_active and merchant.payouts_enabled


def test_a_failed_bank_verification_is_action_needed_until_replaced(
    phone, live_server, journey_steps
):
    page = phone
    merchant = merchant_at_setup(legal_business_name="Copper Bistro LLC")
    signs_in(page, live_server, merchant.user)
    add_owner(page, live_server)
    add_bank_account(page, live_server, FAILING_ACCOUNT)
    expect(page.locator("#bank-status")).to_contain_text("Verification failed")
    page_checked(page)
    [message] = [m for m in mail.outbox if "bank account could not be verified" in m.subject]

    page.goto(f"{live_server.url}/dashboard/")
    actions = page.locator("#actions-needed")
    expect(actions).to_contain_text("Action needed")
    expect(actions).to_contain_text("could not be verified")
    expect(page.locator("#step-7")).to_have_attribute("data-state", "action")
    page_checked(page)

    # The email's link, and the dashboard's, lead to the replacement form.
    page.goto(live_server.url + CONTINUE_LINK.search(message.body).group(1))
    expect(page.get_by_role("heading", name="Bank account for payouts", exact=True)).to_be_visible()
    add_bank_account(page, live_server, GOOD_ACCOUNT)
    expect(page.locator("#bank-status")).to_contain_text("Verified")
    page.goto(f"{live_server.url}/dashboard/")
    expect(page.locator("#actions-needed")).to_have_count(0)
    expect(page.locator("#step-7")).to_have_attribute("data-state", "done")


def test_going_live_without_a_bank_account_needs_the_payouts_held_confirmation(
    phone, live_server, journey_steps
):
    page = phone
    merchant = merchant_at_setup(
        steps_done=[1, 2, 3, 4, 5, 6, 7, 9], kyc_status="approved", payments_activated=True
    )
    signs_in(page, live_server, merchant.user)

    page.goto(f"{live_server.url}/final-config/")
    page_checked(page)
    page.get_by_role("button", name="Go live").click()
    expect(page.locator("#final-main")).to_contain_text("Confirm that you want to go live")
    page.get_by_label("I understand: payouts stay held until I add a bank account").check()
    page.get_by_role("button", name="Go live").click()
    expect(page.get_by_text("Your business is live since")).to_be_visible()

    page.goto(f"{live_server.url}/dashboard/")
    expect(page.locator("#payouts-held")).to_contain_text(PAYOUTS_HELD_LIVE)
    page_checked(page)
    page.locator("#payouts-held").get_by_role("link", name="Add your bank account").click()
    expect(page.get_by_role("heading", name="Bank account for payouts", exact=True)).to_be_visible()


def test_an_htmx_request_that_cannot_reach_the_server_says_so_and_retries(
    phone, live_server, journey_steps
):
    page = phone
    merchant = merchant_at_setup(
        steps_done=[1, 2, 3, 4, 5, 6, 7, 9], kyc_status="approved", payments_activated=True
    )
    MerchantBankAccountFactory(merchant=merchant, verification_status="verified")
    signs_in(page, live_server, merchant.user)
    page.goto(f"{live_server.url}/final-config/")

    page.route("**/final-config/go-live/", lambda route: route.abort())
    page.get_by_role("button", name="Go live").click()
    error = page.locator("#htmx-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("We could not reach the server")
    page.unroute("**/final-config/go-live/")
    page.get_by_role("button", name="Try again").click()
    expect(page.get_by_text("Your business is live since")).to_be_visible()
    expect(error).to_be_hidden()
    # Focus followed the update to the region's message.
    assert page.evaluate("document.activeElement.closest('#final-main') !== null")


def test_the_skip_link_is_the_first_stop_and_jumps_to_the_content(phone, live_server):
    page = phone
    page.goto(f"{live_server.url}/get-started/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    skip.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page_fits(page)
