"""Read queries for the compliance pages: the KYB and KYC review cases, a merchant's audit
timeline, the data access log and the decision log. Each costs a fixed number of queries
whatever the number of rows."""

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from itertools import groupby

from django.db.models import CharField, F, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.template.defaultfilters import floatformat
from django.utils import timezone

from apps.compliance.models import CheckType, DataAccessAuditLog, Decision, KybKycAuditLog
from apps.compliance.timeline_words import FieldWords, event_words, related_names
from apps.integrations.models import ExternalSystemSync, IntegrationEvent
from apps.merchants.choices import CheckStatus
from apps.merchants.models import Merchant, MerchantBankAccount, MerchantPerson
from apps.progress.models import StallAlert
from apps.routing.models import OPEN_ASSIGNMENT_STATUSES, AssignmentNote, QueueAssignment
from apps.routing.selectors import with_sla_clocks

REVIEW_QUEUE = "compliance_review"
SEARCH_LIMIT = 20
# Never shown in a timeline: bookkeeping columns, links, and the EIN's hash (a change of
# EIN is said as such, without any value).
_HIDDEN_FIELDS = {
    "id",
    "created_at",
    "updated_at",
    "merchant",
    "lead",
    "user",
    "ein_hash",
}


# --- KYB and KYC review cases ----------------------------------------------------------------

KINDS = ("kyb", "kyc")


@dataclass
class ReviewCase:
    """One decision waiting for a reviewer: a merchant's KYB ("kyb") or one person's KYC
    ("kyc"), with the provider's answer that sent it to review, its audit rows (newest first)
    and the merchant's open compliance queue item (one item covers all of its cases)."""

    kind: str
    merchant: Merchant
    person: MerchantPerson | None
    audit_rows: list[KybKycAuditLog]
    queue_item: QueueAssignment | None
    flagged_at: datetime | None = None
    form: object = None
    message: str = ""
    message_level: str = ""

    @property
    def pk(self):
        return self.person.pk if self.kind == "kyc" else self.merchant.pk

    @property
    def dom_id(self) -> str:
        return f"case-{self.kind}-{self.pk}"

    @property
    def subject(self) -> str:
        if self.kind == "kyb":
            return "The business (KYB)"
        return f"{self.person} · {self.person.get_person_type_display().lower()} (KYC)"

    @property
    def status(self) -> str:
        return self.merchant.kyb_status if self.kind == "kyb" else self.person.kyc_status

    @property
    def under_review(self) -> bool:
        return self.status == CheckStatus.REVIEW_REQUIRED

    @property
    def provider_row(self) -> KybKycAuditLog | None:
        """The provider's answer that sent the case to review (the latest such row)."""
        return next(
            (
                r
                for r in self.audit_rows
                if r.decision == Decision.REVIEW_REQUIRED and not r.manual_override
            ),
            None,
        )

    @property
    def why(self) -> str:
        row = self.provider_row
        if row is None:
            return "Sent to review"
        why = row.decision_reason or "The provider could not decide"
        if row.risk_score is None:
            return why
        return f"{why} (risk score {floatformat(row.risk_score, -2)})"

    @property
    def sla(self):
        """The review SLA clock (routing.selectors.SlaClock), None when not in the queue."""
        return self.queue_item.sla if self.queue_item is not None else None


def _audit_rows() -> QuerySet[KybKycAuditLog]:
    return KybKycAuditLog.objects.select_related("reviewed_by").order_by(
        "-completed_at", "-created_at"
    )


def _open_review_items() -> QuerySet[QueueAssignment]:
    return QueueAssignment.objects.filter(
        queue__code=REVIEW_QUEUE, status__in=OPEN_ASSIGNMENT_STATUSES
    )


def review_case_list() -> QuerySet:
    """Every case under review, KYB and KYC together, longest waiting first: rows of
    (kind, subject id, merchant id, flagged at), one query however long (paginate it, then
    review_cases_load the page)."""
    text = CharField()
    kyb = (
        Merchant.objects.filter(kyb_status=CheckStatus.REVIEW_REQUIRED)
        .annotate(
            kind=Value("kyb", output_field=text),
            subject_id=F("id"),
            merchant_ref=F("id"),
            flagged=Coalesce("kyb_submitted_at", "created_at"),
        )
        .values_list("kind", "subject_id", "merchant_ref", "flagged")
    )
    kyc = (
        MerchantPerson.objects.filter(kyc_status=CheckStatus.REVIEW_REQUIRED)
        .annotate(
            kind=Value("kyc", output_field=text),
            subject_id=F("id"),
            merchant_ref=F("merchant_id"),
            flagged=Coalesce("kyc_submitted_at", "created_at"),
        )
        .values_list("kind", "subject_id", "merchant_ref", "flagged")
    )
    return kyb.union(kyc, all=True).order_by("flagged", "subject_id")


