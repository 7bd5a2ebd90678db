"""The lead API (spec/system-architecture.md "Lead Profiling Engine"):

    POST /api/v1/leads                 marketing system: capture a lead (API key)
    POST /api/v1/leads/profile         profile a lead by id, or preview the profile of details
    GET  /api/v1/leads/{id}/cohort     the lead's cohort, scores and why
    PUT  /api/v1/leads/{id}/cohort     an AE overrides the cohort (staff session)

The marketing system authenticates with an API key (djangorestframework-api-key) sent as
`Authorization: Api-Key <key>`; staff use their signed-in session (with its CSRF token).
No key or session: 401 (`WWW-Authenticate: Api-Key`); refusals come back as {"detail"}
(and "code" for the domain's refusals) with 403, 404 or 409; bad input as 400 with the
errors per field. Bodies are JSON.
"""

import re

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerExtension,
)
from drf_spectacular.utils import (
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.fields import empty
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_api_key.models import APIKey
from rest_framework_api_key.permissions import HasAPIKey, KeyParser

from apps.leads import forms, selectors, services
from apps.leads.forms import (
    ATTRIBUTION_MAX_LENGTH,
    MAX_LOCATIONS,
    MAX_REVENUE,
    PHONE_INVALID,
    PHONE_PATTERN,
    REFERRER_INVALID,
    REFERRER_MAX_LENGTH,
)
from apps.leads.models import Cohort
from apps.leads.scoring import SERVED_COUNTRIES, VERTICAL_CHOICES
from apps.merchants.choices import BusinessStructure

API_KEY_INVALID = "This API key is not valid: it is unknown, revoked or expired."
API_KEY_REQUIRED = "Send the marketing system's API key: Authorization: Api-Key <key>."
STAFF_OR_KEY_REQUIRED = (
    "Send the marketing system's API key, or sign in as staff allowed to see leads."
)
OVERRIDE_NOT_ALLOWED = "Sign in as an account executive allowed to override cohorts."
PROFILE_SAVE_NOT_ALLOWED = (
    "Profiling a saved lead needs the marketing API key or the permission to change leads."
)
UNKNOWN_FIELD = "Unknown field."
WRONG_JSON_TYPE = "Send this field as a JSON {expected}, as the API schema says."
ID_OR_DETAILS = "Send either lead_id (profile that lead) or lead details (preview), not both."
LEAD_NOT_FOUND = "No lead with this id."


# --- Authentication and permissions ------------------------------------------------------------


class MarketingApiKeyAuthentication(BaseAuthentication):
    """Reads `Authorization: Api-Key <key>`. No such header: not this scheme (None). A key
    that is unknown, revoked or expired: 401. A valid key: the request is the marketing
    system's (an anonymous user, the key as request.auth)."""

    key_parser = KeyParser()

    def authenticate(self, request):
        key = self.key_parser.get(request)
        if not key:
            return None
        try:
            api_key = APIKey.objects.get_from_key(key)
        except APIKey.DoesNotExist:
            raise exceptions.AuthenticationFailed(API_KEY_INVALID) from None
        if api_key.has_expired:
            raise exceptions.AuthenticationFailed(API_KEY_INVALID)
        return AnonymousUser(), api_key

    def authenticate_header(self, request):
        return self.key_parser.keyword


class MarketingApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = MarketingApiKeyAuthentication
    name = "marketingApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`: ops create keys in the admin (API keys).",
        }


class HasMarketingApiKey(HasAPIKey):
    message = API_KEY_REQUIRED

    def has_permission(self, request, view):
        # Authenticated by MarketingApiKeyAuthentication: the key was just looked up and
        # found usable (not revoked, not expired); a second lookup and hash would cost as much.
        if _uses_api_key(request) and isinstance(request.auth, APIKey):
            return True
        return super().has_permission(request, view)


class CanViewLeads(BasePermission):
    message = STAFF_OR_KEY_REQUIRED

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm("leads.view_lead"))


class CanOverrideCohort(BasePermission):
    message = OVERRIDE_NOT_ALLOWED

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm("leads.override_cohort"))


def _uses_api_key(request) -> bool:
    return isinstance(request.successful_authenticator, MarketingApiKeyAuthentication)


