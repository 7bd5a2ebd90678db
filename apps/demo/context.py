"""What one demo lead is built with: the reference data seed_rules made (Reference) and the
lead being built with everything hanging off it (Demo), shared by the lead and journey
builders."""

import random
from dataclasses import dataclass, field
from decimal import Decimal

from faker import Faker

from apps.accounts.models import User
from apps.demo.data import (
    DemoJourney,
)
from apps.demo.reference import INTERVENTION_QUEUE
from apps.leads.models import Lead
from apps.leads.selectors import cohort_rule_active_list
from apps.merchants.models import Merchant, MerchantLocation
from apps.orders.models import HardwareShipment, Order, Product, TaxRate
from apps.progress.models import (
    JourneyStep,
    MerchantStepProgress,
    StallPolicy,
)
from apps.routing.models import CohortRule, QueueAssignment, RoutingQueue

REFERENCE_MISSING = "Reference data is missing: run manage.py seed_rules first."


class ReferenceDataMissing(Exception):
    pass


REASON = "seed_demo"
CENT = Decimal("0.01")


# --- Reference data the demo needs ------------------------------------------------------------
@dataclass
class Reference:
    users: dict[str, User]
    queues: dict[str, RoutingQueue]
    products: dict[str, Product]
    tax_rates: dict[str, Decimal]
    rules: list[CohortRule]
    stall_policies: dict[str, StallPolicy]

    @property
    def agents(self) -> list[User]:
        return [self.users["ae1@demo.test"], self.users["ae2@demo.test"]]


def reference_load(users: dict[str, User]) -> Reference:
    """Everything seed_rules makes; a clear error when it has not run."""
    queues = {queue.code: queue for queue in RoutingQueue.objects.all()}
    needed = {"ae_high_priority", "ae_standard", "ic_onboarding", INTERVENTION_QUEUE}
    if JourneyStep.objects.count() != 10 or not needed <= set(queues):
        raise ReferenceDataMissing(REFERENCE_MISSING)
    return Reference(
        users=users,
        queues=queues,
        products={product.sku: product for product in Product.objects.filter(is_active=True)},
        tax_rates=dict(TaxRate.objects.filter(country="US").values_list("state", "rate")),
        rules=cohort_rule_active_list(),
        stall_policies={policy.cohort: policy for policy in StallPolicy.objects.all()},
    )


# --- One lead and everything after it ---------------------------------------------------------
@dataclass
class Demo:
    """The lead being built and what hangs off it."""

    index: int
    journey: DemoJourney
    ref: Reference
    fake: Faker
    rng: random.Random
    lead: Lead | None = None
    vertical: str = ""
    agent: User | None = None
    ae_assignment: QueueAssignment | None = None
    ic_assignment: QueueAssignment | None = None
    merchant: Merchant | None = None
    progress: dict[int, MerchantStepProgress] = field(default_factory=dict)
    location: MerchantLocation | None = None
    order: Order | None = None
    shipment: HardwareShipment | None = None

    @property
    def actor(self):
        """Who acts on the merchant's own steps: its login, or the system."""
        return self.merchant.user if self.merchant else None

    @property
    def policy(self) -> StallPolicy:
        return self.ref.stall_policies[self.merchant.cohort]

    @property
    def skips_optional(self) -> bool:
        return self.index % 2 == 0
