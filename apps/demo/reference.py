"""Reference data: the rows the portal reads its rules from (`manage.py seed_rules`).

These tables are the source of truth for the seeded rows. A re-run puts every seeded row
back to the values below (an ops edit in the admin is undone) and saves only rows that
differ, so a second run writes nothing: no new rows and no new history rows. Rows that are
not in these tables (a rule or queue ops added) are left alone.
"""

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.auth.models import Group
from django.db import models, transaction
from django.utils.module_loading import import_string
from django_q.models import Schedule

from apps.accounts.roles import ROLES, roles_sync
from apps.core.fsm import save_tracked
from apps.core.jobs import PERIODIC_JOBS
from apps.leads.models import Cohort, SellingPlan, SetupPlan, Stage
from apps.orders.models import Product, TaxRate
from apps.orders.models.catalog import BillingPeriod, ItemType, PricingUnit
from apps.progress.models import JourneyStep, StallPolicy
from apps.routing.models import CohortRule, QueueType, RoutingQueue

REASON = "seed_rules"

# --- Journey steps (spec/data-models.md "journey_steps", seed data) -------------------------
# id, name, stage, required, depends on, minutes, icon, description
JOURNEY_STEPS = [
    (1, "Browse and Buy Decision", Stage.QUALIFY_LEADS, True, [], 15, "storefront",
     "Compare plans and prices, and decide to buy."),
    (2, "Account Creation", Stage.QUALIFY_LEADS, True, [1], 5, "user-plus",
     "Create the merchant login and confirm the email address."),
    (3, "Qualify for LS Payments (KYB)", Stage.QUALIFY_LEADS, True, [2], 20, "shield-check",
     "Verify the business: legal name, EIN and registered address."),
    (4, "Define Software Requirements", Stage.BUYING_EXPERIENCE, True, [3], 20, "monitor",
     "Choose the software tier, the number of locations and registers, and add-ons."),
    (5, "Define Hardware Requirements", Stage.BUYING_EXPERIENCE, True, [4], 20, "printer",
     "Pick the hardware each location and register needs."),
    (6, "Payment for Software & Hardware", Stage.BUYING_EXPERIENCE, True, [5], 10,
     "credit-card", "Review the quote and pay for the software and hardware."),
    (7, "Lightspeed Payments Activation (KYC)", Stage.GUIDED_SETUP, True, [6], 25, "id-card",
     "Verify the owners and representatives and add the bank account for payouts."),
    (8, "Data Import", Stage.GUIDED_SETUP, False, [7], 60, "database",
     "Import products, customers and inventory from the previous system (optional)."),
    (9, "Setup Hardware", Stage.GUIDED_SETUP, True, [7], 90, "wrench",
     "Unbox and connect the hardware, then ring up a test sale."),
    (10, "Final Config & Integrations", Stage.GUIDED_SETUP, False, [9], 45, "settings",
     "Taxes, receipts, accounting and eCommerce integrations (optional)."),
]  # fmt: skip

# --- Cohort rules (DESIGN.md rule 5; CohortRule docstring for `conditions`) ----------------
COHORT_RULES = [
    {
        "rule_name": "Managed: GTV ≥ $2M or 10+ locations",
        "rule_description": "Large merchants: a managing AE sells, an IC runs a paid setup.",
        "priority": 10,
        "conditions": {"any": [{"gtv_min": 2_000_000}, {"locations_min": 10}]},
        "cohort": Cohort.MANAGED,
        "selling_plan": SellingPlan.AE_MANAGED,
        "setup_plan": SetupPlan.IC_PAID,
    },
    {
        "rule_name": "Assisted: GTV ≥ $500K or 2+ locations",
        "rule_description": "Mid-size merchants: an AE assists the sale, the IC setup is free.",
        "priority": 20,
        "conditions": {"any": [{"gtv_min": 500_000}, {"locations_min": 2}]},
        "cohort": Cohort.ASSISTED,
        "selling_plan": SellingPlan.AE_ASSISTED,
        "setup_plan": SetupPlan.IC_FREE,
    },
    {
        "rule_name": "Self-serve (fallback)",
        "rule_description": "Everyone else buys and sets up online; matches every lead.",
        "priority": 1000,
        "conditions": {},
        "cohort": Cohort.SELF_SERVE,
        "selling_plan": SellingPlan.SELF_SERVE,
        "setup_plan": SetupPlan.SELF_SERVE,
    },
]