# --- Serializers shared by the endpoints -------------------------------------------------------


class _LowercaseChoiceField(serializers.ChoiceField):
    def to_internal_value(self, data):
        return super().to_internal_value(data.strip().lower() if isinstance(data, str) else data)


class _UppercaseChoiceField(serializers.ChoiceField):
    def to_internal_value(self, data):
        return super().to_internal_value(data.strip().upper() if isinstance(data, str) else data)


# Revenue as text: up to MAX_REVENUE (13 nines) with up to 2 decimals (".00" only at 13
# digits); empty text means unknown, like null.
REVENUE_TEXT = r"^(?:\d{1,12}(?:\.\d{1,2})?|\d{13}(?:\.00?)?)?$"


@extend_schema_field(
    {
        "oneOf": [
            {"type": "integer", "minimum": 0, "maximum": MAX_REVENUE},
            {"type": "string", "pattern": REVENUE_TEXT},
        ]
    }
)
class _RevenueField(serializers.DecimalField):
    """An amount as the schema says the field takes it: a whole number, or text matching
    REVENUE_TEXT exactly."""

    def run_validation(self, data=empty):
        value = super().run_validation(data)  # its own messages first: range, decimals...
        # ...then what DecimalField alone lets through and the schema does not: " 5 ", "1e3".
        if isinstance(data, str) and not re.fullmatch(REVENUE_TEXT, data):
            self.fail("invalid")
        return value


def _json_type(field) -> tuple[tuple[type, ...], str] | None:
    """The JSON types a field takes as its schema says them, and their name for a message."""
    if isinstance(field, serializers.DecimalField):
        return (int, str), "integer or string"
    if isinstance(field, serializers.IntegerField):
        return (int,), "integer"
    if isinstance(field, serializers.CharField | serializers.ChoiceField | serializers.UUIDField):
        return (str,), "string"
    return None


def _as_sent_error(field, value) -> str | None:
    """What the schema refuses in a value as sent, that DRF would let through: another JSON
    type (DRF turns a number into text and numeric text into a number), or text longer than
    maxLength before DRF trims its surrounding whitespace."""
    json_type = _json_type(field)
    if value is None or json_type is None:
        return None
    types, expected = json_type
    if isinstance(value, bool) or not isinstance(value, types):
        return WRONG_JSON_TYPE.format(expected=expected)
    max_length = getattr(field, "max_length", None)
    if isinstance(value, str) and max_length is not None and len(value) > max_length:
        return field.error_messages["max_length"].format(max_length=max_length)
    return None


class StrictInputSerializer(serializers.Serializer):
    """An input that takes what its schema says and nothing else. Unknown keys are refused,
    so that a misspelt field is an error instead of silently lost data (the schema says
    `additionalProperties: false`), and each value is judged as sent (_as_sent_error)
    before DRF converts it."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            wrong = {}
            for name, field in self.fields.items():
                error = _as_sent_error(field, data.get(name))
                if error:
                    wrong[name] = [error]
            if wrong:
                raise serializers.ValidationError(wrong)
        return super().to_internal_value(data)

    def validate(self, attrs):
        if isinstance(self.initial_data, dict):
            unknown = sorted(set(self.initial_data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: [UNKNOWN_FIELD] for name in unknown})
        return attrs


class StrictInputScheme(OpenApiSerializerExtension):
    target_class = StrictInputSerializer
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        return {**schema, "additionalProperties": False}


class LeadDetailsSerializer(StrictInputSerializer):
    """The lead's details as the marketing system sends them."""

    first_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    phone = serializers.RegexField(
        PHONE_PATTERN,
        max_length=50,
        required=False,
        allow_blank=True,
        error_messages={"invalid": PHONE_INVALID},
    )
    business_name = serializers.CharField(max_length=255, required=False, allow_blank=True)
    business_category = _LowercaseChoiceField(
        choices=VERTICAL_CHOICES, required=False, help_text="The vertical."
    )
    business_type = _LowercaseChoiceField(choices=BusinessStructure.choices, required=False)
    annual_revenue_estimate = _RevenueField(
        max_digits=15,
        decimal_places=2,
        min_value=0,
        max_value=MAX_REVENUE,
        required=False,
        allow_null=True,
        help_text="Annual GTV estimate in USD: a whole number, or text with up to 2 decimals.",
    )
    number_of_locations = serializers.IntegerField(
        min_value=1, max_value=MAX_LOCATIONS, required=False, allow_null=True
    )
    country_code = _UppercaseChoiceField(
        choices=SERVED_COUNTRIES, required=False, help_text="ISO 3166 code of a served market."
    )
    region = serializers.CharField(max_length=100, required=False, allow_blank=True)

    class Meta:
        ref_name = "LeadDetails"


