"""The merchant hub (/staff/merchants/<id>/): everything staff know about one merchant, each
list capped and each related row joined or prefetched, so the page costs the same number of
queries for a merchant with 1 order or 500 (tests/staff/test_merchant_page.py)."""

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Prefetch, Q
from django.utils import timezone

from apps.integrations.models import ExternalSystemSync
from apps.merchants.models import Merchant
from apps.orders.models import HardwareShipment, Order
from apps.progress.models import OPEN_ALERT_STATUSES, MerchantStepProgress, StallAlert
from apps.progress.selectors import step_time_spent
from apps.routing import selectors as routing_selectors
from apps.routing.models import (
    OPEN_ASSIGNMENT_STATUSES,
    AssignmentNote,
    QueueAssignment,
    QueueType,
)

LIST_LIMIT = 20


@dataclass
class Note:
    at: datetime
    author: str
    body: str
    on: str


@dataclass
class MerchantHub:
    merchant: Merchant
    steps: list
    persons: list
    bank_accounts: list
    orders: list
    order_count: int
    open_items: list
    alerts: list
    notes: list[Note]
    syncs: list
    entity_ids: list = field(default_factory=list)

    @property
    def ic_item(self) -> QueueAssignment | None:
        """The open IC intervention (the merchant's open item in an IC queue), if any."""
        return next((i for i in self.open_items if i.queue.queue_type == QueueType.IC), None)

    @property
    def primary_bank_account(self):
        return next((a for a in self.bank_accounts if a.is_primary), None)


def merchant_hub_get(*, merchant_id) -> Merchant | None:
    return (
        Merchant.objects.select_related(
            "lead",
            "lead__matched_rule",
            "lead__assigned_ae",
            "lead__assigned_ic",
            "lead__cohort_overridden_by",
            "user",
        )
        .filter(pk=merchant_id)
        .first()
    )


def _subject_q(merchant: Merchant) -> Q:
    return Q(merchant=merchant) | Q(lead_id=merchant.lead_id)


def _steps(merchant: Merchant, now: datetime) -> list:
    rows = list(
        MerchantStepProgress.objects.filter(merchant=merchant)
        .select_related("step")
        .order_by("step__display_order")
    )
    for row in rows:
        row.time_in_step = step_time_spent(row, now=now)
    return rows


def _orders(merchant: Merchant) -> tuple[list, int]:
    orders = Order.objects.filter(merchant=merchant)
    rows = list(
        orders.select_related("created_by")
        .prefetch_related(
            Prefetch("shipments", queryset=HardwareShipment.objects.order_by("created_at"))
        )
        .order_by("-created_at", "-order_number")[:LIST_LIMIT]
    )
    return rows, orders.count()


def _open_items(merchant: Merchant, now: datetime) -> list:
    rows = list(
        QueueAssignment.objects.filter(_subject_q(merchant), status__in=OPEN_ASSIGNMENT_STATUSES)
        .select_related("queue", "assigned_to")
        .order_by("queued_at", "pk")[:LIST_LIMIT]
    )
    return routing_selectors.with_sla_clocks(rows, now)


def _notes(merchant: Merchant, alerts_with_notes: list) -> list[Note]:
    """Notes left on the merchant's queue items and alerts, newest first."""
    notes = [
        Note(
            at=note.created_at,
            author=note.author.email if note.author else "system",
            body=note.body,
            on=f"{note.assignment.queue.queue_name} item",
        )
        for note in AssignmentNote.objects.filter(
            Q(assignment__merchant=merchant) | Q(assignment__lead_id=merchant.lead_id)
        )
        .select_related("author", "assignment__queue")
        .order_by("-created_at", "-pk")[:LIST_LIMIT]
    ]
    for alert in alerts_with_notes:
        for note in alert.notes or []:
            try:
                at = datetime.fromisoformat(note.get("at", ""))
            except (TypeError, ValueError):
                continue
            notes.append(
                Note(
                    at=at,
                    author=note.get("author") or "system",
                    body=note.get("body", ""),
                    on=f"{alert.get_alert_type_display()} alert",
                )
            )
    notes.sort(key=lambda n: n.at, reverse=True)
    return notes[:LIST_LIMIT]


def merchant_hub(*, merchant: Merchant, now: datetime | None = None) -> MerchantHub:
    now = now or timezone.now()
    persons = list(merchant.persons.order_by("created_at", "pk"))
    bank_accounts = list(merchant.bank_accounts.order_by("-is_primary", "-created_at"))
    orders, order_count = _orders(merchant)
    alerts_with_notes = list(
        StallAlert.objects.filter(merchant=merchant)
        .exclude(notes=[])
        .order_by("-stall_detected_at", "pk")[:LIST_LIMIT]
    )
    alerts = list(
        StallAlert.objects.filter(merchant=merchant, alert_status__in=OPEN_ALERT_STATUSES)
        .select_related("step", "assigned_to")
        .order_by("-stall_detected_at", "pk")[:LIST_LIMIT]
    )
    entity_ids = [
        merchant.pk,
        merchant.lead_id,
        *(p.pk for p in persons),
        *(a.pk for a in bank_accounts),
        *(o.pk for o in orders),
    ]
    syncs = list(
        ExternalSystemSync.objects.filter(entity_id__in=entity_ids).order_by("-updated_at", "pk")[
            :LIST_LIMIT
        ]
    )
    return MerchantHub(
        merchant=merchant,
        steps=_steps(merchant, now),
        persons=persons,
        bank_accounts=bank_accounts,
        orders=orders,
        order_count=order_count,
        open_items=_open_items(merchant, now),
        alerts=alerts,
        notes=_notes(merchant, alerts_with_notes),
        syncs=syncs,
        entity_ids=entity_ids,
    )