# --- Routing queues (DESIGN.md rule 6) ------------------------------------------------------
# Compliance reviewers pick their cases themselves, so that queue does not auto-assign.
# code, name, type, sla minutes, max size, overflow rank, auto-assign
ROUTING_QUEUES = [
    ("ae_high_priority", "AE high priority", QueueType.AE, 60, 50, 0, True),
    ("ae_standard", "AE standard", QueueType.AE, 240, 200, 1, True),
    ("ic_onboarding", "IC onboarding", QueueType.IC, 1440, None, 0, True),
    ("ic_intervention", "IC intervention", QueueType.IC, 480, None, 1, True),
    ("compliance_review", "Compliance review", QueueType.COMPLIANCE, 1440, None, 0, False),
]

# --- Stall policies (DESIGN.md rule 8) ------------------------------------------------------
STALLED_AFTER_DAYS = {Cohort.SELF_SERVE: 3, Cohort.ASSISTED: 2, Cohort.MANAGED: 1}
STALL_POLICY_DEFAULTS = {
    "abandoned_after_days": 14,
    "lost_after_days": 30,
    "error_threshold": 3,
    "high_severity_after_days": 7,
    "critical_severity_after_days": 10,
}
INTERVENTION_QUEUE = "ic_intervention"

# --- Product catalog ------------------------------------------------------------------------
_SW, _HW = ItemType.SOFTWARE_LICENSE, ItemType.HARDWARE
_ADD, _SVC = ItemType.ADD_ON, ItemType.SERVICE
_LOC, _REG = PricingUnit.PER_LOCATION, PricingUnit.PER_REGISTER
_UNIT, _FLAT = PricingUnit.PER_UNIT, PricingUnit.FLAT
_MONTHLY, _ONCE = BillingPeriod.MONTHLY, BillingPeriod.ONE_TIME
# sku, name, type, pricing unit, billing period, price (USD), description
PRODUCTS = [
    ("SW-LEAN", "Lean", _SW, _LOC, _MONTHLY, "89.00",
     "Point of sale and inventory for one register per location."),
    ("SW-CORE", "Core", _SW, _LOC, _MONTHLY, "149.00",
     "Lean plus advanced inventory, reporting and customer profiles."),
    ("SW-PLUS", "Plus", _SW, _LOC, _MONTHLY, "239.00",
     "Core plus multi-location management, API access and priority support."),
    ("REG-LIC", "Register licence", _SW, _REG, _MONTHLY, "49.00",
     "Each register beyond the first at a location."),
    ("ADD-ECOM", "eCommerce", _ADD, _LOC, _MONTHLY, "59.00",
     "An online store synced with the point of sale."),
    ("ADD-LOYALTY", "Loyalty", _ADD, _LOC, _MONTHLY, "39.00",
     "Points, rewards and customer campaigns."),
    ("HW-IPAD-STAND", "iPad stand", _HW, _UNIT, _ONCE, "169.00",
     "Swivel stand for the register iPad."),
    ("HW-RECEIPT-PRINTER", "Receipt printer", _HW, _UNIT, _ONCE, "299.00",
     "Thermal receipt printer, Ethernet and Bluetooth."),
    ("HW-CASH-DRAWER", "Cash drawer", _HW, _UNIT, _ONCE, "129.00",
     "Printer-driven cash drawer."),
    ("HW-BARCODE-SCANNER", "Barcode scanner", _HW, _UNIT, _ONCE, "149.00",
     "Wireless 2D barcode scanner."),
    ("HW-CARD-READER", "Card reader", _HW, _UNIT, _ONCE, "59.00",
     "Tap, chip and swipe reader for Lightspeed Payments."),
    ("HW-KITCHEN-PRINTER", "Kitchen printer", _HW, _UNIT, _ONCE, "349.00",
     "Impact printer for kitchen tickets."),
    ("SVC-SETUP-IC", "IC guided setup", _SVC, _FLAT, _ONCE, "499.00",
     "An implementation consultant sets up the account with the merchant (managed cohort)."),
    ("SVC-DATA-IMPORT", "Data import service", _SVC, _FLAT, _ONCE, "199.00",
     "We import products, customers and inventory from the previous system."),
]  # fmt: skip

