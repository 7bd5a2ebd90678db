"""Retention (issue 16, README "Compliance"): what the portal stops holding, and when.

One job, daily (apps/core/jobs.py "retention-purge" → apps.compliance.tasks.retention_run)
or by hand (`manage.py retention_run [--dry-run]`). Each kind of data is one set-based
statement or two: an UPDATE or DELETE over a subquery that selects the rows, never a loop
over rows in Python, so a run costs the same number of queries for ten rows or a million.
Each run is a RetentionRun row with its counts (shown on /staff/compliance/operations/).

- Leads lost or disqualified more than RETENTION_CLOSED_LEAD_DAYS ago, and the leads of
  merchants below: names, email, phone, business name and free text replaced in the lead,
  its history rows, its repeat submissions and its outbox events' payloads. The keyed hash
  of the address (apps/core/keyed_hash.py) is kept: intake recognises a returning address.
- Merchants that never went live and were abandoned more than
  RETENTION_ABANDONED_MERCHANT_DAYS ago: the same for the business (EIN and its hash
  removed, so the business can sign up again), its people (SSN and date of birth removed),
  bank accounts (numbers replaced), locations, orders' billing and shipments' delivery
  addresses, imported customers, with their history rows and outbox payloads.
- KYB/KYC decision rows and data access log rows older than RETENTION_AUDIT_DAYS (7 years):
  deleted. The PostgreSQL trigger that refuses any change to them lets these DELETEs through
  because this transaction, and only it, sets RETENTION_SETTING first.
- Published outbox events older than RETENTION_OUTBOX_DAYS (90): deleted. Processed webhook
  bodies (payload and headers) older than RETENTION_WEBHOOK_DAYS (90): emptied, also in the
  webhook rows' history.

Anonymising rewrites history rows on purpose: keeping a person's old name in the history
would defeat it. The row's `anonymised_at` says when it happened.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from apps.compliance.models import DataAccessAuditLog, KybKycAuditLog, RetentionRun
from apps.core.db import history_insert
from apps.core.keyed_hash import KeyedHash
from apps.integrations.models import (
    ExternalSystemSync,
    IntegrationEvent,
    WebhookEvent,
    WebhookStatus,
)
from apps.leads.models import Lead, LeadStatus, LeadSubmission
from apps.merchants.choices import JourneyStatus
from apps.merchants.models import (
    ImportedCustomer,
    Merchant,
    MerchantBankAccount,
    MerchantLocation,
    MerchantPerson,
)
from apps.orders.models import HardwareShipment, Order
from apps.progress.models import StallAlert
from apps.routing.models import AssignmentNote

# The PostgreSQL setting the audit rows' trigger reads (compliance migration 0003).
RETENTION_SETTING = "compliance.retention_job"
ANONYMISED = "anonymised"
ANONYMISED_DOMAIN = "anonymised.invalid"
ANONYMISED_PAYLOAD = {"anonymised": True}
# A placeholder in encrypted columns that cannot be empty: it is encrypted like any value.
ANONYMISED_NUMBER = "000000000"


@dataclass(frozen=True)
class Cutoffs:
    closed_leads: object
    abandoned_merchants: object
    audit: object
    outbox: object
    webhooks: object

    @classmethod
    def at(cls, now):
        def days(name):
            return now - timedelta(days=getattr(settings, name))

        return cls(
            closed_leads=days("RETENTION_CLOSED_LEAD_DAYS"),
            abandoned_merchants=days("RETENTION_ABANDONED_MERCHANT_DAYS"),
            audit=days("RETENTION_AUDIT_DAYS"),
            outbox=days("RETENTION_OUTBOX_DAYS"),
            webhooks=days("RETENTION_WEBHOOK_DAYS"),
        )


# --- What each rule selects -------------------------------------------------------------------


def _abandoned_never_live(cutoffs: Cutoffs) -> Q:
    return Q(
        journey_status=JourneyStatus.ABANDONED,
        journey_abandoned_at__lt=cutoffs.abandoned_merchants,
        activated_at__isnull=True,
        is_active=False,
    )


def merchants_due(cutoffs: Cutoffs):
    return Merchant.objects.filter(_abandoned_never_live(cutoffs), anonymised_at__isnull=True)


def leads_due(cutoffs: Cutoffs):
    closed = Q(
        status__in=[LeadStatus.LOST, LeadStatus.DISQUALIFIED],
        closed_at__lt=cutoffs.closed_leads,
    ) & ~Q(merchant__is_active=True)
    abandoned = Q(merchant__in=Merchant.objects.filter(_abandoned_never_live(cutoffs)).values("pk"))
    return Lead.objects.filter(closed | abandoned, anonymised_at__isnull=True)


# --- Replacements -----------------------------------------------------------------------------


def _tagged(prefix: str, suffix: str = ""):
    """'<prefix><row id><suffix>': unique per row, for columns under a unique index."""
    return Concat(Value(prefix), Cast("id", models.CharField()), Value(suffix))


LEAD_REPLACEMENTS = {
    "email": _tagged(f"{ANONYMISED}-", f"@{ANONYMISED_DOMAIN}"),
    "first_name": Value(""),
    "last_name": Value(""),
    "phone": Value(""),
    "business_name": Value(ANONYMISED),
    "close_reason": Value(""),
    # An override keeps a reason (a check constraint), no longer the words an AE wrote.
    "cohort_override_reason": Case(
        When(cohort_overridden_at__isnull=False, then=Value(ANONYMISED)), default=Value("")
    ),
    "referrer": Value(""),
    "region": Value(""),
    "external_lead_id": Value(None),
}
MERCHANT_REPLACEMENTS = {
    "legal_business_name": Value(ANONYMISED),
    "ein": None,
    "ein_hash": Value(None),
    "registered_address_line1": Value(""),
    "registered_address_line2": Value(""),
    "registered_postal_code": Value(""),
    "kyb_rejection_reason": Value(""),
    "blocked_reason": Value(""),
}
PERSON_REPLACEMENTS = {
    "first_name": Value(ANONYMISED),
    "last_name": Value(""),
    "email": Value(""),
    "phone": Value(""),
    "ssn": None,
    "date_of_birth": None,
    "address_line1": Value(""),
    "address_line2": Value(""),
    "postal_code": Value(""),
    "title": Value(""),
}
BANK_REPLACEMENTS = {
    "account_holder_name": Value(ANONYMISED),
    "account_number": ANONYMISED_NUMBER,
    "routing_number": ANONYMISED_NUMBER,
    "verification_failure_reason": Value(""),
}
LOCATION_REPLACEMENTS = {
    "location_name": Value(ANONYMISED),
    "address_line1": Value(ANONYMISED),
    "address_line2": Value(""),
    "postal_code": Value(""),
    "phone": Value(""),
    "email": Value(""),
}
ORDER_REPLACEMENTS = {
    "billing_address_line1": Value(""),
    "billing_address_line2": Value(""),
    "billing_postal_code": Value(""),
}
SHIPMENT_REPLACEMENTS = {
    "ship_to_name": Value(ANONYMISED),
    "ship_to_address_line1": Value(ANONYMISED),
    "ship_to_address_line2": Value(""),
    "ship_to_postal_code": Value(""),
    "ship_to_phone": Value(""),
}
CUSTOMER_REPLACEMENTS = {
    "first_name": Value(ANONYMISED),
    "last_name": Value(""),
    "email": _tagged(f"{ANONYMISED}-", f"@{ANONYMISED_DOMAIN}"),
    "phone": Value(""),
}


def _replace(model, rows_filter: Q, replacements: dict, *, history: bool = True) -> int:
    """One UPDATE of the rows, one of their history rows (same ids); the row count."""
    if history and hasattr(model, "history"):
        # History first: the rows' filter may depend on what the second UPDATE changes.
        historical = model.history.model
        names = {f.name for f in historical._meta.concrete_fields}
        kept = {name: value for name, value in replacements.items() if name in names}
        if kept:
            ids = model.objects.filter(rows_filter).values("pk")
            historical.objects.filter(id__in=ids).update(**kept)
    return model.objects.filter(rows_filter).update(**replacements)


def _payloads_replace(aggregate_ids) -> int:
    return IntegrationEvent.objects.filter(aggregate_id__in=aggregate_ids).update(
        event_payload=ANONYMISED_PAYLOAD
    )


# --- The run ----------------------------------------------------------------------------------


def _dry_counts(cutoffs: Cutoffs) -> dict[str, int]:
    return {
        "leads_anonymised": leads_due(cutoffs).count(),
        "merchants_anonymised": merchants_due(cutoffs).count(),
        "decisions_deleted": KybKycAuditLog.objects.filter(completed_at__lt=cutoffs.audit).count(),
        "data_access_rows_deleted": DataAccessAuditLog.objects.filter(
            accessed_at__lt=cutoffs.audit
        ).count(),
        "outbox_events_deleted": _old_events(cutoffs).count(),
        "webhook_bodies_cleared": _old_webhooks(cutoffs).count(),
    }


def _old_events(cutoffs: Cutoffs):
    return IntegrationEvent.objects.filter(published=True, occurred_at__lt=cutoffs.outbox)


def _old_webhooks(cutoffs: Cutoffs):
    return WebhookEvent.objects.filter(
        status=WebhookStatus.PROCESSED, received_at__lt=cutoffs.webhooks
    ).exclude(payload={}, headers={})


def _merchants_anonymise(cutoffs: Cutoffs, now) -> int:
    due = merchants_due(cutoffs).values("pk")
    of_due = Q(merchant__in=due)
    persons = MerchantPerson.objects.filter(of_due).values("pk")
    accounts = MerchantBankAccount.objects.filter(of_due).values("pk")
    _payloads_replace(persons)
    _payloads_replace(accounts)
    _payloads_replace(due)
    _replace(MerchantPerson, of_due, PERSON_REPLACEMENTS)
    _replace(MerchantBankAccount, of_due, BANK_REPLACEMENTS)
    _replace(MerchantLocation, of_due, LOCATION_REPLACEMENTS)
    _replace(Order, of_due, ORDER_REPLACEMENTS)
    _replace(HardwareShipment, of_due, SHIPMENT_REPLACEMENTS)
    _replace(ImportedCustomer, of_due, CUSTOMER_REPLACEMENTS)
    _payloads_replace(Order.objects.filter(of_due).values("pk"))
    # The merchant's own rows last: `due` selects by anonymised_at, set here.
    return _replace(
        Merchant,
        Q(_abandoned_never_live(cutoffs), anonymised_at__isnull=True),
        {**MERCHANT_REPLACEMENTS, "anonymised_at": Value(now)},
    )


def _leads_anonymise(cutoffs: Cutoffs, now) -> int:
    due = leads_due(cutoffs)
    ids = due.values("pk")
    # The keyed hash first, from the address still there.
    due.update(email_hash=KeyedHash(F("email")))
    _payloads_replace(ids)
    LeadSubmission.objects.filter(lead__in=ids).update(details={}, referrer="")
    AssignmentNote.history.model.objects.filter(
        id__in=AssignmentNote.objects.filter(assignment__lead__in=ids).values("pk")
    ).update(body=ANONYMISED)
    AssignmentNote.objects.filter(assignment__lead__in=ids).update(body=ANONYMISED)
    # What staff wrote on the lead's or its merchant's stall alerts is free text too.
    _replace(
        StallAlert,
        Q(lead__in=ids) | Q(merchant__lead__in=ids),
        {"notes": Value([], output_field=models.JSONField()), "resolution_action": Value("")},
    )
    historical = Lead.history.model
    historical.objects.filter(id__in=ids).update(**LEAD_REPLACEMENTS)
    return leads_due(cutoffs).update(**LEAD_REPLACEMENTS, anonymised_at=now)


def _audit_rows_delete(cutoffs: Cutoffs) -> tuple[int, int]:
    """Rows past seven years, the only DELETE the append-only trigger lets through."""
    postgresql = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        if postgresql:
            cursor.execute(f"SET LOCAL {RETENTION_SETTING} = 'on'")
        decisions = KybKycAuditLog.objects.filter(completed_at__lt=cutoffs.audit).retention_delete()
        accesses = DataAccessAuditLog.objects.filter(
            accessed_at__lt=cutoffs.audit
        ).retention_delete()
        if postgresql:
            cursor.execute(f"SET LOCAL {RETENTION_SETTING} = 'off'")
    return decisions, accesses


def _events_delete(cutoffs: Cutoffs, now) -> int:
    """Delete the old published events. A sync still pointing at one loses the pointer, with
    a history row saying why (one UPDATE, one INSERT … SELECT: history_insert)."""
    old = _old_events(cutoffs)
    syncs = list(ExternalSystemSync.objects.filter(last_event__in=old.values("pk")).only("pk"))
    if syncs:
        ExternalSystemSync.objects.filter(pk__in=[sync.pk for sync in syncs]).update(
            last_event=None, updated_at=now
        )
        history_insert(
            ExternalSystemSync,
            syncs,
            history_type="~",
            when=now,
            default_reason="retention_run: its last outbox event was deleted",
        )
    # A plain DELETE: Django's delete() would load every event to run on_delete rules for
    # the pointer cleared above, and events send no delete signals.
    return models.QuerySet._raw_delete(old, old.db)


def _webhooks_clear(cutoffs: Cutoffs) -> int:
    old = _old_webhooks(cutoffs)
    WebhookEvent.history.model.objects.filter(id__in=old.values("pk")).update(
        payload={}, headers={}
    )
    return old.update(payload={}, headers={})


def retention_run(*, dry_run: bool = False, triggered_by: str = "schedule", now=None):
    """Apply (or, dry, count) every retention rule once, in one transaction; returns the
    RetentionRun with its counts."""
    now = now or timezone.now()
    cutoffs = Cutoffs.at(now)
    with transaction.atomic():
        if dry_run:
            counts = _dry_counts(cutoffs)
        else:
            merchants = _merchants_anonymise(cutoffs, now)
            leads = _leads_anonymise(cutoffs, now)
            decisions, accesses = _audit_rows_delete(cutoffs)
            counts = {
                "leads_anonymised": leads,
                "merchants_anonymised": merchants,
                "decisions_deleted": decisions,
                "data_access_rows_deleted": accesses,
                "outbox_events_deleted": _events_delete(cutoffs, now),
                "webhook_bodies_cleared": _webhooks_clear(cutoffs),
            }
        return RetentionRun.objects.create(
            started_at=now,
            finished_at=timezone.now(),
            dry_run=dry_run,
            triggered_by=triggered_by,
            counts=counts,
        )
