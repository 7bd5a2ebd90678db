"""Brute force on the sign-in forms: after a handful of wrong passwords for one email from
one address, that email is locked out from that address for a while (django-axes)."""

import logging
from datetime import timedelta

import pytest
import time_machine
from axes.models import AccessAttempt, AccessFailureLog
from django.conf import settings
from django.http import HttpRequest
from django.test import override_settings
from django.urls import reverse

from apps.accounts.views import LOCKED_OUT
from tests.accounts.factories import PASSWORD, MerchantUserFactory, OpsUserFactory

pytestmark = pytest.mark.django_db

EMAIL = "owner@acme.test"
LOGIN = reverse("accounts:login")
LOCKED_OUT_TEXT = LOCKED_OUT.format(minutes=settings.LOGIN_LOCKOUT_MINUTES)


def sign_in(client, email=EMAIL, password=PASSWORD, url=LOGIN, **extra):
    return client.post(url, {"username": email, "password": password}, **extra)


def fail_until_locked(client, email=EMAIL, url=LOGIN, **extra):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = sign_in(client, email, "wrong-password", url, **extra)
    return response


def test_wrong_passwords_lock_the_email_and_then_even_the_right_one_is_refused(client):
    MerchantUserFactory(email=EMAIL)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(client, password="wrong-password").status_code == 200

    locked = sign_in(client, password="wrong-password")
    assert locked.status_code == 429
    assert LOCKED_OUT_TEXT in locked.text

    right_password = sign_in(client)
    assert right_password.status_code == 429
    assert LOCKED_OUT_TEXT in right_password.text
    assert "_auth_user_id" not in client.session


def test_the_lockout_page_is_the_same_whether_the_account_exists_or_not(client):
    MerchantUserFactory(email=EMAIL)

    known = fail_until_locked(client, EMAIL)
    unknown = fail_until_locked(client, "nobody@acme.test")

    assert unknown.status_code == known.status_code == 429
    page = known.text.split("<main", 1)[1]
    assert page == unknown.text.split("<main", 1)[1]
    assert "nobody@acme.test" not in unknown.text


def test_the_admin_sign_in_locks_out_too(client):
    OpsUserFactory(email="ops@lightspeed.example")
    admin_login = reverse("admin:login")

    fail_until_locked(client, "ops@lightspeed.example", admin_login)
    response = sign_in(client, "ops@lightspeed.example", PASSWORD, admin_login)

    assert response.status_code == 429
    assert LOCKED_OUT_TEXT in response.text
    assert "_auth_user_id" not in client.session


def test_the_lock_holds_only_for_that_email_from_that_address(client):
    MerchantUserFactory(email=EMAIL)
    other = MerchantUserFactory(email="other@acme.test")
    fail_until_locked(client, REMOTE_ADDR="203.0.113.7")

    from_elsewhere = sign_in(client, REMOTE_ADDR="198.51.100.9")
    assert from_elsewhere.status_code == 302
    client.logout()
    other_email = sign_in(client, other.email, REMOTE_ADDR="203.0.113.7")
    assert other_email.status_code == 302


def test_a_forged_forwarded_for_header_does_not_escape_the_lock(client):
    MerchantUserFactory(email=EMAIL)
    fail_until_locked(client, HTTP_X_FORWARDED_FOR="10.0.0.1")

    response = sign_in(client, HTTP_X_FORWARDED_FOR="10.0.0.2")

    assert response.status_code == 429


@override_settings(CLIENT_IP_HEADER="X-Forwarded-For", CLIENT_IP_PROXY_COUNT=1)
def test_behind_the_proxy_each_client_is_locked_on_its_own_address(client):
    """Every request arrives from the proxy (one REMOTE_ADDR); the proxy appends the address
    it saw to X-Forwarded-For, after anything the client wrote there itself."""
    MerchantUserFactory(email=EMAIL)
    proxy = {"REMOTE_ADDR": "10.0.0.5"}
    fail_until_locked(client, HTTP_X_FORWARDED_FOR="203.0.113.7", **proxy)

    forged = sign_in(client, HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.7", **proxy)
    assert forged.status_code == 429
    other_client = sign_in(client, HTTP_X_FORWARDED_FOR="198.51.100.9", **proxy)
    assert other_client.status_code == 302
    assert AccessAttempt.objects.get().ip_address == "203.0.113.7"


def test_the_lock_lifts_after_the_cool_off(client):
    MerchantUserFactory(email=EMAIL)
    fail_until_locked(client)

    later = timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES, seconds=1)
    with time_machine.travel(later, tick=False):
        response = sign_in(client)

    assert response.status_code == 302


def test_the_lockout_is_logged_and_kept_for_ops(client, caplog):
    MerchantUserFactory(email=EMAIL)

    with caplog.at_level(logging.WARNING, logger="axes"):
        fail_until_locked(client, REMOTE_ADDR="203.0.113.7")

    assert any("Locking out" in record.getMessage() for record in caplog.records)
    failures = AccessFailureLog.objects.filter(username=EMAIL, ip_address="203.0.113.7")
    assert failures.count() == settings.AXES_FAILURE_LIMIT
    assert failures.filter(locked_out=True).count() == 1


def test_ops_see_the_lockout_in_the_admin_and_unlock_it(client):
    MerchantUserFactory(email=EMAIL)
    fail_until_locked(client)
    attempt = AccessAttempt.objects.get(username=EMAIL)
    ops = OpsUserFactory()
    client.force_login(ops)

    changelist = client.get(reverse("admin:axes_accessattempt_changelist"))
    assert changelist.status_code == 200
    assert EMAIL in changelist.text
    assert client.get(reverse("admin:axes_accessfailurelog_changelist")).status_code == 200
    deleted = client.post(
        reverse("admin:axes_accessattempt_delete", args=[attempt.pk]), {"post": "yes"}
    )
    assert deleted.status_code == 302

    client.logout()
    assert sign_in(client).status_code == 302


def test_a_successful_sign_in_forgets_earlier_mistakes(client):
    MerchantUserFactory(email=EMAIL)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, password="wrong-password")
    assert sign_in(client).status_code == 302
    client.logout()

    assert sign_in(client, password="wrong-password").status_code == 200
    assert sign_in(client).status_code == 302


def test_test_client_login_works_when_given_a_request(client):
    """django-axes needs the request to know the client's address: tests that sign in
    without the login form use force_login, or client.login(request=HttpRequest(), ...)."""
    MerchantUserFactory(email=EMAIL)

    assert client.login(request=HttpRequest(), username=EMAIL, password=PASSWORD)
