"""Step 2: /account/create/ (with a lead's signed link, or by email), the verification email
and /account/verify/<token>/."""

import html
import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import User
from apps.core.errors import DomainError
from apps.integrations.models import IntegrationEvent
from apps.leads.links import account_create_path
from apps.leads.models import Cohort, Lead
from apps.merchants.forms_onboarding import PASSWORDS_DIFFER
from apps.merchants.models import Merchant
from apps.merchants.services import accounts
from apps.merchants.views.onboarding import (
    ACCOUNT_READY,
    LEAD_LINK_INVALID,
    VERIFICATION_SENT,
)
from apps.progress.models import StepStatus
from tests.accounts.factories import AeUserFactory, UserFactory
from tests.leads.factories import LeadFactory
from tests.merchants.factories import MerchantFactory, account_created_merchant

pytestmark = pytest.mark.django_db

CREATE = reverse("merchants:account_create")
DASHBOARD = reverse("merchants:dashboard")
GOOD_PASSWORD = "plum-orchard-42-lantern"


def link_for(lead) -> str:
    """The account link as emailed to the lead's address."""
    return account_create_path(lead)


def form(**overrides) -> dict:
    data = {
        "legal_business_name": "Copper Bistro LLC",
        "password1": GOOD_PASSWORD,
        "password2": GOOD_PASSWORD,
    }
    data.update(overrides)
    return data


def verification_link(message) -> str:
    match = re.search(r"https?://\S+/account/verify/\S+/", message.body)
    assert match, message.body
    return match.group(0)


# --- with the lead's link ---------------------------------------------------------------------


def test_the_lead_link_prefills_the_business_name_and_fixes_the_email(client, journey_steps):
    lead = LeadFactory(business_name="Copper Bistro", email="ana@copper.example")

    page = client.get(link_for(lead)).text

    assert 'value="ana@copper.example" readonly' in page
    assert 'name="email"' not in page
    assert 'value="Copper Bistro"' in page


def test_creating_the_account_signs_in_and_lands_on_the_dashboard(
    client, journey_steps, django_capture_on_commit_callbacks
):
    lead = LeadFactory(email="ana@copper.example", cohort=Cohort.ASSISTED)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(link_for(lead), form(), follow=True)

    assert response.redirect_chain == [(DASHBOARD, 302)]
    assert ACCOUNT_READY in html.unescape(response.text)
    merchant = Merchant.objects.get(lead=lead)
    assert response.wsgi_request.user == merchant.user
    assert merchant.user.email == "ana@copper.example"
    assert merchant.user.has_role("merchant")
    # The link went to that address: holding it proves the address, nothing more to verify.
    assert merchant.user.email_verified_at is not None
    assert merchant.user.check_password(GOOD_PASSWORD)
    assert merchant.legal_business_name == "Copper Bistro LLC"
    assert merchant.cohort == Cohort.ASSISTED
    assert IntegrationEvent.objects.filter(
        event_type="merchant.created", aggregate_id=merchant.pk
    ).exists()
    assert mail.outbox == []


def test_the_account_has_ten_steps_with_steps_one_and_two_done(journey_steps):
    merchant = account_created_merchant()

    statuses = dict(merchant.step_progress.values_list("step_id", "status"))
    assert sorted(statuses) == list(range(1, 11))
    assert statuses[1] == statuses[2] == StepStatus.COMPLETED
    assert all(statuses[step] == StepStatus.PENDING for step in range(3, 11))
    merchant.refresh_from_db()
    assert merchant.current_step == 3
    assert merchant.history.first().history_user == merchant.user


def test_an_unprofiled_lead_becomes_a_self_serve_merchant(journey_steps):
    merchant = account_created_merchant(cohort=None)
    assert merchant.cohort == Cohort.SELF_SERVE


