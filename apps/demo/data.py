"""The demo world as data: who signs in, where each of the 36 demo leads stands in its
journey, and what their businesses look like. `demo` builds it through the services."""

from dataclasses import dataclass
from decimal import Decimal

from apps.accounts.roles import AE, COMPLIANCE, IC, MERCHANT, OPS
from apps.leads.models import Cohort
from apps.merchants.choices import BusinessStructure
from apps.progress.models import AlertType

DEMO_PASSWORD = "demo-pass-2026"
SEED = 2026  # Faker and random are seeded with SEED + the lead's number


# --- Users ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DemoUser:
    email: str
    role: str
    first_name: str
    last_name: str
    superuser: bool = False


DEMO_USERS = [
    DemoUser("admin@demo.test", OPS, "Ada", "Admin", superuser=True),
    DemoUser("ops@demo.test", OPS, "Olivia", "Park"),
    DemoUser("ae1@demo.test", AE, "Aaron", "Ellis"),
    DemoUser("ae2@demo.test", AE, "Amara", "Evans"),
    DemoUser("ic@demo.test", IC, "Ivan", "Castro"),
    DemoUser("compliance@demo.test", COMPLIANCE, "Carmen", "Diaz"),
    DemoUser("merchant@demo.test", MERCHANT, "Morgan", "Reyes"),
]


# --- Journeys: where each demo lead stands ----------------------------------------------------
COMPLETED = 11  # past step 10: the journey is complete
# KYB at step 3
SUBMITTED, APPROVED, REJECTED = "submitted", "approved", "rejected"
REVIEW, REVIEW_APPROVED = "review", "review_approved"
# twists: for a lead without merchant, then for a merchant
ASSIGNED, CONTACTED, LOST, DISQUALIFIED = "assigned", "contacted", "lost", "disqualified"
STALLED, ABANDONED, ERRORS = "stalled", "abandoned", "errors"


@dataclass(frozen=True)
class DemoJourney:
    profile: str  # the cohort the lead's size is drawn for (the rules then assign it)
    reached: int | None = None  # None: still a lead; 2-10: step in progress; 11: completed
    kyb: str = APPROVED
    twist: str = ""
    login: bool = False  # merchant@demo.test signs in as this merchant


_SS, _AS, _MG = Cohort.SELF_SERVE, Cohort.ASSISTED, Cohort.MANAGED
DEMO_JOURNEYS = [
    DemoJourney(_SS, reached=7, login=True),  # 01 KYC waiting for the provider
    DemoJourney(_SS),  # 02
    DemoJourney(_SS),  # 03
    DemoJourney(_SS, twist=LOST),  # 04
    DemoJourney(_SS),  # 05
    DemoJourney(_SS, reached=2),  # 06
    DemoJourney(_SS, reached=3, kyb=SUBMITTED),  # 07 KYB waiting for the provider
    DemoJourney(_SS, reached=3, kyb=REJECTED),  # 08
    DemoJourney(_SS, reached=4, twist=STALLED),  # 09 in the IC intervention queue
    DemoJourney(_SS, reached=5, twist=ABANDONED),  # 10
    DemoJourney(_SS, reached=6),  # 11 quote waiting for payment
    DemoJourney(_SS, reached=8, twist=ERRORS),  # 12 data import failing
    DemoJourney(_SS, reached=9),  # 13 hardware in transit
    DemoJourney(_SS, reached=COMPLETED),  # 14
    DemoJourney(_AS),  # 15 queued for an AE
    DemoJourney(_AS, twist=ASSIGNED),  # 16
    DemoJourney(_AS, twist=CONTACTED),  # 17
    DemoJourney(_AS, twist=DISQUALIFIED),  # 18
    DemoJourney(_AS, reached=2),  # 19
    DemoJourney(_AS, reached=3, kyb=REVIEW),  # 20 in the compliance review queue
    DemoJourney(_AS, reached=4),  # 21
    DemoJourney(_AS, reached=5, twist=STALLED),  # 22
    DemoJourney(_AS, reached=6),  # 23
    DemoJourney(_AS, reached=7),  # 24
    DemoJourney(_AS, reached=10),  # 25
    DemoJourney(_AS, reached=COMPLETED),  # 26
    DemoJourney(_MG),  # 27 queued, high priority
    DemoJourney(_MG, twist=ASSIGNED),  # 28
    DemoJourney(_MG, twist=CONTACTED),  # 29
    DemoJourney(_MG, reached=3, kyb=REVIEW),  # 30
    DemoJourney(_MG, reached=3, kyb=REJECTED),  # 31
    DemoJourney(_MG, reached=4, kyb=REVIEW_APPROVED),  # 32 approved by compliance
    DemoJourney(_MG, reached=6),  # 33
    DemoJourney(_MG, reached=7),  # 34
    DemoJourney(_MG, reached=9),  # 35
    DemoJourney(_MG, reached=COMPLETED),  # 36
]