@extend_schema_field({"type": "string", "format": "uri", "pattern": "^https?://"})
class WebPageUrlField(serializers.URLField):
    """The address of a web page: http or https (URLField alone also takes ftp)."""

    default_error_messages = {"invalid": REFERRER_INVALID}

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        forms.validate_referrer(value)
        return value


class LeadCaptureInputSerializer(LeadDetailsSerializer):
    external_lead_id = serializers.CharField(
        max_length=255,
        required=False,
        allow_blank=True,
        help_text="The marketing system's id: a repeat with it updates the same lead.",
    )
    email = serializers.EmailField(max_length=255)
    source = serializers.SlugField(
        max_length=50, required=False, allow_blank=True, help_text="organic, paid, referral..."
    )
    campaign_id = serializers.CharField(
        max_length=ATTRIBUTION_MAX_LENGTH, required=False, allow_blank=True
    )
    utm_source = serializers.CharField(
        max_length=ATTRIBUTION_MAX_LENGTH, required=False, allow_blank=True
    )
    utm_medium = serializers.CharField(
        max_length=ATTRIBUTION_MAX_LENGTH, required=False, allow_blank=True
    )
    utm_campaign = serializers.CharField(
        max_length=ATTRIBUTION_MAX_LENGTH, required=False, allow_blank=True
    )
    referrer = WebPageUrlField(
        max_length=REFERRER_MAX_LENGTH,
        required=False,
        allow_blank=True,
        help_text="The page the visitor came from (http or https).",
    )

    class Meta:
        ref_name = "LeadCaptureInput"


class _RuleSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    rule_name = serializers.CharField()
    priority = serializers.IntegerField()

    class Meta:
        ref_name = "LeadMatchedRule"


class _OverrideSerializer(serializers.Serializer):
    overridden_at = serializers.DateTimeField()
    overridden_by = serializers.EmailField(allow_null=True)
    reason = serializers.CharField()

    class Meta:
        ref_name = "LeadCohortOverride"


class LeadProfileOutputSerializer(serializers.Serializer):
    lead_id = serializers.UUIDField(allow_null=True, help_text="Null for a preview.")
    saved = serializers.BooleanField(help_text="False for a preview: nothing was stored.")
    cohort = serializers.ChoiceField(choices=Cohort.choices, allow_null=True)
    selling_plan = serializers.CharField(allow_blank=True)
    setup_plan = serializers.CharField(allow_blank=True)
    gtv_score = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)
    complexity_score = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)
    risk_score = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)
    score_inputs = serializers.DictField(help_text="What each score read and its points.")
    matched_rule = _RuleSerializer(allow_null=True, help_text="Null: the self-serve fallback.")
    cohort_reason = serializers.CharField(allow_blank=True)
    profiled_at = serializers.DateTimeField(allow_null=True)
    override = _OverrideSerializer(allow_null=True, help_text="Null unless an AE overrode it.")

    class Meta:
        ref_name = "LeadProfile"


def _rule_data(rule) -> dict | None:
    if rule is None:
        return None
    return {"id": rule.pk, "rule_name": rule.rule_name, "priority": rule.priority}


def lead_profile_data(lead) -> dict:
    override = None
    if lead.is_cohort_overridden:
        override = {
            "overridden_at": lead.cohort_overridden_at,
            "overridden_by": lead.cohort_overridden_by.email if lead.cohort_overridden_by else None,
            "reason": lead.cohort_override_reason,
        }
    return {
        "lead_id": lead.pk,
        "saved": True,
        "cohort": lead.cohort,
        "selling_plan": lead.selling_plan,
        "setup_plan": lead.setup_plan,
        "gtv_score": lead.gtv_score,
        "complexity_score": lead.complexity_score,
        "risk_score": lead.risk_score,
        "score_inputs": lead.score_inputs,
        "matched_rule": _rule_data(lead.matched_rule),
        "cohort_reason": lead.cohort_reason,
        "profiled_at": lead.profiled_at,
        "override": override,
    }


