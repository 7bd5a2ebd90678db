"""Shared setup for the order tests: the seeded catalog and tax table, merchants brought to
step 4 through the services (KYB approved by the provider), and a paid order."""

import pytest

from apps.demo.reference import products_seed, routing_queues_seed, tax_rates_seed
from apps.leads.models import Cohort
from apps.merchants.choices import CheckStatus
from apps.merchants.services.kyb import merchant_kyb_submit
from tests.merchants.factories import MerchantFactory, MerchantLocationFactory
from tests.orders.helpers import journey_until, kyb_approve


@pytest.fixture
def catalog(db):
    products_seed()
    tax_rates_seed()


@pytest.fixture
def queues(db):
    routing_queues_seed()


@pytest.fixture
def make_merchant(db, journey_steps, catalog):
    """make_merchant(kyb="approved", cohort="self_serve", state="CA", locations=1, ...) → a
    merchant whose journey reached step 4 (steps 1-3 completed), KYB as asked."""

    def make(
        *,
        kyb: str = CheckStatus.APPROVED,
        cohort: str = Cohort.SELF_SERVE,
        state: str = "CA",
        postal_code: str = "94107",
        locations: int = 1,
        journey: int = 3,
    ):
        merchant = MerchantFactory(
            cohort=cohort,
            lead__cohort=cohort,
            registered_state=state,
            registered_postal_code=postal_code,
        )
        for number in range(1, locations + 1):
            MerchantLocationFactory(
                merchant=merchant,
                location_number=number,
                is_primary=number == 1,
                state=state,
                postal_code=postal_code,
            )
        if kyb == CheckStatus.APPROVED:
            kyb_approve(merchant)
        elif kyb == CheckStatus.SUBMITTED:
            merchant_kyb_submit(merchant=merchant, actor=merchant.user)
        journey_until(merchant, journey)
        merchant.refresh_from_db()
        return merchant

    return make