def demo_lead_email(index: int) -> str:
    return f"demo-lead-{index:02d}@demo.test"


# --- What leads look like ---------------------------------------------------------------------
# annual GTV range (USD), locations range
PROFILES = {
    _SS: ((60_000, 450_000), (1, 1)),
    _AS: ((500_000, 1_900_000), (1, 6)),
    _MG: ((2_000_000, 15_000_000), (3, 25)),
}
WORDS = ["Juniper", "Harbor", "Copper", "Oak", "Saffron", "Maple", "Heron", "Granite",
         "Willow", "Lantern", "Cedar", "Olive", "Driftwood", "Ember", "Fern", "Summit",
         "Birch", "Cobalt", "Marigold", "Foxglove", "Tidewater", "Alder", "Sparrow",
         "Basalt"]  # fmt: skip
# vertical: business name patterns
VERTICALS = {
    "restaurant": ["{last}'s Kitchen", "{city} Taqueria", "The {word} Bistro", "{word} & Vine"],
    "retail": ["{word} Outfitters", "{last} Hardware", "{city} Bike Co.", "{word} Boutique"],
    "golf": ["{city} Golf Club", "{word} Links", "{last} Country Club"],
    "cafe": ["{word} Coffee Roasters", "{last}'s Bakery", "{word} Tea House"],
    "bar": ["The {word} Tap Room", "{last}'s Brewing Co.", "{word} Wine Bar"],
}
# state, city, time zone
PLACES = [
    ("CA", "Oakland", "America/Los_Angeles"),
    ("NY", "Brooklyn", "America/New_York"),
    ("TX", "Austin", "America/Chicago"),
    ("FL", "Tampa", "America/New_York"),
    ("IL", "Chicago", "America/Chicago"),
    ("WA", "Seattle", "America/Los_Angeles"),
    ("CO", "Denver", "America/Denver"),
    ("GA", "Atlanta", "America/New_York"),
    ("MA", "Boston", "America/New_York"),
    ("OR", "Portland", "America/Los_Angeles"),
    ("AZ", "Phoenix", "America/Phoenix"),
    ("PA", "Philadelphia", "America/New_York"),
]
# source, utm_source, utm_medium, utm_campaign, referrer
MARKETING = [
    ("paid", "google", "cpc", "pos-search-2026", "https://www.google.com/"),
    ("paid", "facebook", "paid_social", "restaurant-spring-2026", "https://www.facebook.com/"),
    ("organic", "", "", "", "https://www.google.com/"),
    ("referral", "partner", "referral", "accountant-program", "https://partners.example.com/"),
    ("event", "trade_show", "event", "nra-show-2026", ""),
    ("email", "newsletter", "email", "retail-digest-may", ""),
]
BUSINESS_STRUCTURES = [  # weighted: mostly LLCs
    BusinessStructure.LLC,
    BusinessStructure.LLC,
    BusinessStructure.LLC,
    BusinessStructure.CORPORATION,
    BusinessStructure.CORPORATION,
    BusinessStructure.PARTNERSHIP,
    BusinessStructure.SOLE_PROPRIETOR,
]
LEGAL_SUFFIX = {
    BusinessStructure.LLC: "LLC",
    BusinessStructure.CORPORATION: "Inc.",
    BusinessStructure.PARTNERSHIP: "LP",
    BusinessStructure.SOLE_PROPRIETOR: "",
    BusinessStructure.NON_PROFIT: "Foundation",
}
EIN_PREFIXES = [12, 20, 26, 27, 30, 33, 45, 46, 47, 81, 82, 83, 84, 85, 86, 87, 88]
BANKS = ["Chase", "Bank of America", "Wells Fargo", "US Bank", "PNC", "Truist"]

# --- What they buy ----------------------------------------------------------------------------
TIER_BY_COHORT = {_SS: "SW-LEAN", _AS: "SW-CORE", _MG: "SW-PLUS"}
HARDWARE_PER_REGISTER = ["HW-IPAD-STAND", "HW-RECEIPT-PRINTER", "HW-CASH-DRAWER", "HW-CARD-READER"]
HARDWARE_BY_VERTICAL = {  # sku, per register (else per location)
    "retail": ("HW-BARCODE-SCANNER", True),
    "restaurant": ("HW-KITCHEN-PRINTER", False),
    "bar": ("HW-KITCHEN-PRINTER", False),
}

# --- Routing (DESIGN.md rule 6) ---------------------------------------------------------------
HIGH_PRIORITY_GTV = Decimal(2_000_000)
HIGH_PRIORITY_LOCATIONS = 10
# Stall alerts: their thresholds come from the seeded StallPolicy rows.
ALERT_TYPES = {
    STALLED: AlertType.STALLED,
    ABANDONED: AlertType.ABANDONED,
    ERRORS: AlertType.ERROR_THRESHOLD,
}
