"""Compliance decides a person's KYC in the browser: the case in the list, its page with what
the provider returned, notes required, and the merchant's dashboard stops waiting."""

import re

import pytest
from playwright.sync_api import expect

from apps.merchants.choices import CheckStatus
from apps.merchants.models import MerchantPerson
from apps.merchants.selectors.dashboard import KYC_VERIFYING
from apps.routing.models import AssignmentStatus, QueueAssignment
from tests.accounts.factories import ComplianceUserFactory
from tests.compliance.test_cases import kyc_under_review
from tests.e2e.conftest import sign_out
from tests.e2e.test_merchant_kyb import merchant_signs_in
from tests.routing.factories import seeded_queues

VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=list(VIEWPORTS))
def test_a_kyc_case_is_approved_and_the_merchant_continues(
    sign_in, page, live_server, journey_steps, viewport
):
    seeded_queues()
    (person,) = kyc_under_review("Maya")
    merchant = person.merchant
    reviewer = ComplianceUserFactory(first_name="Kim")
    page.set_viewport_size(VIEWPORTS[viewport])

    merchant_signs_in(page, live_server, merchant.user)
    expect(page.locator("#step-7")).to_contain_text(KYC_VERIFYING)
    sign_out(page)

    sign_in(reviewer)
    page.goto(f"{live_server.url}/staff/compliance/")
    expect(page.get_by_text("1 case at 1 merchant · compliance queue: 1 open item")).to_be_visible()
    row = page.locator(f"#case-kyc-{person.pk}")
    expect(row).to_contain_text("Maya Okafor")
    expect(row).to_contain_text("Manual review required.")  # the sandbox's answer
    expect(row).to_contain_text(re.compile(r"Due in \d+ h"))
    row.get_by_role("link", name="Review").click()

    expect(page.get_by_role("heading", name="KYC: Maya Okafor", level=1)).to_be_visible()
    expect(page.get_by_text("Provider response")).to_be_visible()
    decision = page.locator(f"#case-kyc-{person.pk}")
    decision.get_by_role("button", name="Approve").click()
    expect(decision.get_by_role("alert")).to_contain_text("needs notes")
    decision.get_by_label("Notes").fill("Passport checked on a video call")
    decision.get_by_role("button", name="Approve").click()
    expect(decision).to_contain_text("KYC approved for Maya Okafor.")
    page.get_by_role("link", name="Back to the cases").click()
    expect(
        page.get_by_text("0 cases at 0 merchants · compliance queue: 0 open items")
    ).to_be_visible()
    sign_out(page)

    merchant_signs_in(page, live_server, merchant.user)
    expect(page.locator("#step-7")).not_to_contain_text(KYC_VERIFYING)
    assert MerchantPerson.objects.get(pk=person.pk).kyc_status == CheckStatus.APPROVED
    item = QueueAssignment.objects.get(merchant=merchant)
    assert (item.status, item.assigned_to) == (AssignmentStatus.RESOLVED, reviewer)
