"""Reads for the guided-setup pages (steps 7 to 10): whether a step is open, the persons and
their KYC state, the bank account, the imports, hardware setup availability and what stands
between a merchant and going live. Every list is a fixed number of queries with an explicit
order, whatever its length."""

from dataclasses import dataclass, field
from decimal import Decimal

from django.urls import NoReverseMatch, reverse

from apps.merchants.models import (
    CheckStatus,
    DataImport,
    Merchant,
    MerchantBankAccount,
    MerchantPerson,
    PersonType,
)
from apps.progress.models import (
    DONE_STEP_STATUSES,
    JourneyStep,
    MerchantStepProgress,
    StepStatus,
)

KYC_STEP = 7
DATA_IMPORT_STEP = 8
HARDWARE_SETUP_STEP = 9
FINAL_CONFIG_STEP = 10

# The page serving each step; a step whose page does not exist (yet) links to the dashboard.
STEP_PAGES = {
    3: "merchants:kyb",
    4: "orders:quote",
    5: "orders:quote",
    6: "orders:quote",
    KYC_STEP: "merchants:kyc",
    DATA_IMPORT_STEP: "merchants:data_import",
    HARDWARE_SETUP_STEP: "merchants:hardware_setup",
    FINAL_CONFIG_STEP: "merchants:final_config",
}
FALLBACK_PAGES = ("merchants:dashboard", "accounts:home")

OWNER_TYPES = (PersonType.OWNER, PersonType.BOTH)
REPRESENTATIVE_TYPES = (PersonType.REPRESENTATIVE, PersonType.BOTH)
# A person whose details may still change: never checked, or rejected and to be corrected.
EDITABLE_KYC_STATUSES = (CheckStatus.PENDING, CheckStatus.REJECTED)
# Checks the merchant waits for (the page polls while one is under way).
WAITING_KYC_STATUSES = (CheckStatus.SUBMITTED, CheckStatus.REVIEW_REQUIRED)

HARDWARE_CHECKLIST = (
    ("unbox", "Unbox the hardware"),
    ("card_reader", "Connect the card reader"),
    ("receipt_printer", "Pair the receipt printer"),
    ("test_receipt", "Print a test receipt"),
    ("test_payment", "Test a card payment"),
)
INTEGRATION_CHOICES = (
    ("quickbooks", "QuickBooks (accounting)"),
    ("xero", "Xero (accounting)"),
    ("ecommerce", "E-commerce store"),
    ("loyalty", "Loyalty program"),
)

HARDWARE_WAITS_FOR_STEP_7 = "Hardware setup opens once payments are activated (step 7)."
HARDWARE_IN_TRANSIT = (
    "Your hardware is on its way: this step opens when the shipment is delivered."
)


def step_page_url(step_id: int) -> str:
    for name in (STEP_PAGES.get(step_id), *FALLBACK_PAGES):
        if not name:
            continue
        try:
            return reverse(name)
        except NoReverseMatch:
            continue
    return "/"


@dataclass
class StepGate:
    """Where a merchant stands with one step: `open` when it has started or may start now;
    otherwise `waiting_for` lists the steps to finish first (with their pages)."""

    step: JourneyStep
    progress: MerchantStepProgress | None
    waiting_for: list[JourneyStep] = field(default_factory=list)

    @property
    def open(self) -> bool:
        if self.progress is None:
            return False
        return self.progress.status != StepStatus.PENDING or not self.waiting_for

    @property
    def status(self) -> str:
        return self.progress.status if self.progress else StepStatus.PENDING

    @property
    def done(self) -> bool:
        return self.status in DONE_STEP_STATUSES

    @property
    def waiting_links(self) -> list[tuple[JourneyStep, str]]:
        return [(step, step_page_url(step.id)) for step in self.waiting_for]


def step_gate(*, merchant: Merchant, step_id: int) -> StepGate:
    """Two queries: the step with its dependencies, the merchant's progress rows."""
    step = JourneyStep.objects.prefetch_related("depends_on").get(pk=step_id)
    rows = {
        row.step_id: row
        for row in MerchantStepProgress.objects.filter(merchant=merchant).order_by("step_id")
    }
    waiting = [
        dependency
        for dependency in sorted(step.depends_on.all(), key=lambda s: s.display_order)
        if rows.get(dependency.id) is None or rows[dependency.id].status not in DONE_STEP_STATUSES
    ]
    return StepGate(step=step, progress=rows.get(step_id), waiting_for=waiting)


def step_progress_get(*, merchant: Merchant, step_id: int) -> MerchantStepProgress | None:
    return (
        MerchantStepProgress.objects.select_related("step")
        .filter(merchant=merchant, step_id=step_id)
        .first()
    )


def required_steps_missing(*, merchant: Merchant) -> list[JourneyStep]:
    """The required steps not completed yet, in journey order (what blocks going live)."""
    return [
        row.step
        for row in MerchantStepProgress.objects.filter(merchant=merchant, step__is_required=True)
        .exclude(status=StepStatus.COMPLETED)
        .select_related("step")
        .order_by("step__display_order")
    ]


# --- Step 7: persons and KYC ------------------------------------------------------------------