def review_cases_load(rows) -> list[ReviewCase]:
    """The cases of rows from review_case_list, with their merchants, persons, audit rows
    and queue items: four queries whatever the number of rows."""
    rows = list(rows)
    merchant_ids = {row[2] for row in rows}
    person_ids = [row[1] for row in rows if row[0] == "kyc"]
    merchants = Merchant.objects.select_related("lead").in_bulk(merchant_ids)
    persons = MerchantPerson.objects.in_bulk(person_ids)
    audit = {}
    for row in _audit_rows().filter(
        Q(check_type=CheckType.KYB, merchant_id__in=merchant_ids, person__isnull=True)
        | Q(check_type=CheckType.KYC, person_id__in=person_ids)
    ):
        key = (
            ("kyc", row.person_id) if row.check_type == CheckType.KYC else ("kyb", row.merchant_id)
        )
        audit.setdefault(key, []).append(row)
    items = {}
    for item in (
        _open_review_items()
        .filter(merchant_id__in=merchant_ids)
        .select_related("assigned_to")
        .order_by("queued_at", "pk")
    ):
        items.setdefault(item.merchant_id, item)
    with_sla_clocks(items.values())
    cases = []
    for kind, subject_id, merchant_id, flagged in rows:
        merchant = merchants[merchant_id]
        person = persons.get(subject_id) if kind == "kyc" else None
        if person is not None:
            person.merchant = merchant
        cases.append(
            ReviewCase(
                kind=kind,
                merchant=merchant,
                person=person,
                audit_rows=audit.get((kind, subject_id), []),
                queue_item=items.get(merchant_id),
                flagged_at=flagged,
            )
        )
    return cases


def review_case_get(*, kind: str, subject_id) -> ReviewCase | None:
    """One case by kind and subject (whatever its status now), or None."""
    if kind == "kyb":
        merchant = Merchant.objects.select_related("lead").filter(pk=subject_id).first()
        if merchant is None:
            return None
        row = (kind, merchant.pk, merchant.pk, merchant.kyb_submitted_at)
    elif kind == "kyc":
        person = MerchantPerson.objects.filter(pk=subject_id).only("id", "merchant_id").first()
        if person is None:
            return None
        row = (kind, person.pk, person.merchant_id, None)
    else:
        return None
    case = review_cases_load([row])[0]
    if case.kind == "kyc":
        case.flagged_at = case.person.kyc_submitted_at
    return case


@dataclass(frozen=True)
class ReviewCounts:
    """Cases under review, the merchants they belong to, and the open items of the
    compliance queue (one per merchant under review)."""

    cases: int
    merchants: int
    queue_items: int

    @property
    def agree(self) -> bool:
        return self.merchants == self.queue_items


def review_counts() -> ReviewCounts:
    """Four small queries, each on an index."""
    kyb = Merchant.objects.filter(kyb_status=CheckStatus.REVIEW_REQUIRED)
    kyc = MerchantPerson.objects.filter(kyc_status=CheckStatus.REVIEW_REQUIRED)
    merchants = kyb.values_list("id").union(kyc.values_list("merchant_id"))
    return ReviewCounts(
        cases=kyb.count() + kyc.count(),
        merchants=merchants.count(),
        queue_items=_open_review_items().count(),
    )


def subject_history(case: ReviewCase) -> list:
    """The recorded changes of the case's subject (the merchant, or the person), newest
    first, with who and why."""
    if case.kind == "kyb":
        rows = list(Merchant.history.filter(id=case.merchant.pk).select_related("history_user"))
        entries = _history_entries(rows, subject=lambda row: "Business")
    else:
        rows = list(MerchantPerson.history.filter(id=case.person.pk).select_related("history_user"))
        entries = _history_entries(rows, subject=lambda row: f"Person: {case.person}")
    entries.sort(key=lambda entry: entry.at, reverse=True)
    return entries