def test_an_old_account_link_of_a_business_with_an_account_leads_to_sign_in(
    client, journey_steps
):
    """No dead end: sign in, then continue where the business left off."""
    merchant = MerchantFactory()
    users = User.objects.count()

    page = client.get(link_for(merchant.lead), follow=True)
    post = client.post(link_for(merchant.lead), form())

    login = reverse("accounts:login")
    assert page.redirect_chain == [(f"{login}?next={DASHBOARD}", 302)]
    assert accounts.LEAD_HAS_ACCOUNT_SIGN_IN in html.unescape(page.text)
    assert (post.status_code, post.url) == (302, f"{login}?next={DASHBOARD}")
    assert User.objects.count() == users
    assert Merchant.objects.filter(lead=merchant.lead).count() == 1


def test_a_tampered_link_says_so_and_asks_for_the_email(client, journey_steps):
    lead = LeadFactory()
    response = client.get(link_for(lead)[:-3] + "xyz")

    assert response.status_code == 400
    assert LEAD_LINK_INVALID in response.text
    assert 'name="email"' in response.text


def test_a_link_older_than_seven_days_is_no_longer_accepted(client, journey_steps):
    lead = LeadFactory()
    url = link_for(lead)
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        response = client.get(url)
    assert response.status_code == 400
    assert LEAD_LINK_INVALID in response.text


def test_with_a_bad_link_a_new_address_gets_its_account_by_email(client, journey_steps):
    url = f"{CREATE}?lead=not-a-token"

    response = client.post(url, form(email="new@shop.example"))

    assert response.status_code == 302
    assert Merchant.objects.filter(lead__email="new@shop.example").exists()


# --- without a link -----------------------------------------------------------------------------


def test_a_sign_up_with_a_known_leads_address_claims_nothing_and_emails_the_address(
    client, journey_steps, django_capture_on_commit_callbacks
):
    lead = LeadFactory(email="ana@copper.example", cohort=Cohort.MANAGED)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(CREATE, form(email="ANA@copper.example "))

    assert response.status_code == 200
    assert accounts.ACCOUNT_LINK_SENT.format(email="ana@copper.example") in response.text
    assert not response.wsgi_request.user.is_authenticated
    assert not User.objects.filter(email="ana@copper.example").exists()
    assert not Merchant.objects.exists()
    assert Lead.objects.count() == 1
    [message] = mail.outbox
    assert message.to == ["ana@copper.example"]
    # The address's owner follows the emailed link: the account is theirs, verified.
    link = re.search(r"https?://\S+(/account/create/\?lead=\S+)", message.body).group(1)
    client.post(link, form())
    merchant = Merchant.objects.get(lead=lead)
    assert merchant.cohort == Cohort.MANAGED
    assert merchant.user.email_verified_at is not None


def test_without_any_lead_one_is_captured_first(client, journey_steps):
    response = client.post(CREATE, form(email="new@shop.example", legal_business_name="New Shop"))

    assert response.status_code == 302
    lead = Lead.objects.get(email="new@shop.example")
    assert lead.business_name == "New Shop"
    assert lead.source == accounts.SIGNUP_SOURCE
    assert lead.merchant.legal_business_name == "New Shop"


@pytest.mark.parametrize("known", ["lead-with-account", "staff-login", "lead-without-account"])
def test_a_sign_up_with_a_known_address_says_the_same_whatever_we_know(
    client, journey_steps, django_capture_on_commit_callbacks, known
):
    """The page never tells whether an address has an account: the address is emailed how
    to continue (a "continue where you left off" link once it has an account)."""
    email = "sam@lightspeed.example"
    if known == "lead-with-account":
        merchant = account_created_merchant(email=email)
    elif known == "staff-login":
        AeUserFactory(email=email)
    else:
        LeadFactory(email=email)
    merchants = Merchant.objects.count()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(CREATE, form(email=email))

    assert response.status_code == 200
    assert accounts.ACCOUNT_LINK_SENT.format(email=email) in html.unescape(response.text)
    assert accounts.LEAD_HAS_ACCOUNT not in response.text
    assert accounts.EMAIL_HAS_ACCOUNT not in response.text
    assert Merchant.objects.count() == merchants
    if known == "lead-with-account":
        [message] = mail.outbox
        assert message.subject == "Continue where you left off"
        path = re.search(r"https?://[^/\s]+(/continue/\S+/)", message.body).group(1)
        client.force_login(merchant.user)
        assert client.get(path).url == reverse("merchants:kyb")
    elif known == "staff-login":
        assert mail.outbox == []


