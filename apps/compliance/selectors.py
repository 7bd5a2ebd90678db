"""Read queries for the compliance pages: the KYB review queue, a merchant's audit timeline,
the data access log and the decision log. Each costs a fixed number of queries whatever the
number of rows."""

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from itertools import groupby

from django.db.models import OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.compliance.models import CheckType, DataAccessAuditLog, Decision, KybKycAuditLog
from apps.merchants.choices import CheckStatus
from apps.merchants.models import Merchant, MerchantBankAccount, MerchantPerson
from apps.routing.models import OPEN_ASSIGNMENT_STATUSES, QueueAssignment

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
_VALUE_LIMIT = 80


# --- KYB review queue -------------------------------------------------------------------------


@dataclass
class ReviewCase:
    merchant: Merchant
    audit_rows: list[KybKycAuditLog]
    provider_row: KybKycAuditLog | None
    queue_item: QueueAssignment | None
    form: object = None
    message: str = ""
    message_level: str = ""

    @property
    def pk(self):
        return self.merchant.pk


def kyb_review_list() -> QuerySet[Merchant]:
    """Merchants whose KYB waits for a reviewer, longest waiting first, with their KYB audit
    rows (newest first) and open compliance queue item."""
    audit = (
        KybKycAuditLog.objects.filter(check_type=CheckType.KYB)
        .select_related("reviewed_by")
        .order_by("-completed_at", "-created_at")
    )
    items = (
        QueueAssignment.objects.filter(
            queue__code=REVIEW_QUEUE, status__in=OPEN_ASSIGNMENT_STATUSES
        )
        .select_related("assigned_to")
        .order_by("queued_at", "pk")
    )
    return (
        Merchant.objects.filter(kyb_status=CheckStatus.REVIEW_REQUIRED)
        .select_related("lead")
        .prefetch_related(
            Prefetch("kyb_kyc_audit", queryset=audit, to_attr="kyb_audit"),
            Prefetch("assignments", queryset=items, to_attr="review_items"),
        )
        .order_by("kyb_submitted_at", "created_at", "pk")
    )


def review_case(merchant: Merchant) -> ReviewCase:
    """A merchant of kyb_review_list (its prefetched rows) as a case to decide."""
    rows = getattr(merchant, "kyb_audit", None)
    if rows is None:
        rows = list(
            merchant.kyb_kyc_audit.filter(check_type=CheckType.KYB)
            .select_related("reviewed_by")
            .order_by("-completed_at", "-created_at")
        )
    items = getattr(merchant, "review_items", [])
    provider_row = next(
        (r for r in rows if r.decision == Decision.REVIEW_REQUIRED and not r.manual_override),
        None,
    )
    return ReviewCase(
        merchant=merchant,
        audit_rows=rows,
        provider_row=provider_row,
        queue_item=items[0] if items else None,
    )


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


@dataclass
class TimelineEntry:
    at: datetime
    kind: str
    subject: str
    who: str
    what: str
    why: str
    details: dict = field(default_factory=dict)

    @property
    def details_json(self) -> str:
        return json.dumps(self.details, sort_keys=True, default=str) if self.details else ""


def _shown(value) -> str:
    text = "—" if value in (None, "") else str(value)
    return text if len(text) <= _VALUE_LIMIT else text[: _VALUE_LIMIT - 1] + "…"


def _compared_fields(historical_model) -> list[str]:
    return [
        f.attname
        for f in historical_model._meta.fields
        if not f.name.startswith("history_") and f.name not in _HIDDEN_FIELDS
    ]


def _changes(previous, current, names: list[str]) -> str:
    changed = [
        f"{name}: {_shown(getattr(previous, name))} → {_shown(getattr(current, name))}"
        for name in names
        if getattr(previous, name) != getattr(current, name)
    ]
    if getattr(previous, "ein_hash", None) != getattr(current, "ein_hash", None):
        changed.append("EIN changed")
    return "; ".join(changed) or "saved, no visible change"


def _history_entries(rows, *, subject) -> list[TimelineEntry]:
    """One entry per history row, saying what changed since the object's previous row."""
    if not rows:
        return []
    names = _compared_fields(type(rows[0]))
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
                what = _changes(previous, row, names)
            entries.append(
                TimelineEntry(
                    at=row.history_date,
                    kind="Change",
                    subject=subject(row),
                    who=row.history_user.email if row.history_user else "system",
                    what=what,
                    why=row.history_change_reason or "",
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
    )


def merchant_audit_timeline(*, merchant: Merchant) -> list[TimelineEntry]:
    """Every KYB/KYC decision and every recorded change of the merchant, its persons and
    its bank accounts, with who and why, newest first. PII never appears: the history
    tables do not keep the encrypted fields, and bank accounts are named by their masked
    number."""
    decisions = (
        KybKycAuditLog.objects.filter(merchant=merchant)
        .select_related("reviewed_by", "person")
        .order_by("-completed_at")
    )
    merchant_rows = list(Merchant.history.filter(id=merchant.pk).select_related("history_user"))
    person_rows = list(
        MerchantPerson.history.filter(merchant_id=merchant.pk).select_related("history_user")
    )
    bank_rows = list(
        MerchantBankAccount.history.filter(merchant_id=merchant.pk).select_related("history_user")
    )
    masked_numbers = {
        account.pk: account.account_number_masked
        for account in MerchantBankAccount.objects.filter(merchant=merchant)
    }

    entries = [_decision_entry(row) for row in decisions]
    entries += _history_entries(merchant_rows, subject=lambda row: "Business")
    entries += _history_entries(
        person_rows, subject=lambda row: f"Person: {row.first_name} {row.last_name}"
    )
    entries += _history_entries(
        bank_rows,
        subject=lambda row: f"Bank account {masked_numbers.get(row.id, '')}".strip(),
    )
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
