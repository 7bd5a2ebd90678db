"""The staff home (/staff/): what each role needs first, every figure with the list it counts.

- AE and IC: my open items (held queue items, with their SLA clock), items due soon in my
  queues, my alerts (claimed by me) and the open alerts nobody claimed, my queues with counts.
- Compliance: the compliance review queue's counts, KYB and KYC cases under review.
- Ops: every queue with counts, integration failures per system and the latest of them
  (each linked to its merchant), the funnel's headline and open alerts by severity.
A superuser sees every section.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Q
from django.utils import timezone

from apps.accounts import roles
from apps.integrations import selectors as integration_selectors
from apps.merchants.choices import CheckStatus
from apps.merchants.models import Merchant, MerchantPerson
from apps.progress import selectors as progress_selectors
from apps.progress.models import OPEN_ALERT_STATUSES, StallAlert
from apps.routing import selectors as routing_selectors
from apps.routing.models import HELD_STATUSES, OPEN_ASSIGNMENT_STATUSES, QueueAssignment

LIST_LIMIT = 10
# The latest failed or conflicting syncs on the ops home; the console lists them all.
FAILED_SYNCS_LIMIT = 5
# "Due soon" on the home page: not contacted and due within this window (or already past).
DUE_SOON_WINDOW = timedelta(hours=1)
COMPLIANCE_QUEUE = "compliance_review"


@dataclass
class HomeSections:
    """What the home page shows; a section is None when the user's roles do not see it."""

    role_names: set[str]
    my_items: list | None = None
    my_items_count: int = 0
    due_soon: list | None = None
    due_soon_count: int = 0
    my_alerts: list | None = None
    my_alerts_count: int = 0
    unclaimed_alerts_count: int = 0
    queues: list | None = None
    compliance: dict | None = None
    integrations: list | None = None
    integrations_total: int = 0
    failed_syncs: list | None = None
    funnel: dict | None = None
    alerts_by_severity: list | None = None
    sees: set[str] = field(default_factory=set)


def _sees(user, role_names: set[str]) -> set[str]:
    return set(roles.STAFF_ROLES) if user.is_superuser else role_names & set(roles.STAFF_ROLES)


def _item_rows():
    return QueueAssignment.objects.select_related(
        "queue", "lead", "lead__merchant", "merchant", "assigned_to"
    )


def _my_items(user, now: datetime) -> tuple[list, int]:
    items = _item_rows().filter(assigned_to=user, status__in=HELD_STATUSES)
    count = items.count()
    rows = list(items.order_by("sla_due_at", "-priority", "queued_at", "pk")[:LIST_LIMIT])
    return routing_selectors.with_sla_clocks(rows, now), count


def _due_soon(queues, now: datetime) -> tuple[list, int]:
    items = _item_rows().filter(
        queue__in=queues,
        status__in=OPEN_ASSIGNMENT_STATUSES,
        first_contact_at__isnull=True,
        sla_due_at__isnull=False,
        sla_due_at__lte=now + DUE_SOON_WINDOW,
    )
    count = items.count()
    rows = list(items.order_by("sla_due_at", "pk")[:LIST_LIMIT])
    return routing_selectors.with_sla_clocks(rows, now), count


def _my_alerts(user) -> tuple[list, int, int]:
    open_alerts = StallAlert.objects.filter(alert_status__in=OPEN_ALERT_STATUSES)
    figures = open_alerts.aggregate(
        mine=Count("pk", filter=Q(assigned_to=user)),
        unclaimed=Count("pk", filter=Q(assigned_to__isnull=True)),
    )
    rows = list(
        open_alerts.filter(assigned_to=user)
        .select_related("merchant", "lead", "step")
        .order_by("-stall_detected_at", "pk")[:LIST_LIMIT]
    )
    return rows, figures["mine"], figures["unclaimed"]


def _compliance_figures(queues, counts) -> dict:
    review_queue = next((q for q in queues if q.code == COMPLIANCE_QUEUE), None)
    kyb = Merchant.objects.filter(kyb_status=CheckStatus.REVIEW_REQUIRED).count()
    kyc = MerchantPerson.objects.filter(kyc_status=CheckStatus.REVIEW_REQUIRED).count()
    return {
        "kyb_under_review": kyb,
        "kyc_under_review": kyc,
        "queue": review_queue,
        "queue_counts": counts.get(review_queue.pk) if review_queue else None,
    }


def _funnel_headline() -> dict:
    rows = progress_selectors.funnel_by_cohort()
    return next(row for row in rows if row["cohort"] == "all")


def _home_queues(user, role_names: set[str], sees: set[str]) -> list:
    """The queues on the home: those the queue screens show the user, plus the compliance
    review queue for compliance (its list is /staff/compliance/)."""
    queues = []
    if sees & {roles.AE, roles.IC, roles.OPS}:
        queues = routing_selectors.queue_list_for(user, role_names)
    if roles.COMPLIANCE in sees and not any(q.code == COMPLIANCE_QUEUE for q in queues):
        review = routing_selectors.queue_get(code=COMPLIANCE_QUEUE)
        if review is not None:
            queues.append(review)
    return queues


def staff_home(*, user, now: datetime | None = None) -> HomeSections:
    """The sections of `user`'s home. At most 15 queries (a superuser), plus one per entity
    type among the few latest failed syncs, whatever the number of items, alerts, syncs or
    merchants."""
    now = now or timezone.now()
    role_names = routing_selectors.user_role_names(user)
    sees = _sees(user, role_names)
    home = HomeSections(role_names=role_names, sees=sees)
    queues = _home_queues(user, role_names, sees)
    counts = routing_selectors.queue_counts(queues, user=user, now=now) if queues else {}
    home.queues = [(queue, counts[queue.pk]) for queue in queues]
    home.my_items, home.my_items_count = _my_items(user, now)
    home.due_soon, home.due_soon_count = _due_soon(queues, now)
    if sees & {roles.AE, roles.IC, roles.OPS}:
        home.my_alerts, home.my_alerts_count, home.unclaimed_alerts_count = _my_alerts(user)
    if roles.COMPLIANCE in sees:
        home.compliance = _compliance_figures(queues, counts)
    if roles.OPS in sees:
        home.integrations = progress_selectors.failed_integrations_by_system()
        home.integrations_total = sum(r["failed"] + r["conflict"] for r in home.integrations)
        home.failed_syncs = integration_selectors.syncs_with_owners(
            integration_selectors.sync_attention_list()[:FAILED_SYNCS_LIMIT]
        )
        home.funnel = _funnel_headline()
        home.alerts_by_severity = progress_selectors.open_alerts_by_severity()
    return home