def review_merchant_get(*, merchant_id) -> Merchant | None:
    return Merchant.objects.select_related("lead").filter(pk=merchant_id).first()


def merchant_search(*, query: str) -> list[Merchant]:
    """Merchants by legal name, lead business name or email (for the audit timeline)."""
    query = (query or "").strip()
    if not query:
        return []
    return list(
        Merchant.objects.filter(
            Q(legal_business_name__icontains=query)
            | Q(lead__business_name__icontains=query)
            | Q(lead__email__icontains=query)
        )
        .select_related("lead")
        .order_by("legal_business_name", "pk")[:SEARCH_LIMIT]
    )


# --- Audit timeline ---------------------------------------------------------------------------

STATE = "state"
DECISION = "decision"
EMAIL = "email"
INTEGRATION = "integration"
NOTE = "note"
# The kinds a timeline can be filtered by (?kind=...), in the page's order.
TIMELINE_KINDS = [
    (STATE, "State changes"),
    (DECISION, "Decisions"),
    (EMAIL, "Emails"),
    (INTEGRATION, "Integrations"),
    (NOTE, "Notes"),
]


@dataclass
class TimelineEntry:
    at: datetime
    kind: str
    subject: str
    who: str
    what: str
    why: str
    details: dict = field(default_factory=dict)
    kind_key: str = STATE

    @property
    def details_json(self) -> str:
        return json.dumps(self.details, sort_keys=True, default=str) if self.details else ""


def _compared_fields(historical_model) -> list[str]:
    return [
        f.attname
        for f in historical_model._meta.fields
        if not f.name.startswith("history_") and f.name not in _HIDDEN_FIELDS
    ]


def _changes(previous, current, names: list[str], words: FieldWords, related: dict) -> str:
    changed = [
        f"{words.label(name)}: {words.value(name, getattr(previous, name), related)} → "
        f"{words.value(name, getattr(current, name), related)}"
        for name in names
        if getattr(previous, name) != getattr(current, name)
    ]
    if getattr(previous, "ein_hash", None) != getattr(current, "ein_hash", None):
        changed.append("EIN changed")
    return "; ".join(changed) or "saved, no visible change"


def _related_pairs(rows, names: list[str], words: FieldWords):
    for name in names:
        model = words.related_model(name)
        if model is not None:
            for row in rows:
                yield model, getattr(row, name)


def _history_entries(rows, *, subject) -> list[TimelineEntry]:
    """One entry per history row, saying in words what changed since the object's previous
    row."""
    if not rows:
        return []
    names = _compared_fields(type(rows[0]))
    words = FieldWords(rows[0].instance_type)
    related = related_names(_related_pairs(rows, names, words))
    entries = []
    ordered = sorted(rows, key=lambda r: (str(r.id), r.history_date, r.history_id))
    for _object_id, versions in groupby(ordered, key=lambda r: r.id):
        previous = None
        for row in versions:
            if row.history_type == "+":
                what = "created"
            elif row.history_type == "-":
                what = "deleted"
            elif previous is None:
                what = "changed (earlier versions not kept)"
            else:
                what = _changes(previous, row, names, words, related)
            entries.append(
                TimelineEntry(
                    at=row.history_date,
                    kind="Change",
                    subject=subject(row),
                    who=row.history_user.email if row.history_user else "system",
                    what=what,
                    why=row.history_change_reason or "",
                    kind_key=STATE,
                )
            )
            previous = row
    return entries


def _decision_entry(row: KybKycAuditLog) -> TimelineEntry:
    if row.reviewed_by is not None:
        who = row.reviewed_by.email
    else:
        who = f"provider ({row.check_provider})" if row.check_provider else "provider"
    subject = "Business" if row.person is None else f"Person: {row.person}"
    what = f"{row.check_type.upper()} {row.get_decision_display().lower()}"
    if row.risk_score is not None:
        what += f" (risk score {row.risk_score})"
    return TimelineEntry(
        at=row.completed_at,
        kind=f"{row.check_type.upper()} decision",
        subject=subject,
        who=who,
        what=what,
        why=row.reviewer_notes or row.decision_reason,
        details={
            "reference": row.check_reference,
            "request": row.request_payload,
            "response": row.response_payload,
        },
        kind_key=DECISION,
    )


