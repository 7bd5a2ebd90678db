"""Forgot your password? Django's reset views and token, our pages and email."""

import re
from urllib.parse import urlsplit

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core import mail
from django.test import override_settings
from django.urls import reverse

from apps.accounts.views import PASSWORD_RESET_SENT
from tests.accounts.factories import PASSWORD, MerchantUserFactory

pytestmark = pytest.mark.django_db

EMAIL = "owner@acme.test"
NEW_PASSWORD = "quiet-meadow-lantern-81"
RESET = reverse("accounts:password_reset")
LINK = re.compile(r"^(https?://\S+/accounts/password-reset/\S+/\S+/)$", re.MULTILINE)


@pytest.fixture
def ask_reset(client, django_capture_on_commit_callbacks):
    def ask(email, **extra):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(RESET, {"email": email}, follow=True, **extra)

    return ask


def reset_link() -> str:
    (message,) = mail.outbox
    return LINK.search(message.body).group(1)


def set_new_password(client, link: str):
    """Open the emailed link (Django moves the token into the session and redirects) and
    submit the new password; returns the final page."""
    form = client.get(urlsplit(link).path, follow=True)
    assert "Choose a new password" in form.text
    return client.post(
        form.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )


def test_the_login_page_offers_a_password_reset(client):
    response = client.get(reverse("accounts:login"))

    assert "Forgot your password?" in response.text
    assert f'href="{RESET}"' in response.text


@override_settings(PORTAL_BASE_URL="https://onboarding.example.com")
def test_a_user_resets_their_password_from_the_emailed_link(client, ask_reset):
    MerchantUserFactory(email=EMAIL)

    response = ask_reset(EMAIL)
    assert PASSWORD_RESET_SENT in response.text
    assert mail.outbox[0].to == [EMAIL]
    link = reset_link()
    assert link.startswith("https://onboarding.example.com/accounts/password-reset/")

    assert "Your new password is set." in set_new_password(client, link).text

    login = reverse("accounts:login")
    assert client.post(login, {"username": EMAIL, "password": PASSWORD}).status_code == 200
    assert client.post(login, {"username": EMAIL, "password": NEW_PASSWORD}).status_code == 302


def test_an_unknown_email_gets_the_same_answer_and_no_email(ask_reset):
    MerchantUserFactory(email=EMAIL)

    known = ask_reset(EMAIL)
    mail.outbox.clear()
    unknown = ask_reset("nobody@acme.test")

    assert unknown.redirect_chain == known.redirect_chain
    assert PASSWORD_RESET_SENT in unknown.text
    assert mail.outbox == []


def test_without_a_portal_url_the_link_uses_the_address_the_visitor_used(ask_reset):
    MerchantUserFactory(email=EMAIL)

    ask_reset(EMAIL, HTTP_HOST="localhost")

    assert reset_link().startswith("http://localhost/accounts/password-reset/")


def test_a_reset_link_works_once(client, ask_reset):
    MerchantUserFactory(email=EMAIL)
    ask_reset(EMAIL)
    set_new_password(client, reset_link())

    again = client.get(urlsplit(reset_link()).path, follow=True)

    assert "This link is invalid or has expired, or it was already used." in again.text


def test_a_new_password_lifts_the_lockout_of_its_email(client, ask_reset):
    MerchantUserFactory(email=EMAIL)
    login = reverse("accounts:login")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(login, {"username": EMAIL, "password": "wrong-password"})
    assert AccessAttempt.objects.filter(username=EMAIL).exists()

    ask_reset(EMAIL)
    set_new_password(client, reset_link())

    assert client.post(login, {"username": EMAIL, "password": NEW_PASSWORD}).status_code == 302