@pytest.mark.parametrize(
    ("password1", "password2", "expected"),
    [
        ("short1", "short1", "too short"),
        ("password123", "password123", "too common"),
        ("4815162342108", "4815162342108", "entirely numeric"),
        (GOOD_PASSWORD, GOOD_PASSWORD + "x", PASSWORDS_DIFFER),
        ("newshopexample", "newshopexample", "too similar"),
    ],
    ids=["short", "common", "numeric", "mismatch", "like-the-email"],
)
def test_a_weak_password_is_refused_and_nothing_is_created(
    client, journey_steps, password1, password2, expected
):
    users, leads = User.objects.count(), Lead.objects.count()

    response = client.post(
        CREATE,
        form(email="newshop@example.com", password1=password1, password2=password2),
    )

    assert response.status_code == 422
    assert expected in response.text
    assert 'aria-invalid="true"' in response.text
    assert (User.objects.count(), Lead.objects.count()) == (users, leads)
    assert not Merchant.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [("email", "not-an-email"), ("legal_business_name", "   ")],
    ids=["bad-email", "blank-legal-name"],
)
def test_bad_input_is_refused_with_the_field_error(client, journey_steps, field, value):
    response = client.post(CREATE, form(**{"email": "newshop@example.com", field: value}))

    assert response.status_code == 422
    assert f'id="id_{field}-error"' in response.text
    assert not Lead.objects.exists()


def test_the_service_refuses_a_weak_password_on_its_own(journey_steps):
    lead = LeadFactory()
    with pytest.raises(DomainError) as refused:
        accounts.merchant_account_create(lead=lead, password="123", legal_business_name="X")
    assert refused.value.code == "weak_password"
    assert not User.objects.filter(email=lead.email).exists()


def test_a_signed_in_merchant_is_sent_to_the_dashboard(client, journey_steps):
    merchant = account_created_merchant()
    client.force_login(merchant.user)
    response = client.get(CREATE)
    assert (response.status_code, response.url) == (302, DASHBOARD)


def test_signed_in_staff_are_told_to_sign_out_first(client, journey_steps):
    client.force_login(UserFactory(email="sam@example.com"))
    response = client.post(CREATE, form(email="new@example.com"))
    assert response.status_code == 409
    assert "sam@example.com" in response.text
    assert not Lead.objects.exists()


# --- email verification -------------------------------------------------------------------------


