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
