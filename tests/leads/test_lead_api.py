"""The lead API: capture (API key, idempotent on external id and email, 409 on a conflict,
400 per field), profile (by id or preview), cohort read and override, and the schema."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_api_key.models import APIKey

from apps.integrations.models import IntegrationEvent
from apps.leads import apis, services
from apps.leads.forms import PHONE_INVALID, REFERRER_INVALID
from apps.leads.models import Cohort, Lead, LeadStatus
from tests.accounts.factories import (
    AeUserFactory,
    ComplianceUserFactory,
    IcUserFactory,
    MerchantUserFactory,
    OpsUserFactory,
)
from tests.leads.factories import LeadFactory, api_key, capture_data

pytestmark = pytest.mark.django_db

CAPTURE = reverse("leads_api:lead_capture")
PROFILE = reverse("leads_api:lead_profile")


def cohort_url(lead_id) -> str:
    return reverse("leads_api:lead_cohort", args=[lead_id])


@pytest.fixture
def default_rules():
    call_command("seed_rules", verbosity=0)


@pytest.fixture
def marketing():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key()}")
    return client


@pytest.fixture
def anonymous():
    return APIClient()


def staff(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


# --- Capture: authentication ------------------------------------------------------------------


def test_without_a_key_the_capture_is_refused(anonymous):
    response = anonymous.post(CAPTURE, capture_data(), format="json")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Api-Key"
    assert Lead.objects.count() == 0


def test_the_api_key_is_looked_up_once_per_request(marketing):
    with CaptureQueriesContext(connection) as queries:
        response = marketing.post("/api/v1/leads", capture_data(), format="json")

    assert response.status_code == 201
    key_reads = [q for q in queries if 'FROM "rest_framework_api_key_apikey"' in q["sql"]]
    assert len(key_reads) == 1


def test_a_new_lead_is_captured_in_a_fixed_number_of_round_trips(marketing):
    """Issue 12/13: every round trip in the capture transaction holds the lead's locks longer
    under a burst. Uniqueness is left to the database (a race is retried), not checked first
    with a query per constraint."""
    marketing.post("/api/v1/leads", capture_data(email="first@bistro.example"), format="json")

    with CaptureQueriesContext(connection) as queries:
        response = marketing.post(
            "/api/v1/leads", capture_data(email="second@bistro.example"), format="json"
        )

    assert response.status_code == 201
    lead_checks = [q for q in queries if q["sql"].startswith('SELECT 1 AS "a" FROM "leads_lead"')]
    assert lead_checks == []
    assert len(queries) <= 24


def test_a_revoked_key_is_refused(anonymous):
    key = api_key()
    row = APIKey.objects.get_from_key(key)
    row.revoked = True
    row.save()
    anonymous.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")

    response = anonymous.post(CAPTURE, capture_data(), format="json")

    assert response.status_code == 401
    assert response.json()["detail"] == apis.API_KEY_INVALID
    assert Lead.objects.count() == 0


def test_an_expired_key_is_refused(anonymous):
    key = api_key(expiry_date=timezone.now() - timedelta(minutes=1))
    anonymous.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")

    response = anonymous.post(CAPTURE, capture_data(), format="json")

    assert response.status_code == 401
    assert Lead.objects.count() == 0


@pytest.mark.parametrize("header", ["Api-Key nope.nope", "Api-Key ", "Bearer abc", "Api-Key"])
def test_a_made_up_key_is_refused(anonymous, header):
    anonymous.credentials(HTTP_AUTHORIZATION=header)

    response = anonymous.post(CAPTURE, capture_data(), format="json")

    assert response.status_code == 401
    assert Lead.objects.count() == 0


def test_a_staff_session_is_not_the_marketing_key(ae_user):
    response = staff(ae_user).post(CAPTURE, capture_data(), format="json")

    assert response.status_code == 401
    assert Lead.objects.count() == 0


# --- Capture: what it does --------------------------------------------------------------------


def test_a_valid_key_captures_and_profiles_a_lead(marketing, default_rules):
    response = marketing.post(
        CAPTURE,
        capture_data(external_lead_id="mkto-1", utm_source="google", referrer="https://g.co/"),
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    lead = Lead.objects.get()
    assert body["lead_id"] == str(lead.pk)
    assert body["saved"] is True
    assert body["cohort"] == Cohort.ASSISTED
    assert body["selling_plan"] == "ae_assisted"
    assert body["gtv_score"] == "62.50"
    assert body["matched_rule"]["priority"] == 20
    assert "GTV $750,000 ≥ $500,000" in body["cohort_reason"]
    assert lead.external_lead_id == "mkto-1"
    assert (lead.utm_source, lead.referrer) == ("google", "https://g.co/")


def test_the_same_email_twice_updates_one_lead(marketing):
    marketing.post(CAPTURE, capture_data(), format="json")

    response = marketing.post(
        CAPTURE,
        capture_data(email="Ana@CopperBistro.EXAMPLE", phone="+1 212 555 0199"),
        format="json",
    )

    assert response.status_code == 200
    lead = Lead.objects.get()
    assert lead.phone == "+1 212 555 0199"
    assert lead.email == "ana@copperbistro.example"


def test_the_same_external_id_twice_updates_one_lead_even_with_a_new_email(marketing):
    marketing.post(CAPTURE, capture_data(external_lead_id="mkto-7"), format="json")

    response = marketing.post(
        CAPTURE,
        capture_data(external_lead_id="mkto-7", email="owner@copperbistro.example"),
        format="json",
    )

    assert response.status_code == 200
    assert Lead.objects.get().email == "owner@copperbistro.example"


def test_an_external_id_for_an_email_we_know_attaches_to_that_lead(marketing):
    lead = LeadFactory(email="ana@copperbistro.example")

    response = marketing.post(CAPTURE, capture_data(external_lead_id="mkto-9"), format="json")

    assert response.status_code == 200
    lead.refresh_from_db()
    assert lead.external_lead_id == "mkto-9"
    assert Lead.objects.count() == 1


def test_an_external_id_and_an_email_of_two_leads_are_a_conflict(marketing):
    first = LeadFactory(external_lead_id="mkto-1", email="first@example.com", phone="1")
    LeadFactory(email="second@example.com", phone="2")
    events_before = IntegrationEvent.objects.count()

    response = marketing.post(
        CAPTURE,
        capture_data(external_lead_id="mkto-1", email="second@example.com"),
        format="json",
    )

    assert response.status_code == 409
    assert response.json()["detail"] == services.LEAD_CONFLICT
    first.refresh_from_db()
    assert first.email == "first@example.com"
    assert first.phone == "1"
    assert Lead.objects.count() == 2
    assert IntegrationEvent.objects.count() == events_before


def test_an_email_already_tied_to_another_external_id_is_a_conflict(marketing):
    LeadFactory(external_lead_id="mkto-1", email="ana@copperbistro.example")

    response = marketing.post(CAPTURE, capture_data(external_lead_id="mkto-2"), format="json")

    assert response.status_code == 409
    assert response.json()["detail"] == services.EMAIL_HAS_OTHER_EXTERNAL_ID
    assert Lead.objects.get().external_lead_id == "mkto-1"


def test_a_capture_records_lead_created_and_lead_profiled(marketing):
    marketing.post(CAPTURE, capture_data(), format="json")

    lead = Lead.objects.get()
    types = set(
        IntegrationEvent.objects.filter(aggregate_id=lead.pk).values_list("event_type", flat=True)
    )
    assert types == {"lead.created", "lead.profiled"}


def test_a_closed_lead_captured_again_is_updated_but_not_profiled(marketing):
    lead = LeadFactory(email="ana@copperbistro.example", status=LeadStatus.LOST)

    response = marketing.post(CAPTURE, capture_data(), format="json")

    assert response.status_code == 200
    lead.refresh_from_db()
    assert lead.business_name == "Copper Bistro"
    assert lead.cohort is None


def test_vertical_type_and_country_are_read_whatever_their_case(marketing):
    response = marketing.post(
        CAPTURE,
        capture_data(business_category="Restaurant", business_type="LLC", country_code="ca"),
        format="json",
    )

    assert response.status_code == 201
    lead = Lead.objects.get()
    assert (lead.business_category, lead.business_type, lead.country_code) == (
        "restaurant",
        "llc",
        "CA",
    )


def test_only_the_email_is_required(marketing):
    response = marketing.post(CAPTURE, {"email": "min@example.com"}, format="json")

    assert response.status_code == 201
    assert response.json()["cohort"] == Cohort.SELF_SERVE


# --- Capture: bad input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", None, "This field may not be null."),
        ("email", "not-an-email", "Enter a valid email address."),
        ("email", "x" * 250 + "@example.com", "Ensure this field has no more than 255"),
        ("first_name", "x" * 101, "Ensure this field has no more than 100 characters."),
        ("first_name", "Ana" + " " * 98, "Ensure this field has no more than 100 characters."),
        ("first_name", ["Ana"], apis.WRONG_JSON_TYPE.format(expected="string")),
        ("phone", 4155550100, apis.WRONG_JSON_TYPE.format(expected="string")),
        ("phone", "call me", PHONE_INVALID),
        ("business_category", "casino", "is not a valid choice."),
        ("business_type", 7, apis.WRONG_JSON_TYPE.format(expected="string")),
        ("annual_revenue_estimate", "lots", "A valid number is required."),
        ("annual_revenue_estimate", "NaN", "A valid number is required."),
        ("annual_revenue_estimate", -5, "greater than or equal to 0"),
        ("annual_revenue_estimate", "1.234", "no more than 2 decimal places"),
        ("number_of_locations", 0, "greater than or equal to 1"),
        ("number_of_locations", "two", apis.WRONG_JSON_TYPE.format(expected="integer")),
        ("number_of_locations", "3", apis.WRONG_JSON_TYPE.format(expected="integer")),
        ("number_of_locations", True, apis.WRONG_JSON_TYPE.format(expected="integer")),
        ("annual_revenue_estimate", 5.5, apis.WRONG_JSON_TYPE.format(expected="integer or string")),
        ("annual_revenue_estimate", "1e3", "A valid number is required."),
        ("country_code", "ZZ", "is not a valid choice."),
        ("region", "r" * 101, "Ensure this field has no more than 100 characters."),
        ("external_lead_id", "e" * 256, "Ensure this field has no more than 255 characters."),
        ("source", "paid search!", "Enter a valid"),
        ("utm_campaign", "u" * 256, "Ensure this field has no more than 255 characters."),
        ("referrer", "javascript:alert(1)", REFERRER_INVALID),
        ("status", "converted", apis.UNKNOWN_FIELD),
        ("annual_revenue", 100, apis.UNKNOWN_FIELD),
    ],
)
def test_bad_input_is_a_400_per_field_and_saves_nothing(marketing, field, value, message):
    response = marketing.post(CAPTURE, capture_data(**{field: value}), format="json")

    assert response.status_code == 400
    assert message in " ".join(response.json()[field])
    assert Lead.objects.count() == 0
    assert IntegrationEvent.objects.count() == 0


def test_a_missing_email_is_a_400(marketing):
    data = capture_data()
    del data["email"]

    response = marketing.post(CAPTURE, data, format="json")

    assert response.status_code == 400
    assert response.json()["email"] == ["This field is required."]


@pytest.mark.parametrize("body", ["[1, 2]", "not json", '"text"', "{", "null"])
def test_a_body_that_is_not_a_json_object_is_a_400(marketing, body):
    response = marketing.post(CAPTURE, body, content_type="application/json")

    assert response.status_code == 400
    assert Lead.objects.count() == 0


def test_a_bad_repeat_changes_nothing_on_the_existing_lead(marketing):
    lead = LeadFactory(email="ana@copperbistro.example", number_of_locations=2)

    response = marketing.post(CAPTURE, capture_data(number_of_locations=-1), format="json")

    assert response.status_code == 400
    lead.refresh_from_db()
    assert lead.number_of_locations == 2


# --- Profile ----------------------------------------------------------------------------------


def test_profiling_a_saved_lead_by_id_returns_its_profile(marketing, default_rules):
    lead = LeadFactory(annual_revenue_estimate=Decimal("2500000"))

    response = marketing.post(PROFILE, {"lead_id": str(lead.pk)}, format="json")

    assert response.status_code == 200
    assert response.json()["cohort"] == Cohort.MANAGED
    assert response.json()["saved"] is True
    lead.refresh_from_db()
    assert lead.cohort == Cohort.MANAGED
    assert IntegrationEvent.objects.filter(aggregate_id=lead.pk, event_type="lead.profiled")


def test_a_preview_returns_the_profile_that_would_apply_and_saves_nothing(marketing, default_rules):
    response = marketing.post(
        PROFILE, {"annual_revenue_estimate": "600000", "number_of_locations": 1}, format="json"
    )

    assert response.status_code == 200
    body = response.json()
    assert body["saved"] is False
    assert body["lead_id"] is None
    assert body["cohort"] == Cohort.ASSISTED
    assert body["matched_rule"]["priority"] == 20
    assert Lead.objects.count() == 0
    assert IntegrationEvent.objects.count() == 0


def test_a_preview_is_open_to_any_staff_allowed_to_see_leads(default_rules):
    response = staff(IcUserFactory()).post(PROFILE, {"number_of_locations": 12}, format="json")

    assert response.status_code == 200
    assert response.json()["cohort"] == Cohort.MANAGED


def test_profiling_a_saved_lead_needs_the_key_or_the_right_to_change_leads():
    lead = LeadFactory()

    refused = staff(IcUserFactory()).post(PROFILE, {"lead_id": str(lead.pk)}, format="json")
    allowed = staff(AeUserFactory()).post(PROFILE, {"lead_id": str(lead.pk)}, format="json")

    assert refused.status_code == 403
    assert refused.json()["detail"] == apis.PROFILE_SAVE_NOT_ALLOWED
    assert allowed.status_code == 200


def test_profiling_without_key_or_session_is_refused(anonymous):
    response = anonymous.post(PROFILE, {"number_of_locations": 3}, format="json")

    assert response.status_code == 401


def test_a_merchant_cannot_profile():
    response = staff(MerchantUserFactory()).post(PROFILE, {"number_of_locations": 3}, format="json")

    assert response.status_code == 403


def test_profiling_an_unknown_lead_is_a_404(marketing):
    response = marketing.post(
        PROFILE, {"lead_id": "00000000-0000-0000-0000-000000000000"}, format="json"
    )

    assert response.status_code == 404
    assert response.json()["detail"] == apis.LEAD_NOT_FOUND


def test_profiling_a_closed_lead_is_a_409(marketing):
    lead = LeadFactory(status=LeadStatus.DISQUALIFIED)

    response = marketing.post(PROFILE, {"lead_id": str(lead.pk)}, format="json")

    assert response.status_code == 409


@pytest.mark.parametrize(
    "body",
    [
        {"lead_id": "not-a-uuid"},
        {"lead_id": "00000000-0000-0000-0000-000000000000", "number_of_locations": 3},
        {"number_of_locations": -1},
        {"vertical": "restaurant"},
    ],
    ids=["bad-uuid", "id-and-details", "bad-detail", "unknown-field"],
)
def test_bad_profile_input_is_a_400(marketing, body):
    response = marketing.post(PROFILE, body, format="json")

    assert response.status_code == 400


# --- Cohort read and override -----------------------------------------------------------------


def test_reading_a_cohort_says_which_rule_and_why(marketing, default_rules):
    lead = services.lead_profile(lead=LeadFactory(number_of_locations=11))

    response = marketing.get(cohort_url(lead.pk))

    assert response.status_code == 200
    body = response.json()
    assert body["cohort"] == Cohort.MANAGED
    assert body["cohort_reason"].endswith("11 locations ≥ 10")
    assert body["override"] is None
    assert set(body["score_inputs"]) >= {"inputs", "gtv_score", "complexity_score", "risk_score"}


@pytest.mark.parametrize(
    ("make_user", "expected"),
    [
        (AeUserFactory, 200),
        (IcUserFactory, 200),
        (OpsUserFactory, 200),
        (ComplianceUserFactory, 200),
        (MerchantUserFactory, 403),
    ],
    ids=["ae", "ic", "ops", "compliance", "merchant"],
)
def test_staff_may_read_a_cohort_and_merchants_may_not(make_user, expected):
    lead = LeadFactory()

    assert staff(make_user()).get(cohort_url(lead.pk)).status_code == expected


def test_reading_the_cohort_of_an_unknown_lead_is_a_404(marketing):
    response = marketing.get(cohort_url("00000000-0000-0000-0000-000000000000"))

    assert response.status_code == 404


def test_an_ae_overrides_a_cohort_over_the_api(ae_user):
    lead = services.lead_profile(lead=LeadFactory())

    response = staff(ae_user).put(
        cohort_url(lead.pk), {"cohort": "managed", "reason": "Group of 30 stores"}, format="json"
    )

    assert response.status_code == 200
    body = response.json()
    assert body["cohort"] == Cohort.MANAGED
    assert body["setup_plan"] == "ic_paid"
    assert body["override"]["overridden_by"] == ae_user.email
    assert body["override"]["reason"] == "Group of 30 stores"
    lead.refresh_from_db()
    assert lead.cohort_overridden_by == ae_user


@pytest.mark.parametrize(
    "make_user",
    [IcUserFactory, OpsUserFactory, ComplianceUserFactory, MerchantUserFactory],
    ids=["ic", "ops", "compliance", "merchant"],
)
def test_only_an_ae_may_override_over_the_api(make_user):
    lead = services.lead_profile(lead=LeadFactory())

    response = staff(make_user()).put(
        cohort_url(lead.pk), {"cohort": "managed", "reason": "Why not"}, format="json"
    )

    assert response.status_code == 403
    lead.refresh_from_db()
    assert lead.cohort == Cohort.SELF_SERVE


def test_the_marketing_key_cannot_override(marketing):
    lead = services.lead_profile(lead=LeadFactory())

    response = marketing.put(
        cohort_url(lead.pk), {"cohort": "managed", "reason": "Why not"}, format="json"
    )

    assert response.status_code == 403


def test_an_override_needs_the_session_csrf_token(ae_user):
    lead = services.lead_profile(lead=LeadFactory())
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(ae_user)

    response = client.put(
        cohort_url(lead.pk), {"cohort": "managed", "reason": "Why not"}, format="json"
    )

    assert response.status_code == 403
    lead.refresh_from_db()
    assert lead.cohort == Cohort.SELF_SERVE


def test_overriding_an_unknown_lead_is_a_404(ae_user):
    response = staff(ae_user).put(
        cohort_url("00000000-0000-0000-0000-000000000000"),
        {"cohort": "managed", "reason": "Why not"},
        format="json",
    )

    assert response.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"cohort": "enterprise", "reason": "Big"}, "cohort"),
        ({"reason": "Big"}, "cohort"),
        ({"cohort": "managed"}, "reason"),
        ({"cohort": "managed", "reason": "   "}, "reason"),
    ],
    ids=["unknown-cohort", "no-cohort", "no-reason", "blank-reason"],
)
def test_a_bad_override_is_a_400_and_changes_nothing(ae_user, body, field):
    lead = services.lead_profile(lead=LeadFactory())

    response = staff(ae_user).put(cohort_url(lead.pk), body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    lead.refresh_from_db()
    assert lead.cohort_overridden_at is None


def test_overriding_a_lost_lead_is_a_409(ae_user):
    lead = LeadFactory(status=LeadStatus.LOST)

    response = staff(ae_user).put(
        cohort_url(lead.pk), {"cohort": "managed", "reason": "Came back"}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["detail"] == services.OVERRIDE_CLOSED_LEAD.format(status="Lost")


# --- Schema -----------------------------------------------------------------------------------


def test_the_lead_endpoints_are_in_the_openapi_schema(client):
    response = client.get(reverse("api-schema"), {"format": "json"})

    assert response.status_code == 200
    schema = response.json()
    paths = schema["paths"]
    assert "post" in paths["/api/v1/leads"]
    assert "post" in paths["/api/v1/leads/profile"]
    assert {"get", "put"} <= set(paths["/api/v1/leads/{lead_id}/cohort"])
    assert schema["components"]["securitySchemes"]["marketingApiKey"]["type"] == "apiKey"
    operation_ids = {op["operationId"] for item in paths.values() for op in item.values()}
    assert {"lead_capture", "lead_profile", "lead_cohort_get", "lead_cohort_override"} <= (
        operation_ids
    )


def test_the_schema_says_what_the_inputs_take(client):
    schemas = client.get(reverse("api-schema"), {"format": "json"}).json()["components"]["schemas"]

    referrer = schemas["LeadCaptureInput"]["properties"]["referrer"]["oneOf"][0]
    assert (referrer["format"], referrer["pattern"]) == ("uri", "^https?://")
    profile_input = [ref["$ref"].rsplit("/", 1)[1] for ref in schemas["LeadProfileInput"]["oneOf"]]
    assert profile_input == ["LeadProfileById", "LeadDetails"]
    assert schemas["LeadProfileById"]["required"] == ["lead_id"]
    assert all(
        schemas[name]["additionalProperties"] is False
        for name in ("LeadCaptureInput", "LeadProfileById", "LeadDetails")
    )


def test_a_form_encoded_body_is_refused_as_unsupported(marketing):
    response = marketing.post(CAPTURE, capture_data())  # multipart, not JSON

    assert response.status_code == 415
    assert Lead.objects.count() == 0


def test_reading_a_cohort_without_key_or_session_is_a_401(anonymous):
    response = anonymous.get(cohort_url(LeadFactory().pk))

    assert response.status_code == 401


def test_an_override_without_a_session_is_a_401(anonymous):
    lead = LeadFactory()

    response = anonymous.put(
        cohort_url(lead.pk), {"cohort": "managed", "reason": "Why not"}, format="json"
    )

    assert response.status_code == 401
