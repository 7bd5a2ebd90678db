from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from apps.leads.models import Lead


class LeadFactory(DjangoModelFactory):
    """A new, not yet profiled lead (cohort None): pass `cohort=` for a profiled one."""

    class Meta:
        model = Lead

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"owner{n}@example.com")
    phone = factory.Faker("numerify", text="+1-###-###-####")
    business_name = factory.Faker("company")
    business_category = factory.Iterator(["restaurant", "retail", "golf"])
    business_type = "llc"
    annual_revenue_estimate = Decimal("350000.00")
    number_of_locations = 1
    country_code = "US"
    region = factory.Faker("state_abbr", include_territories=False)
    timezone = "America/New_York"
    source = "organic"


def api_key(*, name: str = "marketing", **extra) -> str:
    """A fresh marketing API key (djangorestframework-api-key); returns the secret."""
    from rest_framework_api_key.models import APIKey

    _row, key = APIKey.objects.create_key(name=name, **extra)
    return key


# Details of a lead as the Get started form and the capture API take them.
def capture_data(**overrides) -> dict:
    data = {
        "first_name": "Ana",
        "last_name": "Silva",
        "email": "ana@copperbistro.example",
        "phone": "+1 415 555 0100",
        "business_name": "Copper Bistro",
        "business_category": "restaurant",
        "business_type": "llc",
        "annual_revenue_estimate": "750000",
        "number_of_locations": 3,
        "country_code": "US",
        "region": "CA",
    }
    data.update(overrides)
    return data
