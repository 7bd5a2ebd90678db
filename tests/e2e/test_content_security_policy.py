"""The main pages still work under the Content-Security-Policy (no inline script or style,
no eval), htmx swaps included, and the browser reports no violation on any of them."""

import re

import pytest
from playwright.sync_api import expect

from tests.accounts.factories import AeUserFactory, ComplianceUserFactory, OpsUserFactory
from tests.merchants.factories import merchant_at_setup
from tests.routing.factories import seeded_queues

# Chromium logs a refused inline script or style as a console error; the listener also
# catches what the browser reports only as an event, and htmx's refusal to eval.
WATCH = """
document.addEventListener("securitypolicyviolation", (event) => console.error(
  `CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || "inline"}`
  + ` at ${event.sourceFile}:${event.lineNumber}`));
document.addEventListener(
  "htmx:evalDisallowedError", () => console.error("CSP violation: htmx eval"));
"""
SIGNS = ("CSP violation", "Content Security Policy")


@pytest.fixture
def violations(page):
    found = []

    def keep_violation(message):
        if message.type == "error" and any(sign in message.text for sign in SIGNS):
            found.append(f"{page.url}: {message.text}")

    page.add_init_script(WATCH)
    page.on("console", keep_violation)
    return found


def visit(page, url):
    response = page.goto(url)
    assert response.ok, f"{url}: {response.status}"


def test_merchant_pages_work_under_the_policy(
    sign_in, page, live_server, journey_steps, violations
):
    # Public pages: the form card's width comes from the stylesheet, not a style attribute.
    visit(page, f"{live_server.url}/accounts/login/")
    expect(page.locator("article.page-narrow")).not_to_have_css("max-width", "none")
    visit(page, f"{live_server.url}/get-started/")

    merchant = merchant_at_setup(legal_business_name="Copper Bistro LLC")
    sign_in(merchant.user)
    for path in ("dashboard/", "kyb/", "bank-account/", "data-import/", "orders/"):
        visit(page, f"{live_server.url}/{path}")
    visit(page, f"{live_server.url}/kyc/")
    # An empty form answers 422 with its errors, swapped in place (data-swap-errors).
    page.get_by_role("button", name="Add this person").click()
    expect(page.locator("#kyc-main [role=alert]").first).to_be_visible()

    assert violations == []


def test_staff_pages_work_under_the_policy(sign_in, page, live_server, violations):
    seeded_queues()
    sign_in(AeUserFactory())
    for path in ("staff/queues/", "staff/alerts/", "staff/orders/"):
        visit(page, f"{live_server.url}/{path}")
    visit(page, f"{live_server.url}/staff/queues/ae_standard/")
    # Nothing waiting: "Claim next" is disabled and says why.
    expect(page.get_by_role("button", name="Claim next")).to_be_disabled()
    expect(page.locator("#claim-next-why")).to_contain_text("Nothing is waiting")
    visit(page, f"{live_server.url}/staff/leads/")
    page.get_by_label("Email or business name").fill("nothing like this")
    expect(page).to_have_url(re.compile(r"q=nothing"))
    page.get_by_role("button", name="Sign out").click()

    # The ops dashboard's charts keep their <style>: it carries the nonce (else: a violation).
    sign_in(OpsUserFactory())
    for path in ("staff/ops/", "staff/ops/integrations/"):
        visit(page, f"{live_server.url}/{path}")
    page.get_by_role("button", name="Sign out").click()

    sign_in(ComplianceUserFactory())
    visit(page, f"{live_server.url}/staff/compliance/")

    assert violations == []


def test_the_admin_and_the_api_docs_work_under_the_policy(sign_in, page, live_server, violations):
    sign_in(OpsUserFactory())
    visit(page, f"{live_server.url}/admin/")
    visit(page, f"{live_server.url}/admin/axes/accessattempt/")
    visit(page, f"{live_server.url}/admin/leads/lead/")
    visit(page, f"{live_server.url}/api/v1/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Merchant onboarding API")
    visit(page, f"{live_server.url}/api/v1/redoc/")
    expect(page.get_by_role("heading", name="Merchant onboarding API")).to_be_visible()
    expect(page.get_by_text("API docs by Redocly")).to_be_visible()

    # Redoc always asks Redocly's CDN for its logo (and hides it when refused): the one
    # refusal we want.
    assert [found for found in violations if "https://cdn.redoc.ly/" not in found] == []
