"""/dashboard/: the ten steps in three stages, the next action for the merchant's cohort,
waiting states, problems said with their fix, the call request; and who reaches the merchant
pages of steps 2-3 at all."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.core.fsm import save_tracked
from apps.integrations.models import IntegrationEvent
from apps.leads.models import Cohort
from apps.merchants.choices import CheckStatus
from apps.merchants.selectors.dashboard import (
    AE_WILL_CONTACT,
    HARDWARE_ON_ITS_WAY,
    STATES,
    STATUS_STATES,
    STEP_RETRY,
)
from apps.merchants.selectors.kyb import KYB_APPROVED, KYB_UNDER_REVIEW, KYB_VERIFYING
from apps.merchants.selectors.steps import STEP_PAGES, page_url
from apps.merchants.services import accounts, journey, kyb
from apps.merchants.views.dashboard import CALL_REQUESTED
from apps.progress.models import StepStatus
from apps.progress.services import (
    merchant_progress_create,
    step_block,
    step_fail,
    step_start,
)
from apps.routing.models import QueueAssignment, RoutingQueue
from tests.accounts.factories import (
    AeUserFactory,
    ComplianceUserFactory,
    MerchantUserFactory,
    OpsUserFactory,
)
from tests.merchants.factories import MerchantFactory, account_created_merchant
from tests.orders.factories import HardwareShipmentFactory
from tests.routing.factories import seeded_queues

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("merchants:dashboard")
CALL = reverse("merchants:call_request")
KYB = reverse("merchants:kyb")
RESEND = reverse("merchants:account_verify_resend")
HTMX = {"HX-Request": "true"}


def dashboard_of(client, merchant, **headers) -> str:
    client.force_login(merchant.user)
    response = client.get(DASHBOARD, headers=headers or None)
    assert response.status_code == 200
    return response.text


def step_item(page: str, number: int) -> str:
    match = re.search(rf'<li id="step-{number}".*?</li>', page, re.S)
    assert match, f"step {number} not on the page"
    return match.group(0)


# --- who gets in ----------------------------------------------------------------------------------

MERCHANT_URLS = [("get", DASHBOARD), ("post", CALL), ("get", KYB), ("post", KYB), ("post", RESEND)]
URL_IDS = ["dashboard", "call", "kyb-get", "kyb-post", "resend"]


@pytest.mark.parametrize(("method", "url"), MERCHANT_URLS, ids=URL_IDS)
def test_an_anonymous_visitor_is_sent_to_sign_in(client, method, url):
    response = getattr(client, method)(url)
    assert response.status_code == 302
    assert response.url == f"{reverse('accounts:login')}?next={url}"


@pytest.mark.parametrize(("method", "url"), MERCHANT_URLS, ids=URL_IDS)
@pytest.mark.parametrize(
    "make_user",
    [AeUserFactory, ComplianceUserFactory, OpsUserFactory, MerchantUserFactory],
    ids=["ae", "compliance", "ops", "merchant-role-without-business"],
)
def test_a_user_without_a_business_gets_a_403(client, method, url, make_user):
    client.force_login(make_user())
    response = getattr(client, method)(url)
    assert response.status_code == 403
    assert not QueueAssignment.objects.exists()


def test_merchant_pages_show_only_the_signed_in_merchants_business(client, journey_steps):
    mine = account_created_merchant(business_name="Mine Bistro")
    theirs = account_created_merchant(business_name="Their Bakery")
    client.force_login(mine.user)

    for url in (DASHBOARD, KYB, f"{DASHBOARD}?merchant={theirs.pk}", f"{KYB}?merchant={theirs.pk}"):
        page = client.get(url).text
        assert "Mine Bistro" in page
        assert "Their Bakery" not in page


def test_a_merchant_cannot_act_on_another_merchant_by_naming_it(client, journey_steps):
    seeded_queues()
    mine = account_created_merchant(cohort=Cohort.ASSISTED)
    theirs = account_created_merchant(cohort=Cohort.ASSISTED)
    client.force_login(mine.user)

    client.post(f"{CALL}?merchant={theirs.pk}", {"merchant": theirs.pk})
    client.post(f"{KYB}?merchant={theirs.pk}", {"merchant": theirs.pk, "legal_business_name": "X"})

    assert list(QueueAssignment.objects.values_list("merchant", flat=True)) == [mine.pk]
    theirs.refresh_from_db()
    assert theirs.legal_business_name != "X"
    assert theirs.history.filter(history_user=mine.user).count() == 0


# --- steps and progress ---------------------------------------------------------------------------


def test_the_ten_steps_show_in_their_three_stages_with_the_progress_bar(client, journey_steps):
    page = dashboard_of(client, account_created_merchant())

    stages = re.findall(r'<h3 id="stage-(\w+)"', page)
    assert stages == ["qualify_leads", "buying_experience", "guided_setup"]
    assert all(f'id="step-{n}"' in page for n in range(1, 11))
    # Progress counts the ten steps the merchant sees.
    assert '<progress id="journey-progress" value="2" max="10">' in page
    assert "2 of 10 steps done" in page
    assert 'data-state="done"' in step_item(page, 1) and "Done" in step_item(page, 2)
    assert 'data-state="in-progress"' in step_item(page, 3)
    assert 'aria-current="step"' in step_item(page, 3)
    assert "(optional)" in step_item(page, 8)
    # Step 10 holds "Go live": not optional in the merchant's eyes.
    assert "<small>(optional)</small>" not in step_item(page, 10)


def test_the_progress_bar_advances_when_kyb_is_approved(client, journey_steps):
    merchant = account_created_merchant()
    merchant.set_ein("12-3456789")
    merchant.registered_address_line1 = "1 Market St"
    merchant.registered_city, merchant.registered_state = "Austin", "TX"
    merchant.registered_postal_code = "73301"
    save_tracked(merchant, actor=None, reason="test: details")
    step_start(progress=merchant.step_progress.get(step_id=3))
    kyb.merchant_kyb_submit(merchant=merchant, actor=None)
    kyb.merchant_kyb_provider_decide(merchant=merchant, decision="approved", check_id="k1")

    page = dashboard_of(client, merchant)

    assert '<progress id="journey-progress" value="3" max="10">' in page
    assert "Approved" not in step_item(page, 3)  # done: said as "Done"
    assert "Done" in step_item(page, 3)
    assert KYB_APPROVED in step_item(page, 3)
    assert 'aria-current="step"' in step_item(page, 4)


def test_an_open_step_links_to_its_page_and_a_locked_one_says_what_unlocks_it(
    client, journey_steps, monkeypatch
):
    monkeypatch.setitem(STEP_PAGES, 3, "nowhere:yet")
    page = dashboard_of(client, account_created_merchant())

    assert "href" not in step_item(page, 3)  # no page (yet): no dead link
    assert "href" not in step_item(page, 1)
    locked = step_item(page, 4)
    assert 'data-state="locked"' in locked
    assert "Locked" in locked
    assert "Opens once you finish step 3 (Verify your business)." in locked
    assert "href" not in locked


def test_page_url_is_none_for_a_page_that_does_not_exist_yet():
    assert page_url("nowhere:yet") is None
    assert page_url("merchants:kyb") == KYB


# --- next action per cohort -----------------------------------------------------------------------


def test_a_self_serve_merchant_is_shown_how_to_do_it_alone(client, journey_steps):
    page = dashboard_of(client, account_created_merchant(cohort=Cohort.SELF_SERVE))

    next_action = re.search(r'<article id="next-action".*?</article>', page, re.S).group(0)
    assert "Verify your business" in next_action
    assert "Qualify for LS Payments" not in page  # the internal name stays on staff pages
    assert f'<a href="{KYB}" role="button">Do it yourself</a>' in next_action
    assert "Request a call" not in page


def test_an_assisted_merchant_sees_their_ae_and_a_call_action(client, journey_steps):
    ae = AeUserFactory(first_name="Jordan", last_name="Lee", email="jordan@lightspeed.example")
    page = dashboard_of(client, account_created_merchant(cohort=Cohort.ASSISTED, assigned_ae=ae))

    assert "Jordan Lee" in page
    assert 'href="mailto:jordan@lightspeed.example"' in page
    assert "Request a call" in page
    assert "Your account executive guides you through it" in page


def test_a_managed_merchant_without_an_ae_is_told_one_will_contact_them(client, journey_steps):
    page = dashboard_of(client, account_created_merchant(cohort=Cohort.MANAGED))

    assert AE_WILL_CONTACT in page
    assert "Request a call" in page


# --- request a call -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cohort", "queue"),
    [(Cohort.ASSISTED, "ae_standard"), (Cohort.MANAGED, "ae_high_priority")],
)
def test_a_call_request_queues_the_lead_for_an_ae_once(client, journey_steps, cohort, queue):
    seeded_queues()
    merchant = account_created_merchant(cohort=cohort)
    client.force_login(merchant.user)

    first = client.post(CALL, headers=HTMX)
    second = client.post(CALL, headers=HTMX)

    assert first.status_code == 200
    assert CALL_REQUESTED in first.text
    assert first.text.strip().startswith('<section id="call"')
    assert second.status_code == 422
    assert second["HX-Retarget"] == "#call"
    assert accounts.CALL_ALREADY_REQUESTED in second.text
    item = QueueAssignment.objects.get()
    assert (item.queue.code, item.lead, item.merchant) == (queue, merchant.lead, merchant)
    assert (
        IntegrationEvent.objects.filter(
            event_type="merchant.call_requested", aggregate_id=merchant.pk
        ).count()
        == 1
    )


def test_a_call_request_without_javascript_redirects_with_a_message(client, journey_steps):
    seeded_queues()
    merchant = account_created_merchant(cohort=Cohort.ASSISTED)
    client.force_login(merchant.user)

    response = client.post(CALL, follow=True)
    again = client.post(CALL, follow=True)

    assert response.redirect_chain == [(DASHBOARD, 302)]
    assert CALL_REQUESTED in response.text
    assert accounts.CALL_ALREADY_REQUESTED in again.text
    assert "Request a call</button>" not in again.text
    assert QueueAssignment.objects.count() == 1


def test_a_lead_already_waiting_in_an_ae_queue_is_not_queued_twice(client, journey_steps):
    queues = seeded_queues()
    merchant = account_created_merchant(cohort=Cohort.ASSISTED)
    QueueAssignment.objects.create(queue=queues["ae_standard"], lead=merchant.lead)
    client.force_login(merchant.user)

    response = client.post(CALL, headers=HTMX)

    assert response.status_code == 422
    assert QueueAssignment.objects.count() == 1


def test_a_self_serve_merchant_cannot_request_a_call(client, journey_steps):
    seeded_queues()
    merchant = account_created_merchant(cohort=Cohort.SELF_SERVE)
    client.force_login(merchant.user)

    response = client.post(CALL, headers=HTMX)

    assert response.status_code == 422
    assert accounts.CALL_NOT_IN_PLAN in response.text
    assert not QueueAssignment.objects.exists()


def test_a_call_request_with_no_queue_set_up_says_to_try_later(client, journey_steps):
    merchant = account_created_merchant(cohort=Cohort.ASSISTED)
    assert not RoutingQueue.objects.exists()
    client.force_login(merchant.user)

    response = client.post(CALL, headers=HTMX)

    assert response.status_code == 422
    assert accounts.CALL_UNAVAILABLE in response.text


def test_request_a_call_is_a_post(client, journey_steps):
    merchant = account_created_merchant(cohort=Cohort.ASSISTED)
    client.force_login(merchant.user)
    assert client.get(CALL).status_code == 405


# --- waiting on us, and problems ------------------------------------------------------------------


def kyb_submitted_merchant(**lead_fields):
    """KYB submitted; the provider has not answered (on-commit work does not run here)."""
    merchant = account_created_merchant(**lead_fields)
    kyb.merchant_kyb_details_submit(
        merchant=merchant,
        actor=merchant.user,
        ein="12-3456789",
        business_structure="llc",
        registered_address_line1="1 Market St",
        registered_city="Austin",
        registered_state="TX",
        registered_postal_code="73301",
    )
    return merchant


def test_kyb_being_verified_is_said_and_the_steps_poll(client, journey_steps):
    merchant = kyb_submitted_merchant()

    page = dashboard_of(client, merchant)

    assert KYB_VERIFYING in step_item(page, 3)
    assert '<section id="journey"' in page
    assert 'hx-trigger="every 5s"' in page
    assert "nothing to do right now" in page


def test_nothing_waiting_means_no_polling(client, journey_steps):
    assert 'hx-trigger="every 5s"' not in dashboard_of(client, account_created_merchant())


def test_the_poll_gets_only_the_steps(client, journey_steps):
    merchant = MerchantFactory(kyb_status=CheckStatus.REVIEW_REQUIRED)
    merchant_progress_create(merchant=merchant)

    partial = dashboard_of(client, merchant, **HTMX)

    assert partial.strip().startswith('<section id="journey"')
    assert "<html" not in partial
    assert KYB_UNDER_REVIEW in partial


def test_hardware_on_its_way_is_said_on_the_setup_step(client, journey_steps):
    merchant = account_created_merchant()
    HardwareShipmentFactory(
        order__merchant=merchant, shipment_status="in_transit", tracking_number="1ZTRACK"
    )

    page = dashboard_of(client, merchant)

    assert HARDWARE_ON_ITS_WAY in step_item(page, 9)
    assert "1ZTRACK" in step_item(page, 9)
    assert 'hx-trigger="every 5s"' in page


def test_a_rejected_kyb_says_why_and_links_to_the_fix(client, journey_steps):
    merchant = MerchantFactory(
        kyb_status=CheckStatus.REJECTED, kyb_rejection_reason="The EIN does not match the name"
    )
    merchant_progress_create(merchant=merchant)

    page = dashboard_of(client, merchant)

    item = step_item(page, 3)
    assert 'data-state="action"' in item and "Action needed" in item
    assert "The EIN does not match the name." in item
    assert "EIN match your IRS records" in item  # what to check
    assert f'<a href="{KYB}#id_ein">Check your EIN and business details' in item
    actions = re.search(r'<article id="actions-needed".*?</article>', page, re.S).group(0)
    assert f'href="{KYB}#id_ein"' in actions


def test_a_blocked_step_says_why(client, journey_steps):
    merchant = account_created_merchant()
    progress = merchant.step_progress.get(step_id=3)
    step_start(progress=progress)
    step_block(progress=progress, reason="Waiting for the signed lease")

    item = step_item(dashboard_of(client, merchant), 3)

    assert 'data-state="waiting"' in item and "Waiting on us" in item
    assert "Waiting for the signed lease." in item


def test_a_failed_step_without_a_recorded_error_still_says_what_to_do(client, journey_steps):
    merchant = account_created_merchant()
    progress = merchant.step_progress.get(step_id=3)
    step_start(progress=progress)
    step_fail(progress=progress, error="")

    page = dashboard_of(client, merchant)

    assert STEP_RETRY in step_item(page, 3)
    assert "something went wrong" not in page.lower()


def test_a_blocked_journey_is_said_at_the_top(client, journey_steps):
    merchant = account_created_merchant()
    journey.merchant_journey_block(merchant=merchant, actor=None, reason="Fraud check pending")

    assert "Your onboarding is on hold: Fraud check pending" in dashboard_of(client, merchant)


# --- cost -----------------------------------------------------------------------------------------


def test_the_dashboard_costs_the_same_queries_with_1_or_50_history_rows(client, journey_steps):
    merchant = MerchantFactory(kyb_status=CheckStatus.SUBMITTED, cohort=Cohort.ASSISTED)
    merchant_progress_create(merchant=merchant)
    client.force_login(merchant.user)

    def queries() -> int:
        with CaptureQueriesContext(connection) as context:
            assert client.get(DASHBOARD).status_code == 200
        return len(context.captured_queries)

    assert merchant.history.count() == 1
    with_one = queries()
    for n in range(49):
        merchant.blocked_reason = f"note {n}"
        save_tracked(merchant, actor=None, reason=f"test: history row {n}")
        progress = merchant.step_progress.get(step_id=3)
        save_tracked(progress, actor=None, reason=f"test: history row {n}")
    assert merchant.history.count() == 50

    assert queries() == with_one


def test_every_step_status_has_a_state_of_the_one_vocabulary(journey_steps):
    assert set(STATUS_STATES) == set(StepStatus.values)
    assert set(STATUS_STATES.values()) <= set(STATES)
    assert [state.label for state in STATES] == [
        "Done",
        "In progress",
        "Waiting on us",
        "Action needed",
        "Locked",
        "Failed",
    ]
    assert len({state.code for state in STATES}) == 6
