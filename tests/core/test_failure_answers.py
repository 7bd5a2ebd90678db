"""Failures a client can act on are answered as such, never as a 500 (issue 13 item 1): the
database briefly away is a 503 with Retry-After; a row changed by someone else in the
meantime is a 409 that says to reload."""

import pytest
from django.db import OperationalError
from django.urls import reverse
from django_fsm import ConcurrentTransition
from rest_framework.test import APIClient

from apps.core.middleware import DATABASE_AWAY, RETRY_AFTER_SECONDS
from apps.leads import services
from tests.leads.factories import api_key, capture_data

pytestmark = pytest.mark.django_db

GET_STARTED = reverse("leads:get_started")
INTAKE = reverse("leads_api:lead_capture")


def _failing(exception):
    def capture(**kwargs):
        raise exception

    return capture


@pytest.fixture
def marketing():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key()}")
    return client


def test_an_intake_while_the_database_is_away_is_a_503_to_retry(marketing, monkeypatch):
    monkeypatch.setattr(services, "lead_capture", _failing(OperationalError("server closed")))

    response = marketing.post(INTAKE, capture_data(), format="json")

    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response.json() == {"detail": DATABASE_AWAY}


def test_a_page_while_the_database_is_away_is_a_503_page(client, monkeypatch):
    monkeypatch.setattr(services, "lead_capture", _failing(OperationalError("server closed")))

    response = client.post(GET_STARTED, capture_data())

    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert DATABASE_AWAY in response.text


def test_a_save_from_a_stale_copy_anywhere_is_a_409_that_says_to_reload(marketing, monkeypatch):
    monkeypatch.setattr(services, "lead_capture", _failing(ConcurrentTransition("stale")))

    response = marketing.post(INTAKE, capture_data(), format="json")

    assert response.status_code == 409
    assert "Reload and try again" in response.json()["detail"]
