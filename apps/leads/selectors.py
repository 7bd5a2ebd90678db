"""Read queries for the lead pages, the lead API and profiling. Lists and the timeline run a
fixed number of queries whatever their length (related rows come in the same query), each
with an explicit order."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.leads.models import Lead

# The longest timeline shown; older entries are in the admin history.
TIMELINE_LIMIT = 200

# Lead columns whose changes the timeline describes, with their labels.
TIMELINE_FIELDS = {
    "status": "status",
    "cohort": "cohort",
    "selling_plan": "selling plan",
    "setup_plan": "setup plan",
    "gtv_score": "GTV score",
    "complexity_score": "complexity score",
    "risk_score": "risk score",
    "matched_rule_id": "matched rule",
    "assigned_ae_id": "AE",
    "assigned_ic_id": "IC",
    "email": "email",
    "phone": "phone",
    "first_name": "first name",
    "last_name": "last name",
    "business_name": "business name",
    "business_category": "vertical",
    "business_type": "business type",
    "annual_revenue_estimate": "annual revenue",
    "number_of_locations": "locations",
    "country_code": "country",
    "region": "region",
    "crm_lead_id": "CRM id",
}
# Changes not worth a line (the matched rule is told by the reason; ids mean nothing).
_QUIET_FIELDS = {"matched_rule_id", "assigned_ae_id", "assigned_ic_id", "crm_lead_id"}


def cohort_rule_active_list(*, at: datetime | None = None) -> list:
    """The cohort rules in force at `at` (now): active, effective_from ≤ at < effective_to
    (or no end), by priority then name."""
    from apps.routing.models import CohortRule

    at = at or timezone.now()
    return list(
        CohortRule.objects.filter(is_active=True, effective_from__lte=at)
        .filter(Q(effective_to__isnull=True) | Q(effective_to__gt=at))
        .order_by("priority", "rule_name", "pk")
    )


def lead_get(*, lead_id) -> Lead | None:
    return Lead.objects.filter(pk=lead_id).first()


def lead_profile_get(*, lead_id) -> Lead | None:
    """The lead with what its profile page and the cohort API show, in one query."""
    return (
        Lead.objects.select_related(
            "matched_rule", "cohort_overridden_by", "assigned_ae", "assigned_ic"
        )
        .filter(pk=lead_id)
        .first()
    )


def lead_list(*, search: str = "", cohort: str = "", status: str = "") -> QuerySet[Lead]:
    """Leads for the staff list, newest first. `search` matches email or business name
    (case-insensitive, anywhere in them)."""
    leads = Lead.objects.filter(deleted_at__isnull=True).select_related("assigned_ae")
    if search:
        leads = leads.filter(Q(email__icontains=search) | Q(business_name__icontains=search))
    if cohort:
        leads = leads.filter(cohort=cohort)
    if status:
        leads = leads.filter(status=status)
    return leads.only(
        "id",
        "email",
        "business_name",
        "first_name",
        "last_name",
        "status",
        "cohort",
        "gtv_score",
        "annual_revenue_estimate",
        "number_of_locations",
        "cohort_overridden_at",
        "created_at",
        "assigned_ae__email",
    ).order_by("-created_at", "pk")


# --- Timeline ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # "lead", "event", "assignment"
    title: str
    who: str
    why: str
    details: str = ""


def _who(user) -> str:
    return user.email if user is not None else "system"


def _display(value) -> str:
    return "—" if value in (None, "") else str(value)


def _labels(name: str) -> dict:
    """A choice field's labels by value ({} for other fields)."""
    field = next(f for f in Lead._meta.concrete_fields if f.attname == name)
    return dict(field.flatchoices) if field.choices else {}


_FIELD_LABELS = {name: _labels(name) for name in TIMELINE_FIELDS}


def _shown(name: str, value) -> str:
    return _display(_FIELD_LABELS[name].get(value, value))


