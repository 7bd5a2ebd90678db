"""What the stall sweep's outbox events lead to, one merchant at a time. Each follow-up runs
from an outbox handler (apps/progress/handlers.py) after the sweep commits, at least once and
idempotently, each delivery in its own transaction: it re-reads (and locks) the alert or
merchant and does nothing when the work is done already.

- `alert.raised` (stalled): one nudge email to the merchant linking to the step's page,
  sent with the alert id as the email provider's idempotency key (a redelivery never emails
  twice); for a self-serve merchant, one item in the policy's intervention queue (IC
  intervention), linked from the alert so it is queued once per open alert.
- `alert.raised` (abandoned): the journey is marked abandoned (merchant_journey_abandon).
- `merchant.lost`: the lead is marked lost (lead_mark_lost), unless it closed or converted
  meanwhile or the journey resumed. The sweep records it only while no such event is waiting.
"""

from django.db import transaction
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from apps.core.fsm import save_tracked
from apps.core.links import absolute_url, step_link_url
from apps.integrations.providers import get_provider
from apps.leads.models import OPEN_LEAD_STATUSES, Cohort, Lead
from apps.leads.services import lead_mark_lost
from apps.merchants.choices import JourneyStatus
from apps.merchants.models import Merchant
from apps.merchants.selectors.steps import merchant_step
from apps.progress.models import (
    OPEN_ALERT_STATUSES,
    SEVERITY_RANK,
    MerchantStepProgress,
    StallAlert,
    StallPolicy,
)
from apps.routing.models import OPEN_ASSIGNMENT_STATUSES, QueueAssignment
from apps.routing.services.routing import assignment_enqueue

# The page of each step a nudge email links to (URL names; merchants:dashboard otherwise).
# Step 6 (payment) needs an order in its URL: the dashboard leads there.
STEP_PAGES = {
    3: "merchants:kyb",
    4: "orders:quote",
    5: "orders:quote",
    7: "merchants:kyc",
    8: "merchants:data_import",
    9: "merchants:hardware_setup",
    10: "merchants:final_config",
}
DASHBOARD_PAGE = "merchants:dashboard"
NUDGE_SUBJECT = "Pick up where you left off: {step}"


def _open_alert_for_update(alert_id) -> StallAlert | None:
    alert = StallAlert.objects.select_for_update().filter(pk=alert_id).first()
    if alert is None or alert.alert_status not in OPEN_ALERT_STATUSES or not alert.merchant_id:
        return None
    return alert


def stall_follow_up(*, alert_id) -> StallAlert | None:
    """For a new stalled alert: queue a self-serve merchant for IC intervention (once per
    alert), then send the merchant one nudge email (once per alert, whatever the retries)."""
    with transaction.atomic():
        alert = _open_alert_for_update(alert_id)
        if alert is None:
            return None
        merchant = Merchant.objects.select_related("user", "lead").get(pk=alert.merchant_id)
        if merchant.cohort == Cohort.SELF_SERVE:
            stall_intervention_enqueue(alert=alert, merchant=merchant)
        stall_nudge_send(alert=alert, merchant=merchant)
    return alert


def stall_intervention_enqueue(*, alert: StallAlert, merchant: Merchant):
    """Put the merchant in its policy's intervention queue, once per open alert: the item is
    linked from the alert. A merchant already waiting in that queue (an earlier step's alert)
    is not queued twice: the alert is linked to that item."""
    if alert.queue_assignment_id is not None:
        return alert.queue_assignment
    policy = (
        StallPolicy.objects.select_related("intervention_queue")
        .filter(cohort=merchant.cohort)
        .first()
    )
    queue = policy.intervention_queue if policy else None
    if queue is None or not queue.is_active:
        return None
    step = alert.step
    reason = f"Stalled {alert.days_stalled} days on step {step.id} ({step.step_name})"
    with transaction.atomic():
        assignment = (
            QueueAssignment.objects.filter(
                queue=queue,
                merchant=merchant,
                lead__isnull=True,
                status__in=OPEN_ASSIGNMENT_STATUSES,
            )
            .order_by("queued_at")
            .first()
        )
        if assignment is None:
            assignment = assignment_enqueue(
                queue=queue,
                merchant=merchant,
                priority=SEVERITY_RANK.get(alert.severity, 0),
                reason=reason,
                actor=None,
            )
        alert.queue_assignment = assignment
        save_tracked(
            alert,
            actor=None,
            reason=f"stall_intervention_enqueue: {queue.code}",
            update_fields=["queue_assignment", "updated_at"],
        )
        progress = MerchantStepProgress.objects.filter(
            merchant=merchant, step_id=alert.step_id
        ).first()
        if progress is not None and not progress.intervention_required:
            progress.intervention_required = True
            progress.intervention_reason = reason
            progress.intervention_triggered_at = timezone.now()
            save_tracked(
                progress,
                actor=None,
                reason=f"stall_intervention_enqueue: {queue.code}",
                update_fields=[
                    "intervention_required",
                    "intervention_reason",
                    "intervention_triggered_at",
                    "updated_at",
                ],
            )
    return assignment