@dataclass
class KycOverview:
    persons: list[MerchantPerson]
    owners_total: Decimal
    has_representative: bool
    to_submit: list[MerchantPerson]
    waiting: list[MerchantPerson]
    rejected: list[MerchantPerson]


def person_list(*, merchant: Merchant) -> list[MerchantPerson]:
    """The merchant's persons, representatives first, with `send_problem` set on a person
    whose details could not be sent to the payments provider yet (two queries)."""
    from apps.integrations.models import ExternalSystemSync, SyncStatus

    persons = list(
        MerchantPerson.objects.filter(merchant=merchant).order_by(
            "created_at", "last_name", "first_name", "pk"
        )
    )
    failed = set()
    if persons:
        failed = set(
            ExternalSystemSync.objects.filter(
                entity_type="person_kyc",
                external_system="payments",
                entity_id__in=[p.pk for p in persons],
                sync_status=SyncStatus.FAILED,
            ).values_list("entity_id", flat=True)
        )
    for person in persons:
        person.send_problem = person.pk in failed and person.kyc_status == CheckStatus.SUBMITTED
        person.editable = person.kyc_status in EDITABLE_KYC_STATUSES
    return persons


def kyc_overview(*, merchant: Merchant) -> KycOverview:
    persons = person_list(merchant=merchant)
    return KycOverview(
        persons=persons,
        owners_total=sum(
            (p.ownership_percentage or Decimal(0) for p in persons if p.person_type in OWNER_TYPES),
            Decimal(0),
        ),
        has_representative=any(p.person_type in REPRESENTATIVE_TYPES for p in persons),
        to_submit=[p for p in persons if p.kyc_status in EDITABLE_KYC_STATUSES],
        waiting=[p for p in persons if p.kyc_status in WAITING_KYC_STATUSES],
        rejected=[p for p in persons if p.kyc_status == CheckStatus.REJECTED],
    )


def owners_total(*, merchant: Merchant, excluding=None) -> Decimal:
    """The shares the merchant's owners hold, without the person `excluding` (an edit)."""
    persons = MerchantPerson.objects.filter(merchant=merchant, person_type__in=OWNER_TYPES)
    if excluding is not None:
        persons = persons.exclude(pk=excluding)
    return sum(
        (value or Decimal(0) for value in persons.values_list("ownership_percentage", flat=True)),
        Decimal(0),
    )


# --- Bank account -----------------------------------------------------------------------------


def bank_account_current(*, merchant: Merchant) -> MerchantBankAccount | None:
    """The primary payout account (the one that counts for payouts), if any."""
    return (
        MerchantBankAccount.objects.filter(merchant=merchant, is_primary=True)
        .order_by("-created_at")
        .first()
    )


# --- Step 8: data import ----------------------------------------------------------------------


DATA_IMPORT_LIST_LIMIT = 20


def data_import_list(*, merchant: Merchant, limit: int = DATA_IMPORT_LIST_LIMIT):
    """The merchant's latest imports, newest first (one query)."""
    return list(
        DataImport.objects.filter(merchant=merchant).order_by("-created_at", "-pk")[:limit]
    )


def data_import_counts(*, merchant: Merchant) -> dict[str, int]:
    return {
        "products": merchant.imported_products.count(),
        "customers": merchant.imported_customers.count(),
    }


# --- Step 9: hardware setup -------------------------------------------------------------------


@dataclass
class Availability:
    ok: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.ok


def hardware_ordered(*, merchant: Merchant) -> bool | None:
    """True when a paid order of the merchant has hardware, False when it has paid orders
    and none has hardware (software only), None when no order is paid yet (nothing known:
    the checklist is offered)."""
    from apps.orders.models import PAID_AND_LATER, ItemType, Order

    paid = Order.objects.filter(merchant=merchant, status__in=PAID_AND_LATER)
    if not paid.exists():
        return None
    return paid.filter(items__item_type=ItemType.HARDWARE).exists()


def hardware_setup_available(merchant: Merchant) -> Availability:
    """THE rule for step 9 (the orders work changes it only here). Open when step 7 is
    done (its dependency) and either a shipment of the merchant is delivered, or no
    hardware was ordered: software only, or no paid order known to the portal yet (until
    orders land, a finished step 7 is enough)."""
    from apps.orders.models import ShipmentStatus

    gate = step_gate(merchant=merchant, step_id=HARDWARE_SETUP_STEP)
    if not gate.open:
        return Availability(False, HARDWARE_WAITS_FOR_STEP_7)
    if gate.progress is not None and gate.progress.status != StepStatus.PENDING:
        return Availability(True)
    if merchant.shipments.filter(shipment_status=ShipmentStatus.DELIVERED).exists():
        return Availability(True)
    if hardware_ordered(merchant=merchant):
        return Availability(False, HARDWARE_IN_TRANSIT)
    return Availability(True)


def hardware_checklist(progress: MerchantStepProgress | None) -> list[dict]:
    done = ((progress.step_data or {}).get("checklist") or {}) if progress else {}
    return [
        {"key": key, "label": label, "done": bool(done.get(key))}
        for key, label in HARDWARE_CHECKLIST
    ]


def final_config_choices(progress: MerchantStepProgress | None) -> list[str]:
    return list((progress.step_data or {}).get("integrations") or []) if progress else []