def _event_entries(subjects: dict) -> list[TimelineEntry]:
    """Outbox events about the merchant, its lead, persons and bank accounts: emails apart
    (an event whose type names an email), the rest as integrations."""
    events = IntegrationEvent.objects.filter(aggregate_id__in=list(subjects)).only(
        "event_type", "aggregate_id", "occurred_at", "published", "last_publish_error"
    )
    entries = []
    for event in events:
        is_email = "email" in event.event_type
        state = "sent" if event.published else ("failing" if event.last_publish_error else "queued")
        entries.append(
            TimelineEntry(
                at=event.occurred_at,
                kind="Email" if is_email else "Integration event",
                subject=subjects.get(event.aggregate_id, "Business"),
                who="system",
                what=f"{event_words(event.event_type)} ({state})",
                why=event.last_publish_error[:200] if event.last_publish_error else "",
                kind_key=EMAIL if is_email else INTEGRATION,
            )
        )
    return entries


def _sync_words(sync) -> str:
    what = f"{sync.get_external_system_display()} sync {sync.get_sync_status_display().lower()}"
    return what + (f" after {sync.retry_count} retries" if sync.retry_count else "")


def _sync_entries(subjects: dict) -> list[TimelineEntry]:
    syncs = ExternalSystemSync.objects.filter(entity_id__in=list(subjects))
    return [
        TimelineEntry(
            at=sync.updated_at,
            kind="Integration",
            subject=subjects.get(sync.entity_id, "Business"),
            who="system",
            what=_sync_words(sync),
            why=sync.last_error[:200] if sync.last_error else "",
            kind_key=INTEGRATION,
        )
        for sync in syncs
    ]


def _note_entries(merchant: Merchant) -> list[TimelineEntry]:
    notes = AssignmentNote.objects.filter(
        Q(assignment__merchant=merchant) | Q(assignment__lead_id=merchant.lead_id)
    ).select_related("author", "assignment__queue")
    entries = [
        TimelineEntry(
            at=note.created_at,
            kind="Note",
            subject=f"{note.assignment.queue.queue_name} item",
            who=note.author.email if note.author else "system",
            what=note.body,
            why="",
            kind_key=NOTE,
        )
        for note in notes
    ]
    for alert in StallAlert.objects.filter(merchant=merchant).exclude(notes=[]):
        for note in alert.notes or []:
            try:
                at = datetime.fromisoformat(note.get("at", ""))
            except (TypeError, ValueError):
                continue
            entries.append(
                TimelineEntry(
                    at=at,
                    kind="Note",
                    subject=f"{alert.get_alert_type_display()} alert",
                    who=note.get("author") or "system",
                    what=note.get("body", ""),
                    why="",
                    kind_key=NOTE,
                )
            )
    return entries


def merchant_audit_timeline(*, merchant: Merchant, kinds=None) -> list[TimelineEntry]:
    """Every KYB/KYC decision, every recorded change of the merchant, its persons and bank
    accounts, the emails and integration events and syncs about them, and the notes staff
    left on its queue items and alerts, with who and why, newest first; only `kinds` (keys of
    TIMELINE_KINDS) when given. PII never appears: the history tables do not keep the
    encrypted fields, and bank accounts are named by their masked number. A fixed number of
    queries whatever the number of rows."""
    kinds = set(kinds or [key for key, _ in TIMELINE_KINDS])
    persons = MerchantPerson.objects.filter(merchant=merchant).values_list(
        "id", "first_name", "last_name"
    )
    masked_numbers = {
        account.pk: account.account_number_masked
        for account in MerchantBankAccount.objects.filter(merchant=merchant)
    }
    subjects = {merchant.pk: "Business", merchant.lead_id: "Lead"}
    subjects.update({pk: f"Person: {first} {last}" for pk, first, last in persons})
    subjects.update({pk: f"Bank account {number}" for pk, number in masked_numbers.items()})

    entries = []
    if DECISION in kinds:
        decisions = KybKycAuditLog.objects.filter(merchant=merchant).select_related(
            "reviewed_by", "person"
        )
        entries += [_decision_entry(row) for row in decisions]
    if STATE in kinds:
        entries += _history_entries(
            list(Merchant.history.filter(id=merchant.pk).select_related("history_user")),
            subject=lambda row: "Business",
        )
        entries += _history_entries(
            list(
                MerchantPerson.history.filter(merchant_id=merchant.pk).select_related(
                    "history_user"
                )
            ),
            subject=lambda row: f"Person: {row.first_name} {row.last_name}",
        )
        entries += _history_entries(
            list(
                MerchantBankAccount.history.filter(merchant_id=merchant.pk).select_related(
                    "history_user"
                )
            ),
            subject=lambda row: f"Bank account {masked_numbers.get(row.id, '')}".strip(),
        )
    if kinds & {EMAIL, INTEGRATION}:
        entries += [e for e in _event_entries(subjects) if e.kind_key in kinds]
    if INTEGRATION in kinds:
        entries += _sync_entries(subjects)
    if NOTE in kinds:
        entries += _note_entries(merchant)
    entries.sort(key=lambda entry: entry.at, reverse=True)
    return entries