# --- US state sales tax: the statewide rate, 2025 (CA, UT and VA include their statewide
# mandatory local add-on; other local taxes are not included) ------------------------------
US_STATE_TAX_RATES = {
    "AL": "0.04", "AK": "0", "AZ": "0.056", "AR": "0.065", "CA": "0.0725",
    "CO": "0.029", "CT": "0.0635", "DE": "0", "DC": "0.06", "FL": "0.06",
    "GA": "0.04", "HI": "0.04", "ID": "0.06", "IL": "0.0625", "IN": "0.07",
    "IA": "0.06", "KS": "0.065", "KY": "0.06", "LA": "0.05", "ME": "0.055",
    "MD": "0.06", "MA": "0.0625", "MI": "0.06", "MN": "0.06875", "MS": "0.07",
    "MO": "0.04225", "MT": "0", "NE": "0.055", "NV": "0.0685", "NH": "0",
    "NJ": "0.06625", "NM": "0.04875", "NY": "0.04", "NC": "0.0475", "ND": "0.05",
    "OH": "0.0575", "OK": "0.045", "OR": "0", "PA": "0.06", "RI": "0.07",
    "SC": "0.06", "SD": "0.042", "TN": "0.07", "TX": "0.0625", "UT": "0.061",
    "VT": "0.06", "VA": "0.053", "WA": "0.065", "WV": "0.06", "WI": "0.05",
    "WY": "0.04",
}  # fmt: skip


# --- Writing rows only when they differ ------------------------------------------------------
CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"


@dataclass
class Tally:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    notes: list[str] = field(default_factory=list)

    def count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    def __str__(self):
        return f"created {self.created}, updated {self.updated}, unchanged {self.unchanged}"


def _as_stored(model, name: str, value):
    """The value as the column will hold it, so a re-run compares like with like (a
    DecimalField keeps only its decimal places)."""
    model_field = model._meta.get_field(name)
    if isinstance(model_field, models.DecimalField) and value is not None:
        step = Decimal(1).scaleb(-model_field.decimal_places)
        return Decimal(value).quantize(step, rounding=ROUND_HALF_UP)
    return value


def _differing(instance, values: dict) -> list[str]:
    changed = []
    for name, value in values.items():
        attname = instance._meta.get_field(name).attname
        wanted = value.pk if isinstance(value, models.Model) else value
        if getattr(instance, attname) != wanted:
            changed.append(name)
    return changed


def reference_row_upsert(model, *, key: dict, values: dict):
    """update_or_create by natural key that saves only when a value differs, recording the
    system as the history user and the reset fields as the reason.
    Returns (row, CREATED | UPDATED | UNCHANGED)."""
    values = {name: _as_stored(model, name, value) for name, value in values.items()}
    instance = model.objects.filter(**key).first()
    if instance is None:
        instance = model(**key, **values)
        save_tracked(instance, actor=None, reason=f"{REASON}: created")
        return instance, CREATED
    changed = _differing(instance, values)
    if not changed:
        return instance, UNCHANGED
    for name in changed:
        setattr(instance, name, values[name])
    save_tracked(instance, actor=None, reason=f"{REASON}: reset {', '.join(changed)}"[:100])
    return instance, UPDATED


def _seed_rows(model, rows) -> Tally:
    """rows: (key, values) pairs."""
    tally = Tally()
    for key, values in rows:
        _row, outcome = reference_row_upsert(model, key=key, values=values)
        tally.count(outcome)
    return tally


# --- One function per kind -------------------------------------------------------------------
def journey_steps_seed() -> Tally:
    steps, outcomes = {}, {}
    for step_id, name, stage, required, _deps, minutes, icon, description in JOURNEY_STEPS:
        steps[step_id], outcomes[step_id] = reference_row_upsert(
            JourneyStep,
            key={"id": step_id},
            values={
                "step_name": name,
                "step_description": description,
                "stage": stage,
                "display_order": step_id,
                "icon": icon,
                "is_required": required,
                "estimated_duration_minutes": minutes,
            },
        )
    # Dependencies once every step exists; the M2M is history-tracked, so only on change.
    for step_id, *_, depends_on, _minutes, _icon, _description in JOURNEY_STEPS:
        step = steps[step_id]
        if set(step.depends_on.values_list("id", flat=True)) == set(depends_on):
            continue
        step._history_user = None
        step._change_reason = f"{REASON}: depends_on reset"
        step.depends_on.set([steps[dependency] for dependency in depends_on])
        if outcomes[step_id] == UNCHANGED:
            outcomes[step_id] = UPDATED
    tally = Tally()
    for outcome in outcomes.values():
        tally.count(outcome)
    return tally


