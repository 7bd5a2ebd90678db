"""Hostile JSON bodies get a 400 with a message from the API's parser, on every endpoint at
once (apps.core.parsers, the default parser), and change nothing; an address no endpoint
answers gets a JSON 404. A body nested 2,000 deep answered 500 (RecursionError) before."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from apps.core.apis import API_NOT_FOUND
from apps.core.parsers import JSON_HAS_NUL, JSON_TOO_DEEP, MAX_JSON_DEPTH, json_too_deep
from apps.leads.models import Cohort, Lead
from tests.leads.factories import LeadFactory, api_key

pytestmark = pytest.mark.django_db

DEEP_BODIES = {
    "arrays": "[" * 2000 + "]" * 2000,
    "objects": '{"a":' * 2000 + "1" + "}" * 2000,
    "in-a-field": '{"email": "ana@example.com", "first_name": ' + "[" * 2000 + "]" * 2000 + "}",
}


@pytest.fixture
def marketing():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key()}")
    return client


@pytest.fixture
def ae(ae_user):
    client = APIClient()
    client.force_login(ae_user)
    return client


def send(client, method: str, url: str, body: str):
    return getattr(client, method)(url, data=body.encode(), content_type="application/json")


def lead_api_calls(marketing, ae, lead):
    """The three lead endpoints that take a body, each with the caller it expects."""
    return {
        "capture": (marketing, "post", reverse("leads_api:lead_capture")),
        "profile": (marketing, "post", reverse("leads_api:lead_profile")),
        "override": (ae, "put", reverse("leads_api:lead_cohort", args=[lead.pk])),
    }


@pytest.mark.parametrize("endpoint", ["capture", "profile", "override"])
@pytest.mark.parametrize("body", DEEP_BODIES.values(), ids=DEEP_BODIES.keys())
def test_a_body_nested_2000_deep_is_a_400_and_changes_nothing(marketing, ae, endpoint, body):
    lead = LeadFactory(cohort=Cohort.SELF_SERVE)
    client, method, url = lead_api_calls(marketing, ae, lead)[endpoint]

    response = send(client, method, url, body)

    assert response.status_code == 400
    assert response.json() == {"detail": JSON_TOO_DEEP}
    lead.refresh_from_db()
    assert lead.cohort == Cohort.SELF_SERVE
    assert Lead.objects.count() == 1


@pytest.mark.parametrize("endpoint", ["capture", "profile", "override"])
def test_a_nul_in_a_json_string_is_a_400_and_changes_nothing(marketing, ae, endpoint):
    lead = LeadFactory(cohort=Cohort.SELF_SERVE)
    client, method, url = lead_api_calls(marketing, ae, lead)[endpoint]
    body = '{"email": "ana@example.com", "cohort": "managed", "reason": "Big\\u0000 one"}'

    response = send(client, method, url, body)

    assert response.status_code == 400
    assert response.json() == {"detail": JSON_HAS_NUL}
    lead.refresh_from_db()
    assert lead.cohort == Cohort.SELF_SERVE
    assert Lead.objects.count() == 1


def test_a_nul_in_a_json_key_is_a_400(marketing):
    response = send(marketing, "post", reverse("leads_api:lead_profile"), '{"a\\u0000": 1}')

    assert response.status_code == 400
    assert response.json() == {"detail": JSON_HAS_NUL}


def test_a_body_at_the_depth_limit_is_parsed_and_judged_field_by_field(marketing):
    nested = "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1)

    response = send(marketing, "post", reverse("leads_api:lead_profile"), f'{{"region": {nested}}}')

    assert response.status_code == 400
    assert "region" in response.json()


def test_the_depth_is_counted_on_structure_not_on_brackets_inside_strings():
    inside_a_string = '{"note": "' + "[{" * 500 + '\\" still text ' + "[" * 500 + '"}'

    assert not json_too_deep(inside_a_string)
    assert not json_too_deep("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH)
    assert json_too_deep("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1))
    assert json_too_deep('{"a": "]]]", "b": ' + "[" * 40)  # unclosed: still too deep


def test_a_million_opening_brackets_are_refused_quickly(marketing):
    response = send(marketing, "post", reverse("leads_api:lead_capture"), "[" * 1_000_000)

    assert response.status_code == 400
    assert response.json() == {"detail": JSON_TOO_DEEP}


# --- Addresses no endpoint answers ------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "put"])
def test_a_lead_id_that_is_not_a_uuid_is_a_json_404(marketing, method):
    response = getattr(marketing, method)("/api/v1/leads/not-a-uuid/cohort", format="json")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": API_NOT_FOUND}


def test_an_unknown_api_path_is_a_json_404(client):
    response = client.post("/api/v1/nothing-here", {"a": 1}, content_type="application/json")

    assert response.status_code == 404
    assert response.json() == {"detail": API_NOT_FOUND}