def _preview_data(profile) -> dict:
    decision = profile.decision
    return {
        "lead_id": None,
        "saved": False,
        "cohort": decision.cohort,
        "selling_plan": decision.selling_plan,
        "setup_plan": decision.setup_plan,
        "gtv_score": profile.gtv_score,
        "complexity_score": profile.complexity_score,
        "risk_score": profile.risk_score,
        "score_inputs": profile.score_inputs,
        "matched_rule": _rule_data(decision.rule),
        "cohort_reason": decision.reason,
        "profiled_at": None,
        "override": None,
    }


def _profile_response(lead, *, status_code=status.HTTP_200_OK) -> Response:
    lead = selectors.lead_profile_get(lead_id=lead.pk)
    return Response(LeadProfileOutputSerializer(lead_profile_data(lead)).data, status=status_code)


_ERROR = inline_serializer("LeadApiError", {"detail": serializers.CharField()})


# --- Endpoints ---------------------------------------------------------------------------------


class LeadCaptureApi(APIView):
    authentication_classes = [MarketingApiKeyAuthentication]
    permission_classes = [HasMarketingApiKey]

    InputSerializer = LeadCaptureInputSerializer
    OutputSerializer = LeadProfileOutputSerializer

    @extend_schema(
        operation_id="lead_capture",
        summary="Capture a lead (marketing system)",
        description=(
            "Creates the lead, or updates the one with the same external_lead_id or email "
            "(case-insensitive), then profiles it. Never duplicates a lead: an "
            "external_lead_id and an email naming two different leads are refused (409) "
            "and nothing changes. Blank values never erase stored ones; attribution (source, "
            "campaign, UTM, referrer) stays as first captured. Unknown fields are refused."
        ),
        request=LeadCaptureInputSerializer,
        responses={
            201: OpenApiResponse(LeadProfileOutputSerializer, description="Created, profiled."),
            200: OpenApiResponse(LeadProfileOutputSerializer, description="Existing lead updated."),
            400: OpenApiResponse(description="Bad input: the errors per field."),
            401: OpenApiResponse(_ERROR, description="No API key, or not a valid one."),
            409: OpenApiResponse(_ERROR, description="The id and the email name two leads."),
        },
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        lead, created = services.lead_capture(data=serializer.validated_data, actor=None)
        return _profile_response(
            lead, status_code=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class LeadProfileByIdSerializer(StrictInputSerializer):
    """A saved lead to profile, by its id alone."""

    lead_id = serializers.UUIDField(
        help_text="Profile this saved lead (its stored details are used)."
    )

    class Meta:
        ref_name = "LeadProfileById"


class LeadProfileApi(APIView):
    authentication_classes = [MarketingApiKeyAuthentication, SessionAuthentication]
    permission_classes = [HasMarketingApiKey | CanViewLeads]

    class InputSerializer(LeadDetailsSerializer):
        """Either shape of the schema's `LeadProfileInput` (one of a lead id alone, or lead
        details), checked here in one serializer so that both get the same errors."""

        lead_id = serializers.UUIDField(required=False)

        def validate(self, attrs):
            attrs = super().validate(attrs)
            if "lead_id" in attrs and len(attrs) > 1:
                raise serializers.ValidationError(ID_OR_DETAILS)
            return attrs

    OutputSerializer = LeadProfileOutputSerializer

    @extend_schema(
        operation_id="lead_profile",
        summary="Profile a lead, or preview a profile",
        description=(
            "With `lead_id`: profiles that saved lead now (scores, cohort, plans; events "
            "lead.profiled and, if the cohort changes, lead.cohort_changed) and returns its "
            "profile; needs the API key or staff allowed to change leads. An overridden lead "
            "keeps its cohort. A closed lead is refused (409). Without `lead_id`: the body is "
            "lead details and the answer is the profile they WOULD get now, with nothing "
            "saved (`saved: false`); the API key or any staff allowed to see leads."
        ),
        request=PolymorphicProxySerializer(
            component_name="LeadProfileInput",
            serializers=[LeadProfileByIdSerializer, LeadDetailsSerializer],
            resource_type_field_name=None,
        ),
        responses={
            200: OpenApiResponse(LeadProfileOutputSerializer),
            400: OpenApiResponse(description="Bad input: the errors per field."),
            401: OpenApiResponse(_ERROR, description="Neither the API key nor a session."),
            403: OpenApiResponse(_ERROR, description="Signed in, but not allowed."),
            404: OpenApiResponse(_ERROR, description="No lead with this id."),
            409: OpenApiResponse(_ERROR, description="The lead is closed."),
        },
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        lead_id = data.pop("lead_id", None)
        if lead_id is None:
            profile = services.lead_profile_preview(data=data)
            return Response(self.OutputSerializer(_preview_data(profile)).data)
        if not _uses_api_key(request) and not request.user.has_perm("leads.change_lead"):
            raise exceptions.PermissionDenied(PROFILE_SAVE_NOT_ALLOWED)
        lead = selectors.lead_get(lead_id=lead_id)
        if lead is None:
            raise exceptions.NotFound(LEAD_NOT_FOUND)
        actor = request.user if request.user.is_authenticated else None
        lead = services.lead_profile(lead=lead, actor=actor, reason="API")
        return _profile_response(lead)


class LeadCohortApi(APIView):
    authentication_classes = [MarketingApiKeyAuthentication, SessionAuthentication]

    class InputSerializer(StrictInputSerializer):
        cohort = serializers.ChoiceField(choices=Cohort.choices)
        reason = serializers.CharField(
            max_length=2000, help_text="Why: kept in the lead's history."
        )

        class Meta:
            ref_name = "LeadCohortOverrideInput"

    OutputSerializer = LeadProfileOutputSerializer

    def get_permissions(self):
        if self.request.method == "PUT":
            return [CanOverrideCohort()]
        return [(HasMarketingApiKey | CanViewLeads)()]

    def _lead(self, lead_id):
        lead = selectors.lead_profile_get(lead_id=lead_id)
        if lead is None:
            raise exceptions.NotFound(LEAD_NOT_FOUND)
        return lead

    @extend_schema(
        operation_id="lead_cohort_get",
        summary="A lead's cohort, scores and why",
        responses={
            200: OpenApiResponse(LeadProfileOutputSerializer),
            401: OpenApiResponse(_ERROR, description="Neither the API key nor a session."),
            403: OpenApiResponse(_ERROR, description="Signed in, but not allowed."),
            404: OpenApiResponse(_ERROR, description="No lead with this id."),
        },
    )
    def get(self, request, lead_id):
        return Response(self.OutputSerializer(lead_profile_data(self._lead(lead_id))).data)

    @extend_schema(
        operation_id="lead_cohort_override",
        auth=[{"cookieAuth": []}],  # not the API key: an AE's own session
        summary="Override a lead's cohort (AE)",
        description=(
            "Sets the cohort by hand with a mandatory reason, kept in the lead's history; "
            "the selling and setup plans follow the cohort (self_serve → self_serve/"
            "self_serve, assisted → ae_assisted/ic_free, managed → ae_managed/ic_paid). "
            "Re-profiling never undoes it. Emits lead.cohort_changed when the cohort changes. "
            "Staff session with the override permission (AEs) only."
        ),
        request=InputSerializer,
        responses={
            200: OpenApiResponse(LeadProfileOutputSerializer),
            400: OpenApiResponse(description="Unknown cohort or no reason: errors per field."),
            401: OpenApiResponse(_ERROR, description="Not signed in."),
            403: OpenApiResponse(_ERROR, description="Not allowed to override cohorts."),
            404: OpenApiResponse(_ERROR, description="No lead with this id."),
            409: OpenApiResponse(_ERROR, description="The lead is disqualified or lost."),
        },
    )
    def put(self, request, lead_id):
        lead = self._lead(lead_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        lead = services.lead_cohort_override(
            lead=lead,
            cohort=serializer.validated_data["cohort"],
            reason=serializer.validated_data["reason"],
            actor=request.user,
        )
        return _profile_response(lead)