def _lead_entries(lead: Lead) -> list[TimelineEntry]:
    # The newest rows, plus one older row to tell what the oldest shown one changed.
    rows = list(
        lead.history.select_related("history_user").order_by("-history_date", "-history_id")[
            : TIMELINE_LIMIT + 1
        ]
    )
    rows.reverse()
    entries, previous = [], None
    if len(rows) > TIMELINE_LIMIT:
        previous, rows = rows[0], rows[1:]
    for row in rows:
        if previous is None:
            title = "Lead created" if row.history_type == "+" else "Lead changed"
            changes = []
        else:
            title = "Lead changed"
            changes = [
                f"{label}: {_shown(name, before)} → {_shown(name, after)}"
                for name, label in TIMELINE_FIELDS.items()
                if name not in _QUIET_FIELDS
                and (before := getattr(previous, name)) != (after := getattr(row, name))
            ]
        entries.append(
            TimelineEntry(
                at=row.history_date,
                kind="lead",
                title=title,
                who=_who(row.history_user),
                why=row.history_change_reason or "",
                details="; ".join(changes),
            )
        )
        previous = row
    return entries


def _event_entries(lead: Lead) -> list[TimelineEntry]:
    from apps.integrations.models import IntegrationEvent

    events = (
        IntegrationEvent.objects.filter(aggregate_type="lead", aggregate_id=lead.pk)
        .only("event_type", "occurred_at", "published", "last_publish_error", "event_payload")
        .order_by("-occurred_at", "pk")[:TIMELINE_LIMIT]
    )
    entries = []
    for event in events:
        payload = event.event_payload or {}
        if "from" in payload and "to" in payload:
            details = f"{_display(payload['from'])} → {_display(payload['to'])}"
        else:
            details = ""
        state = "sent" if event.published else ("failing" if event.last_publish_error else "queued")
        entries.append(
            TimelineEntry(
                at=event.occurred_at,
                kind="event",
                title=f"Event {event.event_type} ({state})",
                who="system",
                why=str(payload.get("reason") or ""),
                details=details,
            )
        )
    return entries


def _assignment_entries(lead: Lead) -> list[TimelineEntry]:
    from apps.routing.models import QueueAssignment

    rows = (
        QueueAssignment.history.filter(lead_id=lead.pk)
        .select_related("history_user", "queue", "assigned_to")
        .order_by("-history_date", "-history_id")[:TIMELINE_LIMIT]
    )
    entries = []
    for row in rows:
        queue = row.queue.queue_name if row.queue_id and row.queue else "a queue"
        agent = f" to {row.assigned_to.email}" if row.assigned_to_id and row.assigned_to else ""
        entries.append(
            TimelineEntry(
                at=row.history_date,
                kind="assignment",
                title=f"{queue}: {row.get_status_display().lower()}{agent}",
                who=_who(row.history_user),
                why=row.history_change_reason or "",
            )
        )
    return entries


def lead_timeline(*, lead: Lead) -> list[TimelineEntry]:
    """The lead's story, newest first: its history rows (who, when, why, what changed), its
    outbox events and its queue assignments' history. Three queries, whatever the length."""
    entries = [*_lead_entries(lead), *_event_entries(lead), *_assignment_entries(lead)]
    entries.sort(key=lambda entry: entry.at, reverse=True)
    return entries[:TIMELINE_LIMIT]


SUBMISSIONS_SHOWN = 20


@dataclass(frozen=True)
class LeadWork:
    """Where the work on a lead is done: its merchant (the staff merchant hub), how many
    orders it has, and its open queue items. Three queries."""

    merchant: object
    order_count: int
    open_items: list


def lead_work(*, lead: Lead) -> LeadWork:
    from apps.merchants.models import Merchant
    from apps.routing.models import OPEN_ASSIGNMENT_STATUSES, QueueAssignment

    merchant = Merchant.objects.filter(lead=lead).only("id", "legal_business_name").first()
    order_count = merchant.orders.count() if merchant is not None else 0
    items = list(
        QueueAssignment.objects.filter(lead=lead, status__in=OPEN_ASSIGNMENT_STATUSES)
        .select_related("queue", "assigned_to")
        .order_by("queued_at", "pk")
    )
    return LeadWork(merchant=merchant, order_count=order_count, open_items=items)


def lead_submission_list(*, lead: Lead) -> list:
    """The latest repeats of the Get started form for this lead, newest first (one query)."""
    return list(lead.submissions.order_by("-created_at")[:SUBMISSIONS_SHOWN])
