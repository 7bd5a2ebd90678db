"""A merchant as it was at a moment (issue 16): its details, people (masked), bank accounts,
the ten steps, orders, payments, shipments and queue items, read back from the
simple-history tables, with the recorded changes just before and after.

`merchant_state(merchant=..., at=...)` reads the history; `merchant_state(merchant=...)`
(no `at`) reads the live rows through the very same field lists, so what the page shows
for a past moment can be checked against what it showed live at that moment
(tests/compliance/test_as_of.py). Personal data never appears: the history tables do not
keep the encrypted fields, people are shown by name, bank accounts by their masked number.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db.models import Q

from apps.compliance.selectors import TimelineEntry, merchant_audit_timeline
from apps.merchants.models import Merchant, MerchantBankAccount, MerchantPerson
from apps.orders.models import HardwareShipment, Order, Payment
from apps.progress.models import JourneyStep, MerchantStepProgress
from apps.routing.models import QueueAssignment, RoutingQueue

NEIGHBOUR_CHANGES = 5

MERCHANT_FIELDS = (
    ("legal_business_name", "Legal name"),
    ("business_structure", "Structure"),
    ("ein_hash", "EIN on file"),
    ("registered_city", "City"),
    ("registered_state", "State"),
    ("cohort", "Cohort"),
    ("kyb_status", "KYB"),
    ("kyc_status", "KYC"),
    ("journey_status", "Journey"),
    ("current_step", "Current step"),
    ("payments_activated", "Payments activated"),
    ("payouts_enabled", "Payouts enabled"),
    ("x_series_account_id", "X-Series account"),
    ("is_active", "Live"),
)


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    model: type
    fields: tuple[tuple[str, str], ...]  # (attribute name, column label)

    def where(self, merchant_id) -> Q:
        if self.key == "payments":
            return Q(order_id__in=Order.history.filter(merchant_id=merchant_id).values("id"))
        return Q(merchant_id=merchant_id)


SECTIONS = (
    Section(
        "persons",
        "Owners and representatives",
        MerchantPerson,
        (
            ("first_name", "First name"),
            ("last_name", "Last name"),
            ("person_type", "Role"),
            ("ownership_percentage", "Ownership %"),
            ("kyc_status", "KYC"),
        ),
    ),
    Section(
        "bank_accounts",
        "Bank accounts",
        MerchantBankAccount,
        (
            ("id", "Account"),
            ("bank_name", "Bank"),
            ("account_type", "Type"),
            ("verification_status", "Verification"),
            ("is_primary", "Primary"),
            ("is_active", "Active"),
        ),
    ),
    Section(
        "steps",
        "Journey steps",
        MerchantStepProgress,
        (
            ("step_id", "Step"),
            ("status", "Status"),
            ("started_at", "Started"),
            ("completed_at", "Completed"),
            ("error_count", "Errors"),
        ),
    ),
    Section(
        "orders",
        "Orders",
        Order,
        (
            ("order_number", "Order"),
            ("status", "Status"),
            ("payment_status", "Payment"),
            ("fulfillment_status", "Fulfilment"),
            ("total_amount", "Total"),
        ),
    ),
    Section(
        "payments",
        "Payments",
        Payment,
        (
            ("order_id", "Order"),
            ("amount", "Amount"),
            ("status", "Status"),
            ("failure_reason", "Failure"),
        ),
    ),
    Section(
        "shipments",
        "Hardware shipments",
        HardwareShipment,
        (
            ("order_id", "Order"),
            ("shipment_status", "Status"),
            ("shipping_carrier", "Carrier"),
            ("tracking_number", "Tracking"),
        ),
    ),
    Section(
        "queue_items",
        "Queue items",
        QueueAssignment,
        (
            ("queue_id", "Queue"),
            ("status", "Status"),
            ("assigned_to_id", "Assigned to"),
            ("sla_breached", "SLA breached"),
            ("reason", "Why"),
        ),
    ),
)


@dataclass
class MerchantState:
    at: datetime | None
    merchant: list[tuple[str, object]] | None  # None: it did not exist yet
    sections: list[tuple[Section, list[list[tuple[str, object]]]]]
    before: list[TimelineEntry] = field(default_factory=list)
    after: list[TimelineEntry] = field(default_factory=list)

    def snapshot(self):
        """What the page shows of the state itself, for comparing two readings."""
        return (
            self.merchant,
            [(section.key, rows) for section, rows in self.sections],
        )


def _latest_versions(model, where: Q, at: datetime) -> list:
    """The objects' last history rows up to `at` (ties broken by history id), deleted
    ones dropped: the history-table form of `Model.history.as_of(at)`."""
    latest = {}
    rows = model.history.filter(where, history_date__lte=at).order_by("history_date", "history_id")
    for row in rows:
        latest[row.id] = row
    return [row for row in latest.values() if row.history_type != "-"]


class _Labels:
    """Names for the ids the rows hold, each read with one query when first needed."""

    def __init__(self, merchant_id):
        self.merchant_id = merchant_id
        self._cache = {}

    def _get(self, key, load):
        if key not in self._cache:
            self._cache[key] = load()
        return self._cache[key]

    def value(self, name: str, value):
        if value is None:
            return None
        if name == "queue_id":
            names = self._get(
                "queues", lambda: dict(RoutingQueue.objects.values_list("pk", "queue_name"))
            )
            return names.get(value, value)
        if name == "assigned_to_id":
            emails = self._get(
                "users",
                lambda: dict(
                    get_user_model()
                    .objects.filter(
                        pk__in=QueueAssignment.history.filter(merchant_id=self.merchant_id).values(
                            "assigned_to_id"
                        )
                    )
                    .values_list("pk", "email")
                ),
            )
            return emails.get(value, "a former user")
        if name == "step_id":
            steps = self._get(
                "steps", lambda: dict(JourneyStep.objects.values_list("pk", "step_name"))
            )
            return f"{value}. {steps.get(value, '')}".strip()
        if name == "order_id":
            numbers = self._get(
                "orders",
                lambda: dict(
                    Order.history.filter(merchant_id=self.merchant_id)
                    .values_list("id", "order_number")
                    .distinct()
                ),
            )
            return numbers.get(value, value)
        if name == "id":  # a bank account: its masked number (the history keeps no number)
            masked = self._get(
                "accounts",
                lambda: {
                    account.pk: account.account_number_masked
                    for account in MerchantBankAccount.objects.filter(merchant_id=self.merchant_id)
                },
            )
            return masked.get(value, "")
        if name == "ein_hash":
            return bool(value)
        return value


def _row(obj, fields, labels: _Labels) -> list[tuple[str, object]]:
    return [(label, labels.value(name, getattr(obj, name))) for name, label in fields]


def _sort_key(obj, section: Section):
    if section.key == "steps":
        return (obj.step_id,)
    return (obj.created_at, str(obj.id))


def merchant_state(*, merchant: Merchant, at: datetime | None = None) -> MerchantState:
    """The merchant at `at` from the history tables, or now from the live rows."""
    labels = _Labels(merchant.pk)
    if at is None:
        version = Merchant.objects.get(pk=merchant.pk)
    else:
        try:
            version = merchant.history.as_of(at)
        except Merchant.DoesNotExist:
            version = None
    sections = []
    for section in SECTIONS:
        if version is None:
            objects = []
        elif at is None:
            objects = list(section.model.objects.filter(section.where(merchant.pk)))
        else:
            objects = _latest_versions(section.model, section.where(merchant.pk), at)
        objects.sort(key=lambda obj, section=section: _sort_key(obj, section))
        sections.append((section, [_row(obj, section.fields, labels) for obj in objects]))
    state = MerchantState(
        at=at,
        merchant=None if version is None else _row(version, MERCHANT_FIELDS, labels),
        sections=sections,
    )
    if at is not None:
        entries = merchant_audit_timeline(merchant=merchant)  # newest first
        state.before = [entry for entry in entries if entry.at <= at][:NEIGHBOUR_CHANGES]
        state.after = [entry for entry in entries if entry.at > at][-NEIGHBOUR_CHANGES:]
    return state
