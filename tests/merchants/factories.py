from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from apps.merchants.choices import BusinessStructure, PersonType
from apps.merchants.models import Merchant, MerchantBankAccount, MerchantLocation, MerchantPerson
from tests.accounts.factories import MerchantUserFactory
from tests.leads.factories import LeadFactory

# Sandbox providers decide from the last four digits (0000, 0001, 9999 are special):
# generated numbers end in 1000-8999 so a factory-made merchant is approved by default.


def _last_four(n: int) -> str:
    return f"{1000 + n % 8000:04d}"


def ein_for(n: int) -> str:
    """Unique per n, formatted like 12-3456789."""
    return f"{12 + (n // 8_000_000) % 80:02d}-{(n // 8000 + 345) % 1000:03d}{_last_four(n)}"


def ssn_for(n: int) -> str:
    """Formatted like 123-45-6789."""
    return f"{100 + (n // 8000) % 665:03d}-{10 + (n // 8000) % 89:02d}-{_last_four(n)}"


class MerchantFactory(DjangoModelFactory):
    """A merchant at step 1 with KYB and KYC pending. Statuses may be passed
    (`kyb_status="approved"`); `ein=` goes through Merchant.set_ein."""

    class Meta:
        model = Merchant

    lead = factory.SubFactory(LeadFactory)
    user = factory.SubFactory(MerchantUserFactory, email=factory.SelfAttribute("..lead.email"))
    legal_business_name = factory.SelfAttribute("lead.business_name")
    business_structure = BusinessStructure.LLC
    ein = factory.Sequence(ein_for)
    registered_address_line1 = factory.Faker("street_address")
    registered_city = factory.Faker("city")
    registered_state = factory.Faker("state_abbr", include_territories=False)
    registered_postal_code = factory.Faker("postcode")

    @classmethod
    def _adjust_kwargs(cls, **kwargs):
        # The EIN is encrypted, so only ein_hash can be unique: never store one without
        # the other, the way Merchant.set_ein does it.
        merchant = Merchant()
        merchant.set_ein(kwargs.pop("ein", None))
        return {**kwargs, "ein": merchant.ein, "ein_hash": merchant.ein_hash}


class MerchantLocationFactory(DjangoModelFactory):
    """A non-primary location; pass `is_primary=True` for the primary one."""

    class Meta:
        model = MerchantLocation

    merchant = factory.SubFactory(MerchantFactory)
    location_name = factory.Faker("company")
    location_number = factory.Sequence(lambda n: n + 1)
    address_line1 = factory.Faker("street_address")
    city = factory.Faker("city")
    state = factory.Faker("state_abbr", include_territories=False)
    postal_code = factory.Faker("postcode")
    phone = factory.Faker("numerify", text="+1-###-###-####")
    email = factory.Faker("company_email")


class MerchantPersonFactory(DjangoModelFactory):
    """A representative with an SSN and date of birth; the `owner` trait makes an owner."""

    class Meta:
        model = MerchantPerson

    class Params:
        owner = factory.Trait(person_type=PersonType.OWNER, ownership_percentage=Decimal("50.00"))

    merchant = factory.SubFactory(MerchantFactory)
    person_type = PersonType.REPRESENTATIVE
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"person{n}@example.com")
    phone = factory.Faker("numerify", text="+1-###-###-####")
    ssn = factory.Sequence(ssn_for)
    date_of_birth = factory.Faker("date_of_birth", minimum_age=21, maximum_age=75)
    address_line1 = factory.Faker("street_address")
    city = factory.Faker("city")
    state = factory.Faker("state_abbr", include_territories=False)
    postal_code = factory.Faker("postcode")
    title = "Owner"


class MerchantBankAccountFactory(DjangoModelFactory):
    """A pending primary account (the model's default): a second account for the same
    merchant needs `is_primary=False`."""

    class Meta:
        model = MerchantBankAccount

    merchant = factory.SubFactory(MerchantFactory)
    account_holder_name = factory.SelfAttribute("merchant.legal_business_name")
    account_number = factory.Sequence(lambda n: f"{4_100_000 + n // 8000:07d}{_last_four(n)}")
    routing_number = factory.Faker("aba")
    bank_name = factory.Iterator(["Chase", "Wells Fargo", "Bank of America", "US Bank"])


def account_created_merchant(
    *, lead=None, password: str | None = None, email_verified: bool = True, **lead_fields
):
    """A merchant as account creation (step 2) leaves it: its login (password PASSWORD; its
    email verified, as when created through the emailed account link, unless
    `email_verified=False`), no legal entity details but the name, KYB pending, ten progress
    rows with steps 1-2 done. Needs the journey steps (the `journey_steps` fixture)."""
    from apps.merchants.services.accounts import merchant_account_create
    from tests.accounts.factories import PASSWORD

    lead = lead or LeadFactory(**lead_fields)
    return merchant_account_create(
        lead=lead,
        password=password or PASSWORD,
        legal_business_name=lead.business_name,
        email_proven=email_verified,
    )


# --- Guided setup (steps 7-10) -----------------------------------------------------------------


def merchant_at_setup(*, steps_done=(1, 2, 3, 4, 5, 6), **merchant_fields):
    """A merchant (KYB approved) whose `steps_done` were completed through the progress
    services, every other step pending: by default ready for step 7. Needs the journey
    steps (the `journey_steps` fixture)."""
    from apps.progress.services import merchant_progress_create, step_complete, step_start

    merchant_fields.setdefault("kyb_status", "approved")
    merchant = MerchantFactory(**merchant_fields)
    merchant_progress_create(merchant=merchant)
    for step_id in sorted(steps_done):
        progress = merchant.step_progress.get(step_id=step_id)
        step_start(progress=progress, actor=None)
        step_complete(progress=progress, actor=None)
    merchant.refresh_from_db()
    return merchant


class DataImportFactory(DjangoModelFactory):
    """A completed products import of three rows."""

    class Meta:
        model = "merchants.DataImport"

    merchant = factory.SubFactory(MerchantFactory)
    kind = "products"
    filename = factory.Sequence(lambda n: f"products-{n}.csv")
    row_count = 3
    created_count = 3
    status = "completed"


class ImportedProductFactory(DjangoModelFactory):
    class Meta:
        model = "merchants.ImportedProduct"

    merchant = factory.SubFactory(MerchantFactory)
    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Faker("word")
    price = Decimal("9.99")
    quantity = 10
    category = "Coffee"


class ImportedCustomerFactory(DjangoModelFactory):
    class Meta:
        model = "merchants.ImportedCustomer"

    merchant = factory.SubFactory(MerchantFactory)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    phone = "+1-415-555-0100"
