"""The rows of the volume data (apps/demo/volume.py runs them): one builder per table
group, each appending unsaved model instances to the chunk being built. Proportions, timings
and states follow the journey: KYB before step 4, payment at step 6, KYC at step 7."""

import random
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from apps.accounts.models import User
from apps.accounts.roles import AE, IC
from apps.demo.data import BUSINESS_STRUCTURES, MARKETING, PLACES, VERTICALS
from apps.demo.reference import INTERVENTION_QUEUE
from apps.leads.models import Cohort, Lead, LeadStatus, SetupPlan
from apps.merchants.choices import CheckStatus, JourneyStatus
from apps.merchants.models import Merchant, MerchantLocation
from apps.orders.models import Order, OrderItem, Payment, Product
from apps.orders.models.order import (
    FulfillmentStatus,
    ItemFulfillmentStatus,
    OrderPaymentStatus,
    OrderStatus,
)
from apps.orders.models.payment import PaymentStatus
from apps.progress.models import (
    AlertStatus,
    AlertType,
    JourneyStep,
    MerchantStepProgress,
    Severity,
    StallAlert,
    StallPolicy,
    StepStatus,
)
from apps.routing.models import AssignmentStatus, CohortRule, QueueAssignment, RoutingQueue

VOLUME_DOMAIN = "volume.test"
SPREAD_DAYS = 180
CENT = Decimal("0.01")


# Shares, by weight. Cohorts as the spec's funnel has them; merchants' current step (11 =
# journey completed) and the outcome of leads that never opened an account.
COHORTS = {Cohort.SELF_SERVE: 70, Cohort.ASSISTED: 22, Cohort.MANAGED: 8}
CURRENT_STEPS = {2: 10, 3: 12, 4: 9, 5: 8, 6: 8, 7: 10, 8: 6, 9: 8, 10: 6, 11: 23}
PROSPECT_STATUSES = {
    LeadStatus.NEW: 30,
    LeadStatus.CONTACTED: 25,
    LeadStatus.DISQUALIFIED: 15,
    LeadStatus.LOST: 30,
}
# Annual GTV (USD) and locations per cohort, inside the cohort rules seed_rules made.
PROFILES = {
    Cohort.SELF_SERVE: ((40_000, 490_000), (1, 1)),
    Cohort.ASSISTED: ((500_000, 1_990_000), (1, 9)),
    Cohort.MANAGED: ((2_000_000, 25_000_000), (1, 40)),
}
SCORES = {Cohort.SELF_SERVE: (5, 40), Cohort.ASSISTED: (40, 75), Cohort.MANAGED: (75, 100)}
TIERS = {Cohort.SELF_SERVE: "SW-LEAN", Cohort.ASSISTED: "SW-CORE", Cohort.MANAGED: "SW-PLUS"}
HARDWARE = ["HW-IPAD-STAND", "HW-RECEIPT-PRINTER", "HW-CASH-DRAWER", "HW-CARD-READER"]
# The order's status by the merchant's current step (paid from step 7 on).
ORDER_STATUSES = {
    6: [OrderStatus.QUOTE_GENERATED, OrderStatus.PAYMENT_PENDING],
    7: [OrderStatus.PAID, OrderStatus.HARDWARE_ORDERED],
    8: [OrderStatus.HARDWARE_ORDERED, OrderStatus.SHIPPED],
    9: [OrderStatus.SHIPPED, OrderStatus.DELIVERED],
    10: [OrderStatus.DELIVERED],
    11: [OrderStatus.ACTIVATED],
}
FULFILLMENT = {
    OrderStatus.PAID: FulfillmentStatus.PENDING,
    OrderStatus.HARDWARE_ORDERED: FulfillmentStatus.PROCESSING,
    OrderStatus.SHIPPED: FulfillmentStatus.PARTIALLY_FULFILLED,
    OrderStatus.DELIVERED: FulfillmentStatus.FULFILLED,
    OrderStatus.ACTIVATED: FulfillmentStatus.FULFILLED,
}


@dataclass
class Ref:
    steps: list[JourneyStep]
    queues: dict[str, RoutingQueue]
    products: dict[str, Product]
    tax_rates: dict[str, Decimal]
    rules: dict[str, CohortRule]
    policies: dict[str, StallPolicy]
    agents: dict[str, list[User]] = field(default_factory=dict)


