import pytest
from django.urls import reverse

from tests.accounts.factories import PASSWORD, AeUserFactory, MerchantUserFactory

pytestmark = pytest.mark.django_db


def test_a_user_signs_in_with_email_and_password(client):
    user = MerchantUserFactory(email="owner@acme.test")
    response = client.post(
        reverse("accounts:login"), {"username": "owner@acme.test", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response.url == reverse("accounts:home")
    assert client.session["_auth_user_id"] == str(user.pk)


def test_a_wrong_password_is_refused_with_a_message(client):
    MerchantUserFactory(email="owner@acme.test")
    response = client.post(
        reverse("accounts:login"), {"username": "owner@acme.test", "password": "nope"}
    )
    assert response.status_code == 200
    assert "Please enter a correct email address and password" in response.text
    assert "_auth_user_id" not in client.session


def test_a_malformed_email_gets_a_field_error_not_a_500(client):
    response = client.post(reverse("accounts:login"), {"username": "not an email", "password": ""})
    assert response.status_code == 200
    assert "Enter a valid email address." in response.text


def test_home_needs_a_signed_in_user(client):
    response = client.get(reverse("accounts:home"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


def test_staff_home_links_to_the_admin(client):
    client.force_login(AeUserFactory())
    response = client.get(reverse("accounts:home"), follow=True)
    assert response.redirect_chain == [(reverse("staff:home"), 302)]
    assert reverse("admin:index") in response.text


def test_sign_out_is_a_post_and_ends_the_session(client):
    client.force_login(MerchantUserFactory())
    assert client.get(reverse("accounts:logout")).status_code == 405
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_pages_load_htmx_and_css_locally_never_from_a_cdn(client):
    response = client.get(reverse("accounts:login"))
    assert "/static/vendor/pico/pico.min.css" in response.text
    assert "/static/django_htmx/htmx-2.min.js" in response.text
    assert "https://" not in response.text.split("<body")[0]