def test_the_emailed_link_verifies_the_address(
    client, journey_steps, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(CREATE, form(email="ana@copper.example"))  # no lead yet: a new one
    client.logout()

    response = client.get(verification_link(mail.outbox[0]))

    assert response.status_code == 200
    assert "ana@copper.example is verified" in response.text
    user = User.objects.get(email="ana@copper.example")
    assert user.email_verified_at is not None


def test_verifying_twice_keeps_the_first_time(client, journey_steps):
    merchant = account_created_merchant(email_verified=False)
    url = accounts.merchant_email_verify_url(user=merchant.user)
    client.get(url)
    first = User.objects.get(pk=merchant.user.pk).email_verified_at

    response = client.get(url)

    assert response.status_code == 200
    assert User.objects.get(pk=merchant.user.pk).email_verified_at == first


def test_an_expired_link_is_refused_with_a_clear_page(client, journey_steps):
    merchant = account_created_merchant(email_verified=False)
    url = accounts.merchant_email_verify_url(user=merchant.user)

    with time_machine.travel(timezone.now() + timedelta(days=3, minutes=1)):
        response = client.get(url)

    assert response.status_code == 400
    assert accounts.VERIFY_LINK_EXPIRED in response.text
    assert User.objects.get(pk=merchant.user.pk).email_verified_at is None


def test_a_link_is_still_valid_just_before_three_days(client, journey_steps):
    merchant = account_created_merchant(email_verified=False)
    url = accounts.merchant_email_verify_url(user=merchant.user)
    with time_machine.travel(timezone.now() + timedelta(days=2, hours=23)):
        assert client.get(url).status_code == 200


@pytest.mark.parametrize("token", ["nonsense", "a:b:c", "x" * 300])
def test_an_invalid_link_is_refused_with_a_clear_page(client, token):
    response = client.get(reverse("merchants:account_verify", args=[token]))
    assert response.status_code == 400
    assert accounts.VERIFY_LINK_INVALID in response.text


def test_a_link_for_an_address_the_user_no_longer_has_verifies_nothing(client, journey_steps):
    merchant = account_created_merchant(email_verified=False)
    url = accounts.merchant_email_verify_url(user=merchant.user)
    User.objects.filter(pk=merchant.user.pk).update(email="changed@example.com")

    response = client.get(url)

    assert response.status_code == 400
    assert User.objects.get(pk=merchant.user.pk).email_verified_at is None


def test_resend_sends_a_new_link(client, journey_steps, django_capture_on_commit_callbacks):
    merchant = account_created_merchant(email_verified=False)
    client.force_login(merchant.user)

    with (
        time_machine.travel(timezone.now() + timedelta(minutes=2)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(reverse("merchants:account_verify_resend"), follow=True)

    assert response.redirect_chain == [(DASHBOARD, 302)]
    assert VERIFICATION_SENT.format(email=merchant.user.email) in response.text
    assert len(mail.outbox) == 1
    assert client.get(verification_link(mail.outbox[0])).status_code == 200


def test_resend_with_htmx_answers_with_the_banner(client, journey_steps):
    merchant = account_created_merchant(email_verified=False)
    client.force_login(merchant.user)

    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        response = client.post(
            reverse("merchants:account_verify_resend"), headers={"HX-Request": "true"}
        )

    assert response.status_code == 200
    assert response.text.strip().startswith('<div id="verify-banner">')
    assert VERIFICATION_SENT.format(email=merchant.user.email) in response.text


def test_resend_right_after_a_send_asks_to_check_the_inbox_first(
    client, journey_steps, django_capture_on_commit_callbacks
):
    merchant = account_created_merchant(email_verified=False)
    client.force_login(merchant.user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("merchants:account_verify_resend"), headers={"HX-Request": "true"}
        )

    assert response.status_code == 422
    assert accounts.VERIFY_RESEND_TOO_SOON in response.text
    assert mail.outbox == []


def test_resend_once_verified_says_so(client, journey_steps):
    merchant = account_created_merchant(email_verified=False)
    accounts.merchant_email_verify(token=accounts.merchant_email_token(user=merchant.user))
    client.force_login(merchant.user)

    response = client.post(
        reverse("merchants:account_verify_resend"), headers={"HX-Request": "true"}
    )

    assert response.status_code == 422
    assert response["HX-Retarget"] == "#verify-banner"
    assert accounts.EMAIL_ALREADY_VERIFIED in response.text


def test_the_dashboard_asks_to_verify_until_verified(client, journey_steps):
    merchant = account_created_merchant(email_verified=False)
    client.force_login(merchant.user)
    assert "Verify your email" in client.get(DASHBOARD).text

    accounts.merchant_email_verify(token=accounts.merchant_email_token(user=merchant.user))

    assert "Verify your email" not in client.get(DASHBOARD).text
