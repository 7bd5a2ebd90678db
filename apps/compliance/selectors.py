"""Read queries for the compliance pages: the KYB and KYC review cases and a merchant's audit
timeline. Each costs a fixed number of queries whatever the number of rows."""

import json
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby

from django.db.models import CharField, F, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.template.defaultfilters import floatformat

from apps.compliance.models import CheckType, Decision, KybKycAuditLog
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
        from apps.routing.selectors import sla_clock

        return sla_clock(self.queue_item) if self.queue_item is not None else None


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