def step_page_url(step_id: int | None, *, merchant_id=None) -> str:
    """The absolute URL of the page where the merchant continues `step_id`; the dashboard
    when that page does not exist (yet) or needs more than the step to be found. With
    `merchant_id`: that merchant's step link to the page (signed, expiring, resumable
    whether or not they are signed in: apps.core.links.step_link_url)."""
    path = None
    for name in (STEP_PAGES.get(step_id), DASHBOARD_PAGE):
        if not name:
            continue
        try:
            path = reverse(name)
        except NoReverseMatch:
            continue
        break
    if merchant_id is not None:
        return step_link_url(merchant_id=merchant_id, step_id=step_id, path=path or "/")
    return absolute_url(path or "/")


def stall_nudge_send(*, alert: StallAlert, merchant: Merchant) -> dict | None:
    """One email per alert: the alert id is the email provider's idempotency key."""
    to = (merchant.user.email if merchant.user_id else "") or merchant.lead.email
    if not to:
        return None
    step = alert.step
    # The merchant's words for the step ("Verify your business"), never the internal name.
    words = merchant_step(step.id, fallback=step.step_name)
    context = {
        "merchant": merchant,
        "first_name": merchant.lead.first_name,
        "step": step,
        "step_words": words,
        "days": alert.days_stalled,
        "url": step_page_url(step.id, merchant_id=merchant.pk),
    }
    return get_provider("email").send(
        idempotency_key=str(alert.pk),
        to=to,
        subject=NUDGE_SUBJECT.format(step=words.title),
        body=render_to_string("progress/email/stall_nudge.txt", context),
    )


def abandonment_follow_up(*, alert_id) -> Merchant | None:
    """For a new abandoned alert: mark the journey abandoned (if it is still in progress)
    and stamp the step's abandoned_at."""
    # Local, as it was: apps.merchants.services imports apps.progress (another split owns it).
    from apps.merchants.services.journey import merchant_journey_abandon

    with transaction.atomic():
        alert = _open_alert_for_update(alert_id)
        if alert is None:
            return None
        merchant = Merchant.objects.select_for_update().get(pk=alert.merchant_id)
        if merchant.journey_status != JourneyStatus.IN_PROGRESS:
            return merchant
        merchant_journey_abandon(
            merchant=merchant,
            actor=None,
            reason=f"no activity on step {alert.step_id} for {alert.days_stalled} days",
        )
        progress = MerchantStepProgress.objects.filter(
            merchant=merchant, step_id=alert.step_id
        ).first()
        if progress is not None:
            progress.abandoned_at = merchant.journey_abandoned_at or timezone.now()
            save_tracked(
                progress,
                actor=None,
                reason="stall_sweep: journey abandoned",
                update_fields=["abandoned_at", "updated_at"],
            )
    return merchant


def lead_lost_follow_up(*, merchant_id, days_inactive: int | None = None):
    """Mark the merchant's lead lost, if its journey is still abandoned and the lead open."""
    with transaction.atomic():
        merchant = Merchant.objects.filter(pk=merchant_id).first()
        if merchant is None or merchant.journey_status != JourneyStatus.ABANDONED:
            return None
        lead = Lead.objects.select_for_update().get(pk=merchant.lead_id)
        if lead.status not in OPEN_LEAD_STATUSES:
            return lead
        days = f" for {days_inactive} days" if days_inactive is not None else ""
        return lead_mark_lost(lead=lead, actor=None, reason=f"Journey abandoned: no activity{days}")