# --- Data access log --------------------------------------------------------------------------


def _day_start(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def data_access_list(
    *, user: str = "", merchant: str = "", date_from=None, date_to=None
) -> QuerySet[DataAccessAuditLog]:
    """The data access log, newest first: `user` matches the email (part of it), `merchant`
    a merchant's id or (part of) its legal name; days are the viewer's time zone's, both
    included."""
    rows = DataAccessAuditLog.objects.select_related("user")
    if user:
        rows = rows.filter(user_email__icontains=user)
    if merchant:
        try:
            rows = rows.filter(merchant_id=uuid.UUID(merchant))
        except ValueError:
            named = Merchant.objects.filter(legal_business_name__icontains=merchant)
            rows = rows.filter(merchant_id__in=named.values("pk"))
    if date_from:
        rows = rows.filter(accessed_at__gte=_day_start(date_from))
    if date_to:
        rows = rows.filter(accessed_at__lt=_day_start(date_to + timedelta(days=1)))
    return rows.order_by("-accessed_at", "-pk")


def merchant_names(merchant_ids) -> dict:
    """Legal names of the merchants a page of log rows names (one query)."""
    ids = {pk for pk in merchant_ids if pk}
    if not ids:
        return {}
    return dict(Merchant.objects.filter(pk__in=ids).values_list("pk", "legal_business_name"))


# --- KYB/KYC decision log ---------------------------------------------------------------------


def _previous_decision(*, same_subject: dict):
    earlier = Q(completed_at__lt=OuterRef("completed_at")) | Q(
        completed_at=OuterRef("completed_at"), created_at__lt=OuterRef("created_at")
    )
    return Subquery(
        KybKycAuditLog.objects.filter(earlier, check_type=OuterRef("check_type"), **same_subject)
        .order_by("-completed_at", "-created_at")
        .values("decision")[:1]
    )


def decision_list(*, date_from, date_to) -> QuerySet[KybKycAuditLog]:
    """Every KYB/KYC decision completed in the range (the viewer's days, both included),
    oldest first, with the decision before it on the same subject (`previous_decision`:
    the person's for KYC, the business's for KYB; null for the first)."""
    return (
        KybKycAuditLog.objects.filter(
            completed_at__gte=_day_start(date_from),
            completed_at__lt=_day_start(date_to + timedelta(days=1)),
        )
        .select_related("reviewed_by", "merchant", "person")
        .annotate(
            previous_decision=Coalesce(
                _previous_decision(same_subject={"person": OuterRef("person")}),
                _previous_decision(
                    same_subject={"person__isnull": True, "merchant": OuterRef("merchant")}
                ),
            )
        )
        .order_by("completed_at", "created_at")
    )


def reveal_subjects(*, merchant: Merchant) -> list[tuple[str, object]]:
    """What on a merchant's page can be revealed: the business (EIN), each person (SSN and
    date of birth), each bank account (numbers), as (kind, object) for the reveal include."""
    persons = MerchantPerson.objects.filter(merchant=merchant).order_by("created_at", "pk")
    accounts = MerchantBankAccount.objects.filter(merchant=merchant).order_by("created_at", "pk")
    return [
        ("merchant", merchant),
        *(("person", person) for person in persons),
        *(("bank_account", account) for account in accounts),
    ]