def cohort_rules_seed() -> Tally:
    return _seed_rows(
        CohortRule,
        (
            (
                {"rule_name": rule["rule_name"]},
                {
                    **{name: value for name, value in rule.items() if name != "rule_name"},
                    "is_active": True,
                    "effective_to": None,
                },
            )
            for rule in COHORT_RULES
        ),
    )


def routing_queues_seed() -> Tally:
    return _seed_rows(
        RoutingQueue,
        (
            (
                {"code": code},
                {
                    "queue_name": name,
                    "queue_type": queue_type,
                    "sla_minutes": sla,
                    "max_queue_size": max_size,
                    "overflow_rank": rank,
                    "auto_assign": auto_assign,
                    "is_active": True,
                },
            )
            for code, name, queue_type, sla, max_size, rank, auto_assign in ROUTING_QUEUES
        ),
    )


def stall_policies_seed() -> Tally:
    queue = RoutingQueue.objects.get(code=INTERVENTION_QUEUE)
    return _seed_rows(
        StallPolicy,
        (
            (
                {"cohort": cohort},
                {"stalled_after_days": days, **STALL_POLICY_DEFAULTS, "intervention_queue": queue},
            )
            for cohort, days in STALLED_AFTER_DAYS.items()
        ),
    )


def products_seed() -> Tally:
    return _seed_rows(
        Product,
        (
            (
                {"sku": sku},
                {
                    "name": name,
                    "description": description,
                    "item_type": item_type,
                    "pricing_unit": unit,
                    "billing_period": period,
                    "unit_price": Decimal(price),
                    "is_active": True,
                    "display_order": position * 10,
                },
            )
            for position, (sku, name, item_type, unit, period, price, description) in enumerate(
                PRODUCTS, start=1
            )
        ),
    )


def tax_rates_seed() -> Tally:
    return _seed_rows(
        TaxRate,
        (
            ({"country": "US", "state": state}, {"rate": Decimal(rate)})
            for state, rate in US_STATE_TAX_RATES.items()
        ),
    )


def task_exists(func: str) -> bool:
    try:
        import_string(func)
    except ImportError:
        return False
    return True


def schedules_seed() -> Tally:
    """django-q2 schedules by name (names are unique: PITFALLS.md), one per periodic job of
    apps/core/jobs.py (the list the worker's guard reads too). Everything that says what
    runs is put back (function, arguments, hook, timing, cluster). `repeats` is left alone
    (-1, for ever, when created): ops pause a job by setting it to 0, and a deploy's
    seed_rules must not resume it. A job whose task function does not exist yet is skipped
    and reported."""
    tally = Tally()
    skipped = []
    for job in PERIODIC_JOBS:
        if not task_exists(job.func):
            skipped.append(f"{job.name} ({job.func})")
            continue
        values = {
            "func": job.func,
            "schedule_type": job.schedule_type,
            "minutes": job.minutes,
            "args": None,
            "kwargs": None,
            "hook": None,
            "cron": None,
            "cluster": None,
            "intended_date_kwarg": None,
        }
        _row, outcome = reference_row_upsert(Schedule, key={"name": job.name}, values=values)
        tally.count(outcome)
    if skipped:
        tally.notes.append(f"skipped until their task exists: {', '.join(skipped)}")
    return tally


def roles_seed() -> Tally:
    """Role groups through roles_sync (idempotent); counted by their permission sets."""

    def permission_sets():
        return {
            group.name: set(group.permissions.values_list("pk", flat=True))
            for group in Group.objects.filter(name__in=ROLES)
        }

    before = permission_sets()
    roles_sync()
    after = permission_sets()
    tally = Tally()
    for role in ROLES:
        if role not in before:
            tally.count(CREATED)
        else:
            tally.count(UNCHANGED if before[role] == after[role] else UPDATED)
    return tally


# Order matters: stall policies point at a queue.
REFERENCE_KINDS = [
    ("journey steps", journey_steps_seed),
    ("cohort rules", cohort_rules_seed),
    ("routing queues", routing_queues_seed),
    ("stall policies", stall_policies_seed),
    ("products", products_seed),
    ("tax rates", tax_rates_seed),
    ("schedules", schedules_seed),
    ("roles", roles_seed),
]


def reference_data_seed() -> dict[str, Tally]:
    """Seed every kind of reference data in one transaction; returns a tally per kind."""
    with transaction.atomic():
        return {label: seed() for label, seed in REFERENCE_KINDS}
