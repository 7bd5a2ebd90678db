"""Forms of the lead pages: the public Get started form, the staff list filters and the
cohort override. They only parse and check input; the services decide."""

import re
from urllib.parse import urlsplit

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from apps.leads.models import Cohort, LeadStatus
from apps.leads.scoring import SERVED_COUNTRIES, VERTICAL_CHOICES
from apps.merchants.choices import BusinessStructure

MAX_REVENUE = 10**13 - 1  # fits DECIMAL(15, 2)
MAX_LOCATIONS = 10_000
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "campaign_id")
ATTRIBUTION_MAX_LENGTH = 255
REFERRER_MAX_LENGTH = 1000

PHONE_INVALID = (
    "Enter a phone number of 7 to 15 digits; spaces, dashes, dots, brackets and a leading + "
    "are fine."
)
REFERRER_INVALID = "The referring page must be a web address (http or https)."
# An optional leading +, then 7 to 15 digits among spaces, dashes, dots and brackets. The lead
# API's schema publishes it as the phone's pattern (ECMAScript syntax as well as Python's).
PHONE_PATTERN = r"^\+?[ ().\-]*(?:[0-9][ ().\-]*){7,15}$"
_PHONE = re.compile(PHONE_PATTERN)

# Mediums that mean the visit was paid for, for the lead's source.
PAID_MEDIUMS = {"cpc", "ppc", "paid", "paid_social", "paidsocial", "display", "cpm"}


def validate_phone(value: str) -> None:
    if not _PHONE.fullmatch(value):
        raise ValidationError(PHONE_INVALID, code="invalid_phone")


_http_url = URLValidator(schemes=["http", "https"])


def validate_referrer(value: str) -> None:
    try:
        _http_url(value)
    except ValidationError as exc:
        raise ValidationError(REFERRER_INVALID, code="invalid_referrer") from exc


def clean_referrer(value: str | None) -> str:
    """The Referer header as we keep it: a valid http(s) address of at most 1000
    characters, or nothing (a browser may send anything there)."""
    value = (value or "").strip()
    if not value or len(value) > REFERRER_MAX_LENGTH:
        return ""
    try:
        validate_referrer(value)
    except ValidationError:
        return ""
    return value


def clean_attribution(value: str | None) -> str:
    """A UTM value from a query string as we keep it: printable, at most 255 characters."""
    text = "".join(character for character in (value or "") if character.isprintable())
    return text.strip()[:ATTRIBUTION_MAX_LENGTH]


def lead_source(*, utm_medium: str, utm_source: str, referrer: str) -> str:
    """The lead's source (spec: organic, paid, referral, partner) from its attribution."""
    medium = utm_medium.strip().lower()
    if medium in PAID_MEDIUMS:
        return "paid"
    if medium == "partner" or utm_source.strip().lower() == "partner":
        return "partner"
    if medium == "referral":
        return "referral"
    if referrer and not medium and not utm_source:
        host = urlsplit(referrer).hostname or ""
        # Search engines bring organic visits; any other site referred the visitor.
        if not any(engine in host for engine in ("google.", "bing.", "duckduckgo.", "yahoo.")):
            return "referral"
    return "organic"


class LeadCaptureForm(forms.Form):
    """The Get started form. Attribution travels in hidden fields from the first visit."""

    first_name = forms.CharField(max_length=100)
    last_name = forms.CharField(max_length=100)
    email = forms.EmailField(max_length=255)
    phone = forms.CharField(max_length=50, required=False, validators=[validate_phone])
    business_name = forms.CharField(max_length=255)
    business_category = forms.ChoiceField(
        label="Vertical", choices=[("", "Choose…"), *VERTICAL_CHOICES]
    )
    business_type = forms.ChoiceField(choices=[("", "Choose…"), *BusinessStructure.choices])
    annual_revenue_estimate = forms.DecimalField(
        label="Annual revenue estimate (USD)",
        max_digits=15,
        decimal_places=2,
        min_value=0,
        max_value=MAX_REVENUE,
        help_text="What the business sells in a year, roughly.",
    )
    number_of_locations = forms.IntegerField(min_value=1, max_value=MAX_LOCATIONS)
    country_code = forms.ChoiceField(label="Country", choices=SERVED_COUNTRIES, initial="US")
    region = forms.CharField(label="State, province or region", max_length=100, required=False)

    utm_source = forms.CharField(
        max_length=ATTRIBUTION_MAX_LENGTH, required=False, widget=forms.HiddenInput
    )
    utm_medium = forms.CharField(
        max_length=ATTRIBUTION_MAX_LENGTH, required=False, widget=forms.HiddenInput
    )
    utm_campaign = forms.CharField(
        max_length=ATTRIBUTION_MAX_LENGTH, required=False, widget=forms.HiddenInput
    )
    campaign_id = forms.CharField(
        max_length=ATTRIBUTION_MAX_LENGTH, required=False, widget=forms.HiddenInput
    )
    referrer = forms.CharField(
        max_length=REFERRER_MAX_LENGTH,
        required=False,
        widget=forms.HiddenInput,
        validators=[validate_referrer],
    )

    def lead_data(self) -> dict:
        """The cleaned values as lead fields, with the source derived from attribution."""
        data = dict(self.cleaned_data)
        data["source"] = lead_source(
            utm_medium=data["utm_medium"], utm_source=data["utm_source"], referrer=data["referrer"]
        )
        return data


class LeadFilterForm(forms.Form):
    """Search and filters of the staff lead list (a GET form)."""

    q = forms.CharField(label="Email or business name", max_length=255, required=False)
    cohort = forms.ChoiceField(
        choices=[("", "Any cohort"), *Cohort.choices], required=False
    )
    status = forms.ChoiceField(
        choices=[("", "Any status"), *LeadStatus.choices], required=False
    )
    page = forms.IntegerField(min_value=1, required=False, widget=forms.HiddenInput)


class CohortOverrideForm(forms.Form):
    cohort = forms.ChoiceField(choices=Cohort.choices)
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="Kept in the lead's history; the next person reads it.",
    )
