"""The public Get started page: capture with attribution, idempotent on email, field errors
that save nothing, the thank-you page, and the account link that goes only to the address
itself; a repeat for a known address is kept beside the lead, never written over it."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import signing
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from apps.core.middleware import NUL_REFUSED
from apps.integrations.models import IntegrationEvent
from apps.leads.forms import PHONE_INVALID, REFERRER_INVALID
from apps.leads.handlers import ACCOUNT_LINK_SUBJECT, CONTINUE_SUBJECT, RETURNING_SUBJECT
from apps.leads.links import account_create_path, lead_from_account_link
from apps.leads.models import Cohort, Lead, LeadSubmission
from tests.leads.factories import LeadFactory, capture_data

pytestmark = pytest.mark.django_db

URL = reverse("leads:get_started")
THANKS = reverse("leads:get_started_thanks")
UTM = {
    "utm_source": "google",
    "utm_medium": "cpc",
    "utm_campaign": "pos-search-2026",
    "campaign_id": "cmp-42",
}
REFERRER = "https://www.google.com/search?q=pos"


def post(client, htmx=False, **overrides):
    """Submit the form; its outbox events are delivered on commit, as the worker would."""
    headers = {"HX-Request": "true"} if htmx else {}
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(URL, capture_data(**overrides), headers=headers)


# --- First visit ------------------------------------------------------------------------------


def test_anyone_can_open_the_page(client):
    response = client.get(URL)

    assert response.status_code == 200
    assert "Get started" in response.text
    for label in ("First name", "Email", "Vertical", "Annual revenue estimate", "Country"):
        assert label in response.text


def test_the_page_keeps_utm_parameters_and_referrer_in_hidden_fields(client):
    response = client.get(URL, UTM, headers={"Referer": REFERRER})

    form = response.context["form"]
    for name, value in UTM.items():
        assert form[name].value() == value
        assert f'type="hidden" name="{name}" value="{value}"' in response.text
    assert form["referrer"].value() == REFERRER


@pytest.mark.parametrize(
    "referer",
    [
        "javascript:alert(1)",
        "not a url",
        "ftp://files.example.com/",
        "https://x.example/" + "a" * 1000,
    ],
)
def test_a_referrer_that_is_not_a_web_address_is_not_kept(client, referer):
    response = client.get(URL, headers={"Referer": referer})

    assert response.context["form"]["referrer"].value() == ""


def test_overlong_utm_values_are_cut_to_what_a_lead_can_hold(client):
    response = client.get(URL, {"utm_source": "x" * 400})

    assert response.context["form"]["utm_source"].value() == "x" * 255


# --- Submitting -------------------------------------------------------------------------------


def test_submitting_captures_and_profiles_the_lead_then_thanks(client):
    response = post(client, **UTM, referrer=REFERRER)

    lead = Lead.objects.get()
    assert response.status_code == 302
    assert response.url == THANKS
    assert lead.email == "ana@copperbistro.example"
    assert lead.business_category == "restaurant"
    assert lead.annual_revenue_estimate == Decimal("750000")
    assert lead.cohort == Cohort.SELF_SERVE  # no rules seeded: the fallback
    assert lead.profiled_at is not None


def test_utm_and_referrer_are_kept_on_the_lead_and_the_source_follows(client):
    post(client, **UTM, referrer=REFERRER)

    lead = Lead.objects.get()
    assert (lead.utm_source, lead.utm_medium, lead.utm_campaign, lead.campaign_id) == (
        "google",
        "cpc",
        "pos-search-2026",
        "cmp-42",
    )
    assert lead.referrer == REFERRER
    assert lead.source == "paid"


def test_a_visit_referred_by_another_site_is_a_referral(client):
    post(client, referrer="https://blog.example.com/best-pos")

    assert Lead.objects.get().source == "referral"


def test_a_plain_visit_is_organic(client):
    post(client)

    assert Lead.objects.get().source == "organic"


def _link_in(message) -> str:
    return next(line for line in message.body.splitlines() if line.startswith("http"))


def test_the_account_link_goes_to_the_address_not_to_whoever_typed_it(client, mailoutbox):
    response = post(client)
    page = client.get(response.url)
    lead = Lead.objects.get()

    assert page.status_code == 200
    assert "Check your email" in page.text
    assert "?lead=" not in page.text
    [message] = mailoutbox
    assert message.to == ["ana@copperbistro.example"]
    assert message.subject == ACCOUNT_LINK_SUBJECT
    link = _link_in(message)
    assert link.startswith("http://testserver/account/create/?lead=")
    assert lead_from_account_link(link.split("?lead=", 1)[1]) == lead


@pytest.mark.parametrize(
    "token",
    ["", "forged", signing.dumps("x", salt="another-salt")],
    ids=["empty", "forged", "wrong-salt"],
)
def test_a_bad_account_link_names_no_lead(token):
    assert lead_from_account_link(token) is None


def test_an_expired_account_link_names_no_lead(time_machine):
    lead = LeadFactory()
    path = account_create_path(lead)
    time_machine.move_to(timezone.now() + timedelta(days=8))
    assert lead_from_account_link(path.split("?lead=", 1)[1]) is None


def test_a_repeat_never_overwrites_the_lead_and_is_kept_beside_it(client):
    post(client)
    lead = Lead.objects.get()
    lead.phone = ""
    lead.save()
    post(
        client,
        email="ANA@CopperBistro.example",
        business_name="Evil Corp",
        first_name="Mallory",
        number_of_locations=12,
        phone="+1 212 555 0199",
        **UTM,
    )

    lead.refresh_from_db()
    assert Lead.objects.count() == 1
    assert (lead.business_name, lead.first_name, lead.number_of_locations) == (
        "Copper Bistro",
        "Ana",
        3,
    )
    assert lead.phone == "+1 212 555 0199"  # it was empty: a repeat may fill it
    [kept] = LeadSubmission.objects.filter(lead=lead)
    assert kept.details["business_name"] == "Evil Corp"
    assert kept.details["first_name"] == "Mallory"
    # It was missing the phone and the campaign: the repeat completed those, nothing else.
    assert kept.filled_fields == [
        "campaign_id",
        "phone",
        "utm_campaign",
        "utm_medium",
        "utm_source",
    ]
    assert (kept.utm_source, kept.utm_campaign) == ("google", "pos-search-2026")


def test_a_repeat_emails_the_address_we_already_have_your_details(
    client, mailoutbox, time_machine
):
    post(client)
    mailoutbox.clear()
    time_machine.move_to(timezone.now() + timedelta(days=2))
    response = post(client, business_name="Someone Else")

    assert response.url == THANKS  # the same answer as for a new address
    [message] = mailoutbox
    assert message.to == ["ana@copperbistro.example"]
    assert message.subject == RETURNING_SUBJECT
    assert "/account/create/?lead=" in _link_in(message)


def test_a_returning_merchant_gets_a_continue_where_you_left_off_link(client, mailoutbox):
    """Known address with an account: a step link (signed, expiring) to wherever the
    merchant stands, through sign-in when signed out."""
    from apps.core.links import step_link_read
    from tests.merchants.factories import MerchantFactory

    merchant = MerchantFactory()
    post(client, email=merchant.lead.email)

    [message] = mailoutbox
    assert message.subject == CONTINUE_SUBJECT
    assert "Continue where you left off" in message.body
    link = _link_in(message)
    assert link.startswith("http://testserver/continue/")
    token = link.rstrip("/").rsplit("/", 1)[1]
    assert step_link_read(token) == {"m": str(merchant.pk), "s": None, "p": ""}


def test_repeats_in_a_row_send_one_email_not_a_flood(client, mailoutbox):
    for _ in range(5):
        post(client)

    assert len(mailoutbox) == 1
    assert LeadSubmission.objects.count() == 4


def test_staff_see_the_kept_repeat_on_the_lead_page(client, ae_user):
    post(client)
    post(client, business_name="Evil Corp")
    lead = Lead.objects.get()
    client.force_login(ae_user)

    page = client.get(reverse("leads:staff_lead_detail", args=[lead.pk]))

    assert "Sent again through Get started" in page.text
    assert "business_name: Evil Corp" in page.text


def test_a_repeat_keeps_the_first_attribution(client):
    post(client, **UTM, referrer=REFERRER)
    post(client, utm_source="newsletter", utm_medium="email", referrer="https://mail.example/")

    lead = Lead.objects.get()
    assert (lead.utm_source, lead.utm_medium, lead.referrer, lead.source) == (
        "google",
        "cpc",
        REFERRER,
        "paid",
    )


def test_a_repeat_fills_in_attribution_the_lead_did_not_have(client):
    post(client)
    post(client, **UTM)

    assert Lead.objects.get().utm_campaign == "pos-search-2026"


def test_with_htmx_a_capture_sends_the_browser_to_the_thank_you_page(client):
    response = post(client, htmx=True)

    assert response.status_code == 200
    assert response["HX-Redirect"] == THANKS


# --- Bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("first_name", "", "This field is required."),
        ("last_name", "x" * 101, "Ensure this value has at most 100 characters"),
        ("email", "not-an-email", "Enter a valid email address."),
        ("email", "", "This field is required."),
        ("phone", "call me maybe", PHONE_INVALID),
        ("phone", "12345", PHONE_INVALID),
        ("business_name", "", "This field is required."),
        ("business_category", "casino", "Select a valid choice."),
        ("business_type", "empire", "Select a valid choice."),
        ("annual_revenue_estimate", "lots", "Enter a number."),
        ("annual_revenue_estimate", "-1", "greater than or equal to 0"),
        ("annual_revenue_estimate", "12.345", "no more than 2 decimal places"),
        ("annual_revenue_estimate", "10000000000000", "less than or equal to"),
        ("number_of_locations", "0", "greater than or equal to 1"),
        ("number_of_locations", "2.5", "Enter a whole number."),
        ("number_of_locations", "", "This field is required."),
        ("country_code", "ZZ", "Select a valid choice."),
        ("region", "r" * 101, "Ensure this value has at most 100 characters"),
        ("utm_source", "u" * 256, "Ensure this value has at most 255 characters"),
        ("referrer", "javascript:alert(1)", REFERRER_INVALID),
    ],
)
def test_bad_input_is_answered_field_by_field_and_saves_nothing(client, field, value, message):
    response = post(client, **{field: value})

    assert response.status_code == 422
    assert message in " ".join(response.context["form"].errors[field])
    assert 'role="alert"' in response.text
    assert Lead.objects.count() == 0
    assert IntegrationEvent.objects.count() == 0


def test_a_nul_character_is_refused_before_the_form_and_saves_nothing(client):
    response = post(client, business_name="Nul\x00Byte")

    assert response.status_code == 400
    assert NUL_REFUSED in response.text
    assert Lead.objects.count() == 0


def test_bad_input_keeps_the_answers_already_given(client):
    response = post(client, email="nope")

    assert 'value="Copper Bistro"' in response.text


def test_with_htmx_errors_come_back_as_the_form_alone_retargeted(client):
    response = post(client, htmx=True, email="nope")

    assert response.status_code == 422
    assert response["HX-Retarget"] == "#capture-form"
    assert response["HX-Reswap"] == "outerHTML"
    assert response.text.strip().startswith('<form id="capture-form"')
    assert "<html" not in response.text
    assert "Enter a valid email address." in response.text
    assert Lead.objects.count() == 0


def test_a_bad_repeat_changes_nothing_on_the_existing_lead(client):
    lead = LeadFactory(email="ana@copperbistro.example", number_of_locations=1)
    history_before = lead.history.count()

    response = post(client, number_of_locations="-3")

    assert response.status_code == 422
    lead.refresh_from_db()
    assert lead.number_of_locations == 1
    assert lead.history.count() == history_before


def test_the_page_answers_only_get_and_post(client):
    assert client.put(URL).status_code == 405


@pytest.mark.parametrize("field", ["business_category", "business_type"])
def test_vertical_and_business_type_must_be_chosen(client, field):
    response = post(client, **{field: ""})

    assert response.status_code == 422
    assert response.context["form"].errors[field] == ["This field is required."]
    assert Lead.objects.count() == 0