@dataclass
class Chunk:
    """The rows of one chunk of leads, by table, in insert order (parents first)."""

    leads: list = field(default_factory=list)
    merchants: list = field(default_factory=list)
    locations: list = field(default_factory=list)
    progress: list = field(default_factory=list)
    orders: list = field(default_factory=list)
    items: list = field(default_factory=list)
    payments: list = field(default_factory=list)
    assignments: list = field(default_factory=list)
    alerts: list = field(default_factory=list)


def _id(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _weighted(rng: random.Random, weights: dict):
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _state(row, **states) -> None:
    """Set protected FSM fields of a row not saved yet. django-fsm-2 takes them only in the
    constructor (a later write raises), but the seed decides a row's state after building it;
    writing the instance's __dict__ is what the constructor does, and the row is only ever
    bulk-inserted."""
    row.__dict__.update(states)


def _money(value) -> Decimal:
    return Decimal(value).quantize(CENT)


# --- Leads -----------------------------------------------------------------------------------
def lead_build(chunk: Chunk, rng, ref: Ref, n: int, now, *, with_account: bool) -> None:
    """Lead number n, its account (merchant) if it has one, and its AE queue item."""
    cohort = _weighted(rng, COHORTS)
    (gtv_low, gtv_high), (loc_low, loc_high) = PROFILES[cohort]
    score_low, score_high = SCORES[cohort]
    rule = ref.rules[cohort]
    vertical = rng.choice(list(VERTICALS))
    state, city, time_zone = rng.choice(PLACES)
    source, utm_source, utm_medium, utm_campaign, referrer = rng.choice(MARKETING)
    created = now - timedelta(seconds=rng.uniform(600, SPREAD_DAYS * 86400))
    lead = Lead(
        id=_id(rng),
        email=f"lead{n}@{VOLUME_DOMAIN}",
        phone=f"+1-{rng.randint(200, 999)}-555-{rng.randint(0, 9999):04d}",
        first_name="Volume",
        last_name=f"Lead {n}",
        business_name=f"{city} {vertical.title()} {n}",
        business_category=vertical,
        business_type=rng.choice(BUSINESS_STRUCTURES),
        annual_revenue_estimate=Decimal(rng.randrange(gtv_low, gtv_high, 1000)),
        number_of_locations=rng.randint(loc_low, loc_high),
        region=state,
        timezone=time_zone,
        source=source,
        utm_source=utm_source,
        utm_medium=utm_medium,
        utm_campaign=utm_campaign,
        referrer=referrer,
        cohort=cohort,
        selling_plan=rule.selling_plan,
        setup_plan=rule.setup_plan,
        matched_rule=rule,
        cohort_reason=f"Matched {rule.rule_name}",
        gtv_score=_money(rng.uniform(score_low, score_high)),
        complexity_score=_money(rng.uniform(score_low, score_high)),
        risk_score=_money(rng.uniform(0, 60)),
        profiled_at=created,
        created_at=created,
    )
    chunk.leads.append(lead)
    if with_account:
        merchant_build(chunk, rng, ref, lead, n, now, city=city)
    else:
        _prospect_status(rng, lead, now)
    if cohort != Cohort.SELF_SERVE:
        ae_item_build(chunk, rng, ref, lead, now)


def _prospect_status(rng, lead: Lead, now) -> None:
    """A lead without an account: open while recent, closed after a month of silence."""
    status = _weighted(rng, PROSPECT_STATUSES)
    age = now - lead.created_at
    if status in (LeadStatus.NEW, LeadStatus.CONTACTED) and age > timedelta(days=30):
        status = LeadStatus.LOST
    if status == LeadStatus.NEW and lead.cohort != Cohort.SELF_SERVE and age > timedelta(days=2):
        status = LeadStatus.CONTACTED  # an AE calls within days, not weeks
    _state(lead, status=status)
    if status != LeadStatus.NEW:
        lead.contacted_at = lead.created_at + timedelta(hours=rng.uniform(0.2, 48))
    if status in (LeadStatus.DISQUALIFIED, LeadStatus.LOST):
        lead.closed_at = min(now, lead.contacted_at + timedelta(days=rng.uniform(1, 30)))
        lead.close_reason = (
            "Out of market" if status == LeadStatus.DISQUALIFIED else "No answer for 30 days"
        )


def ae_item_build(chunk: Chunk, rng, ref: Ref, lead: Lead, now) -> None:
    """An assisted or managed lead's AE queue item: open while the lead is new (breached once
    its SLA passed), otherwise contacted (one in ten late) and resolved once the lead moved on."""
    queue = ref.queues["ae_high_priority" if lead.cohort == Cohort.MANAGED else "ae_standard"]
    queued = lead.created_at
    due = queued + timedelta(minutes=queue.sla_minutes)
    item = QueueAssignment(
        id=_id(rng),
        lead=lead,
        queue=queue,
        priority=2 if lead.cohort == Cohort.MANAGED else 1,
        reason=f"{lead.get_cohort_display()} lead",
        queued_at=queued,
        sla_due_at=due,
        created_at=queued,
    )
    if lead.status == LeadStatus.NEW:
        if rng.random() < 0.4:
            _state(item, status=AssignmentStatus.ASSIGNED)
            item.assigned_to = rng.choice(ref.agents[AE])
            item.assigned_at = queued + timedelta(minutes=rng.uniform(1, 30))
            item.auto_assigned = True
        item.sla_breached = due < now
        item.sla_breached_at = due if due < now else None
    else:
        late = rng.random() < 0.1
        minutes = rng.uniform(1.1, 3) if late else rng.uniform(0.05, 0.9)
        item.assigned_to = rng.choice(ref.agents[AE])
        item.assigned_at = queued + timedelta(minutes=queue.sla_minutes * minutes / 2)
        item.first_contact_at = min(now, queued + timedelta(minutes=queue.sla_minutes * minutes))
        item.sla_breached = late
        item.sla_breached_at = due if late else None
        open_ = lead.status in (LeadStatus.CONTACTED, LeadStatus.QUALIFIED)
        worked = rng.choice([AssignmentStatus.CONTACTED, AssignmentStatus.IN_PROGRESS])
        _state(item, status=worked if open_ else AssignmentStatus.RESOLVED)
        if not open_:
            item.resolved_at = max(
                item.first_contact_at, lead.closed_at or lead.converted_at or now
            )
        lead.contacted_at = lead.contacted_at or item.first_contact_at
        lead.ae_contacted_at = item.first_contact_at
    lead.assigned_ae = item.assigned_to
    chunk.assignments.append(item)


# --- Merchants -------------------------------------------------------------------------------
def merchant_build(chunk: Chunk, rng, ref: Ref, lead: Lead, n: int, now, *, city: str) -> None:
    """The lead's account at a believable point of the journey, with its ten progress rows, a
    primary location, the order from step 6 on, IC items and stall alerts."""
    step = _weighted(rng, CURRENT_STEPS)
    completed = step == 11
    policy = ref.policies[lead.cohort]
    started = min(now - timedelta(minutes=5), lead.created_at + timedelta(hours=rng.uniform(1, 72)))
    elapsed = (now - started).total_seconds()
    journey = JourneyStatus.COMPLETED if completed else JourneyStatus.IN_PROGRESS
    # How long since the merchant last did something: mostly within the cohort's stall
    # threshold, some stalled (for the sweep to find), some abandoned or blocked.
    roll = rng.random()
    if completed:
        idle_days = rng.uniform(0, 60)
    elif roll < 0.12:
        journey, idle_days = JourneyStatus.ABANDONED, rng.uniform(policy.abandoned_after_days, 90)
    elif roll < 0.18:
        journey, idle_days = JourneyStatus.BLOCKED, rng.uniform(0, policy.abandoned_after_days)
    elif roll < 0.38:
        idle_days = rng.uniform(policy.stalled_after_days, policy.abandoned_after_days)
    else:
        idle_days = rng.uniform(0, policy.stalled_after_days)
    idle = min(idle_days * 86400, elapsed * 0.9)  # not idle since before it started
    if journey == JourneyStatus.ABANDONED and idle < policy.abandoned_after_days * 86400:
        journey = JourneyStatus.IN_PROGRESS  # too young to have been abandoned
    last_activity = now - timedelta(seconds=idle)
    merchant = Merchant(
        id=_id(rng),
        lead=lead,
        cohort=lead.cohort,
        legal_business_name=f"{lead.business_name} {lead.business_type.upper()}",
        business_structure=lead.business_type,
        registered_address_line1=f"{rng.randint(1, 9999)} Main Street",
        registered_city=city,
        registered_state=lead.region,
        registered_postal_code=f"{rng.randint(10000, 99999)}",
        current_step=min(step, 10),
        journey_status=journey,
        journey_started_at=started,
        journey_completed_at=last_activity if completed else None,
        journey_abandoned_at=(
            last_activity + timedelta(days=policy.abandoned_after_days)
            if journey == JourneyStatus.ABANDONED
            else None
        ),
        blocked_reason="Waiting for documents" if journey == JourneyStatus.BLOCKED else "",
        is_active=completed,
        activated_at=last_activity if completed else None,
        created_at=started,
    )
    # The time each step was finished, spread evenly from the start to the last activity.
    done_at = {k: started + (last_activity - started) * (k / step) for k in range(1, step)}
    _checks(rng, merchant, lead, step, done_at, n)
    chunk.merchants.append(merchant)
    location = MerchantLocation(
        id=_id(rng),
        merchant=merchant,
        location_name=lead.business_name,
        is_primary=True,
        address_line1=merchant.registered_address_line1,
        city=city,
        state=lead.region,
        postal_code=merchant.registered_postal_code,
        is_active=completed,
        activated_at=merchant.activated_at,
        created_at=started,
    )
    chunk.locations.append(location)
    current = progress_build(chunk, rng, ref, merchant, step, done_at, last_activity)
    if step >= 6:
        order_build(chunk, rng, ref, merchant, lead, location, step, done_at, n)
    ic_items_build(chunk, rng, ref, merchant, lead, step, done_at)
    alerts_build(chunk, rng, ref, merchant, current, now)


def _checks(rng, merchant: Merchant, lead: Lead, step: int, done_at: dict, n: int) -> None:
    """KYB decided at step 3, paid at step 6, KYC at step 7; the lead's status follows."""
    if lead.cohort != Cohort.SELF_SERVE:
        _state(lead, status=LeadStatus.CONTACTED)  # its AE called before the account
    if step == 3:
        undecided = [CheckStatus.SUBMITTED, CheckStatus.REVIEW_REQUIRED, CheckStatus.REJECTED]
        _state(merchant, kyb_status=rng.choice([CheckStatus.PENDING, *undecided]))
        if merchant.kyb_status != CheckStatus.PENDING:
            merchant.kyb_submitted_at = done_at[2] + timedelta(hours=1)
        if merchant.kyb_status == CheckStatus.REJECTED:
            merchant.kyb_rejected_at = done_at[2] + timedelta(hours=2)
            merchant.kyb_rejection_reason = "The EIN does not match the legal name."
    if step > 3:
        _state(merchant, kyb_status=CheckStatus.APPROVED)
        merchant.kyb_submitted_at = done_at[3] - timedelta(minutes=30)
        merchant.kyb_approved_at = done_at[3]
        _state(lead, status=LeadStatus.QUALIFIED)
        lead.qualified_at = done_at[3]
    if step > 4:
        merchant.subscription_tier = TIERS[lead.cohort].removeprefix("SW-").lower()
        merchant.number_of_location_licenses = lead.number_of_locations
        merchant.number_of_register_licenses = lead.number_of_locations
    if step > 6:
        merchant.x_series_account_id = f"XS-VOL-{n:07d}"
        merchant.billing_customer_id = f"BC-VOL-{n:07d}"
        _state(lead, status=LeadStatus.CONVERTED)
        lead.converted_at = done_at[6]
    if step == 7:
        waiting = [CheckStatus.PENDING, CheckStatus.SUBMITTED, CheckStatus.REVIEW_REQUIRED]
        _state(merchant, kyc_status=rng.choice(waiting))
    if step > 7:
        _state(merchant, kyc_status=CheckStatus.APPROVED)
        merchant.kyc_all_approved_at = done_at[7]
        merchant.payments_account_id = f"PA-VOL-{n:07d}"
        merchant.payments_activated = merchant.payouts_enabled = True
        merchant.payments_activated_at = merchant.payouts_enabled_at = done_at[7]
    if merchant.journey_status == JourneyStatus.ABANDONED and lead.status != LeadStatus.CONVERTED:
        _state(lead, status=LeadStatus.LOST)
        lead.closed_at = merchant.journey_abandoned_at
        lead.close_reason = "Abandoned the journey"


def progress_build(chunk: Chunk, rng, ref: Ref, merchant, step: int, done_at: dict, last_activity):
    """Ten rows: done before the current step, the current one in progress (or blocked or
    failed), pending after it. Returns the current step's row (None once completed)."""
    current = None
    for journey_step in ref.steps:
        k = journey_step.id
        row = MerchantStepProgress(
            id=_id(rng), merchant=merchant, step=journey_step, created_at=merchant.created_at
        )
        if k < step:
            skipped = not journey_step.is_required and rng.random() < 0.4
            _state(row, status=StepStatus.SKIPPED if skipped else StepStatus.COMPLETED)
            row.started_at = done_at.get(k - 1, merchant.created_at)
            row.completed_at = row.last_activity_at = done_at[k]
            if not skipped:
                row.time_spent_seconds = int((row.completed_at - row.started_at).total_seconds())
        elif k == step:
            current = row
            row.started_at = done_at.get(k - 1, merchant.created_at)
            row.last_activity_at = last_activity
            _state(row, status=StepStatus.IN_PROGRESS)
            if merchant.journey_status == JourneyStatus.BLOCKED:
                _state(row, status=StepStatus.BLOCKED)
                row.blocked_at = last_activity
                row.blocked_reason = merchant.blocked_reason
            elif rng.random() < 0.06:
                _state(row, status=StepStatus.FAILED)
                row.error_count = rng.randint(1, 4)
                row.last_error, row.last_error_at = "The provider did not answer", last_activity
            if merchant.journey_status == JourneyStatus.ABANDONED:
                row.abandoned_at = merchant.journey_abandoned_at
        chunk.progress.append(row)
    return current


# --- Orders ----------------------------------------------------------------------------------
def order_build(chunk: Chunk, rng, ref: Ref, merchant, lead, location, step, done_at, n) -> None:
    """The initial order: quoted at step 6, paid (one captured payment) from step 7 on. Only
    merchants past KYB reach step 6, so its hardware lines pass the orders_kyb_gate trigger."""
    status = rng.choice(ORDER_STATUSES[step])
    paid = status not in (OrderStatus.QUOTE_GENERATED, OrderStatus.PAYMENT_PENDING)
    created = done_at[5]
    order = Order(
        id=_id(rng),
        merchant=merchant,
        lead=lead,
        order_number=f"VOL-{n:07d}",
        status=status,
        payment_status=OrderPaymentStatus.CAPTURED if paid else OrderPaymentStatus.PENDING,
        fulfillment_status=FULFILLMENT.get(status, FulfillmentStatus.PENDING),
        payment_method="card" if paid else "",
        paid_at=done_at[6] if paid else None,
        payment_reference=f"ch_vol_{n:07d}" if paid else "",
        is_self_serve=lead.cohort == Cohort.SELF_SERVE,
        quote_sent_at=created,
        billing_address_line1=location.address_line1,
        billing_city=location.city,
        billing_state=location.state,
        billing_postal_code=location.postal_code,
        billing_country="US",
        created_at=created,
    )
    locations = lead.number_of_locations or 1
    lines = [(ref.products[TIERS[lead.cohort]], locations, None)]
    lines += [(ref.products[sku], locations, location) for sku in rng.sample(HARDWARE, 2)]
    if lead.setup_plan == SetupPlan.IC_PAID:
        lines.append((ref.products["SVC-SETUP-IC"], 1, None))
    fulfilled = order.fulfillment_status == FulfillmentStatus.FULFILLED
    for product, quantity, ships_to in lines:
        line_total = product.unit_price * quantity
        order.subtotal += line_total
        chunk.items.append(
            OrderItem(
                id=_id(rng),
                order=order,
                product=product,
                location=ships_to,
                item_type=product.item_type,
                product_sku=product.sku,
                product_name=product.name,
                quantity=quantity,
                unit_price=product.unit_price,
                line_total=line_total,
                fulfillment_status=(
                    ItemFulfillmentStatus.FULFILLED if fulfilled else ItemFulfillmentStatus.PENDING
                ),
                fulfilled_at=done_at.get(9) if fulfilled else None,
                created_at=created,
            )
        )
    order.tax_amount = _money(order.subtotal * ref.tax_rates.get(location.state, Decimal(0)))
    order.total_amount = order.subtotal + order.tax_amount
    chunk.orders.append(order)
    if paid:
        chunk.payments.append(
            Payment(
                id=_id(rng),
                order=order,
                amount=order.total_amount,
                idempotency_key=f"vol-pay-{n:07d}",
                provider_reference=order.payment_reference,
                payment_method="card",
                status=PaymentStatus.CAPTURED,
                authorized_at=order.paid_at,
                captured_at=order.paid_at,
                created_at=order.paid_at,
            )
        )


# --- IC queue items and stall alerts ---------------------------------------------------------
def ic_items_build(chunk: Chunk, rng, ref: Ref, merchant, lead, step, done_at) -> None:
    """Setup help after payment for the IC setup plans: being worked, resolved at go-live."""
    if step < 7 or lead.setup_plan == SetupPlan.SELF_SERVE:
        return
    queue = ref.queues["ic_onboarding"]
    queued = done_at[6]
    contact = queued + timedelta(minutes=queue.sla_minutes * rng.uniform(0.05, 0.9))
    done = merchant.journey_status == JourneyStatus.COMPLETED
    chunk.assignments.append(
        QueueAssignment(
            id=_id(rng),
            merchant=merchant,
            queue=queue,
            assigned_to=rng.choice(ref.agents[IC]),
            assigned_at=queued + timedelta(minutes=5),
            auto_assigned=True,
            status=AssignmentStatus.RESOLVED if done else AssignmentStatus.IN_PROGRESS,
            reason=f"{lead.get_setup_plan_display()} after payment",
            queued_at=queued,
            sla_due_at=queued + timedelta(minutes=queue.sla_minutes),
            first_contact_at=contact,
            resolved_at=merchant.journey_completed_at if done else None,
            created_at=queued,
        )
    )


def alerts_build(chunk: Chunk, rng, ref: Ref, merchant, current, now) -> None:
    """Open alerts for a quarter of the stalled merchants and for repeated errors (the sweep
    finds the other stalled ones), half of them with an IC intervention item; a resolved
    alert in one in ten finished journeys."""
    policy = ref.policies[merchant.cohort]
    if current is None:
        if rng.random() < 0.1:
            step = ref.steps[rng.randint(1, 8)]
            at = (
                merchant.journey_started_at
                + (merchant.journey_completed_at - merchant.journey_started_at) / 2
            )
            chunk.alerts.append(
                StallAlert(
                    id=_id(rng),
                    merchant=merchant,
                    lead=merchant.lead,
                    step=step,
                    alert_type=AlertType.STALLED,
                    severity=Severity.MEDIUM,
                    stall_detected_at=at,
                    days_stalled=policy.stalled_after_days,
                    current_status=StepStatus.IN_PROGRESS,
                    alert_status=AlertStatus.RESOLVED,
                    resolved_at=at + timedelta(days=1),
                    resolution_action="Merchant came back",
                    created_at=at,
                )
            )
        return
    if merchant.journey_status != JourneyStatus.IN_PROGRESS:
        return
    days = (now - current.last_activity_at).days
    if current.error_count >= policy.error_threshold:
        alert_type = AlertType.ERROR_THRESHOLD
    elif days >= policy.stalled_after_days and rng.random() < 0.25:
        alert_type = AlertType.STALLED
    else:
        return
    severity = Severity.MEDIUM
    if days >= policy.critical_severity_after_days:
        severity = Severity.CRITICAL
    elif days >= policy.high_severity_after_days:
        severity = Severity.HIGH
    detected = min(now, current.last_activity_at + timedelta(days=policy.stalled_after_days))
    alert = StallAlert(
        id=_id(rng),
        merchant=merchant,
        lead=merchant.lead,
        step=current.step,
        alert_type=alert_type,
        severity=severity,
        stall_detected_at=detected,
        days_stalled=days,
        current_status=current.status,
        last_activity_at=current.last_activity_at,
        error_count=current.error_count or None,
        created_at=detected,
    )
    if rng.random() < 0.5:
        queue = ref.queues[INTERVENTION_QUEUE]
        item = QueueAssignment(
            id=_id(rng),
            merchant=merchant,
            queue=queue,
            priority=2,
            reason=f"{alert.get_alert_type_display()} at step {current.step_id}",
            queued_at=detected,
            sla_due_at=detected + timedelta(minutes=queue.sla_minutes),
            created_at=detected,
        )
        if rng.random() < 0.5:
            _state(item, status=AssignmentStatus.ASSIGNED)
            item.assigned_to = rng.choice(ref.agents[IC])
            item.assigned_at = detected + timedelta(minutes=10)
            _state(alert, alert_status=AlertStatus.ASSIGNED)
            alert.assigned_to = item.assigned_to
            alert.assigned_at = item.assigned_at
        item.sla_breached = item.sla_due_at < now
        item.sla_breached_at = item.sla_due_at if item.sla_breached else None
        alert.queue_assignment = item
        chunk.assignments.append(item)
    chunk.alerts.append(alert)
