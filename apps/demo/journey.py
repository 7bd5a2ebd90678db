"""The rest of a demo lead's journey, through the services: the merchant account, KYB, the
order and its payment and shipment, owners and bank account, then the twists (stalls,
abandonment, repeated errors) that give the staff screens something to show."""

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone

from apps.core.fsm import save_tracked
from apps.demo.context import CENT, REASON, Demo
from apps.demo.data import (
    ABANDONED,
    ALERT_TYPES,
    BANKS,
    COMPLETED,
    EIN_PREFIXES,
    ERRORS,
    HARDWARE_BY_VERTICAL,
    HARDWARE_PER_REGISTER,
    LEGAL_SUFFIX,
    PLACES,
    REJECTED,
    REVIEW,
    REVIEW_APPROVED,
    STALLED,
    TIER_BY_COHORT,
)
from apps.demo.reference import INTERVENTION_QUEUE
from apps.leads.models import Cohort, SetupPlan
from apps.merchants.choices import CheckStatus as Kyb
from apps.merchants.choices import PersonType as Person
from apps.merchants.models import Merchant, MerchantLocation, MerchantPerson
from apps.merchants.services.bank import (
    bank_account_add,
    bank_account_verification_start,
    bank_account_verification_succeed,
)
from apps.merchants.services.journey import merchant_journey_abandon, merchant_journey_complete
from apps.merchants.services.kyb import merchant_kyb_decide, merchant_kyb_submit
from apps.merchants.services.kyc import (
    merchant_payments_activate,
    person_kyc_decide,
    person_kyc_submit,
)
from apps.orders.models import HardwareShipment, Order, OrderItem, Payment
from apps.orders.models.catalog import ItemType
from apps.orders.services.payments import payment_authorize, payment_capture
from apps.orders.services.shipments import (
    shipment_deliver,
    shipment_mark_in_transit,
    shipment_process,
    shipment_ship,
)
from apps.orders.services.transitions import (
    order_activate,
    order_generate_quote,
    order_item_fulfill,
    order_mark_delivered,
    order_mark_hardware_ordered,
    order_mark_paid,
    order_mark_shipped,
    order_request_payment,
)
from apps.progress.models import (
    MerchantStepProgress,
    Severity,
    StallAlert,
    StallPolicy,
)
from apps.progress.services import (
    merchant_progress_create,
    step_complete,
    step_fail,
    step_retry,
    step_skip,
    step_start,
)
from apps.routing.models import QueueAssignment
from apps.routing.services.assignments import (
    assignment_record_contact,
    assignment_resolve,
    assignment_start_work,
)
from apps.routing.services.claims import assignment_assign
from apps.routing.services.routing import assignment_enqueue


# --- Merchant account (step 2) ----------------------------------------------------------------
def _ein(demo: Demo) -> str:
    """Unique per lead (the index is in the middle) and never ending in 0000 or 9999, the
    sandbox's rejected and review outcomes."""
    return f"{demo.rng.choice(EIN_PREFIXES)}-{demo.index:03d}{demo.rng.randint(1001, 9998)}"


def _last_four_safe(number: str) -> str:
    """Numbers ending in 0000, 0001 or 9999 trigger sandbox failures: nudge them."""
    return number[:-4] + "1234" if number[-4:] in ("0000", "0001", "9999") else number


def merchant_create(demo: Demo) -> None:
    lead, fake = demo.lead, demo.fake
    state, city = lead.region, next(p[1] for p in PLACES if p[0] == lead.region)
    structure = lead.business_type
    legal_name = f"{lead.business_name} {LEGAL_SUFFIX[structure]}".strip()
    started = lead.created_at + timedelta(days=1)
    merchant = Merchant(
        lead=lead,
        user=demo.ref.users["merchant@demo.test"] if demo.journey.login else None,
        cohort=lead.cohort,
        legal_business_name=legal_name,
        business_structure=structure,
        registered_address_line1=fake.street_address(),
        registered_city=city,
        registered_state=state,
        registered_postal_code=fake.zipcode_in_state(state),
        created_at=started,
        journey_started_at=started,
    )
    merchant.set_ein(_ein(demo))
    save_tracked(merchant, actor=None, reason=f"{REASON}: account created")
    demo.merchant = merchant
    for number in range(1, min(lead.number_of_locations, 3) + 1):
        location = MerchantLocation(
            merchant=merchant,
            location_name=lead.business_name if number == 1 else f"{lead.business_name} #{number}",
            location_number=number,
            is_primary=number == 1,
            address_line1=(
                merchant.registered_address_line1 if number == 1 else fake.street_address()
            ),
            city=city,
            state=state,
            postal_code=fake.zipcode_in_state(state),
            phone=lead.phone,
            email=lead.email,
        )
        save_tracked(location, actor=None, reason=f"{REASON}: location added")
        demo.location = demo.location or location
    rows = merchant_progress_create(merchant=merchant, actor=None)
    demo.progress = {row.step_id: row for row in rows}


# --- Walking the journey ----------------------------------------------------------------------
def journey_walk(demo: Demo) -> None:
    """Finish every step before the one reached, then open that one."""
    reached = demo.journey.reached
    for step_id in range(1, 11):
        if step_id < reached:
            _step_finish(demo, step_id)
        elif step_id == reached:
            step_start(progress=demo.progress[step_id], actor=demo.actor)
            if step_id in STEP_OPEN:
                STEP_OPEN[step_id](demo)
            break
    if reached == COMPLETED:
        merchant_journey_complete(merchant=demo.merchant, actor=None)
        if demo.ic_assignment:
            assignment_resolve(
                assignment=demo.ic_assignment, actor=demo.ref.users["ic@demo.test"], note="live"
            )


def _step_finish(demo: Demo, step_id: int) -> None:
    progress = demo.progress[step_id]
    if not progress.step.is_required and demo.skips_optional:
        step_skip(progress=progress, actor=demo.actor)
        return
    step_start(progress=progress, actor=demo.actor)
    if step_id in STEP_FINISH:
        STEP_FINISH[step_id](demo)
    step_complete(progress=progress, actor=demo.actor)


# Step 3: KYB
def _kyb_submit(demo: Demo) -> None:
    merchant_kyb_submit(merchant=demo.merchant, actor=demo.actor)


def _kyb_provider(demo: Demo, decision: str, notes: str = "") -> None:
    merchant = demo.merchant
    merchant_kyb_decide(
        merchant=merchant,
        decision=decision,
        actor=None,
        notes=notes,
        provider="sandbox",
        reference=f"kyb-demo-{demo.index:02d}",
        request_payload={
            "legal_business_name": merchant.legal_business_name,
            "ein_last4": merchant.ein_masked[-4:],
            "state": merchant.registered_state,
        },
        response_payload={"decision": decision},
    )


def _compliance_queue(demo: Demo) -> QueueAssignment:
    return assignment_enqueue(
        queue=demo.ref.queues["compliance_review"],
        merchant=demo.merchant,
        reason="KYB review required",
    )


def _kyb_pass(demo: Demo) -> None:
    _kyb_submit(demo)
    if demo.journey.kyb != REVIEW_APPROVED:
        _kyb_provider(demo, Kyb.APPROVED)
        return
    _kyb_provider(demo, Kyb.REVIEW_REQUIRED, notes="Registered address mismatch")
    reviewer = demo.ref.users["compliance@demo.test"]
    review = _compliance_queue(demo)
    assignment_assign(assignment=review, agent=reviewer, actor=reviewer)
    assignment_record_contact(assignment=review, actor=reviewer)
    merchant_kyb_decide(
        merchant=demo.merchant,
        decision=Kyb.APPROVED,
        actor=reviewer,
        notes="Lease and utility bill confirm the address",
    )
    assignment_resolve(assignment=review, actor=reviewer, note="KYB approved")


def _kyb_open(demo: Demo) -> None:
    _kyb_submit(demo)
    if demo.journey.kyb == REVIEW:
        _kyb_provider(demo, Kyb.REVIEW_REQUIRED, notes="Beneficial owner unclear")
        _compliance_queue(demo)
    elif demo.journey.kyb == REJECTED:
        _kyb_provider(demo, Kyb.REJECTED, notes="Name does not match IRS records")
        step_fail(progress=demo.progress[3], actor=None, error="KYB rejected")


# Step 4: software
def _software_choose(demo: Demo) -> None:
    merchant = demo.merchant
    locations = demo.lead.number_of_locations
    merchant.subscription_tier = TIER_BY_COHORT[merchant.cohort]
    merchant.number_of_location_licenses = locations
    merchant.number_of_register_licenses = locations * demo.rng.randint(1, 3)
    save_tracked(merchant, actor=demo.actor, reason=f"{REASON}: software requirements")


# Step 5: hardware, as the order's items
def _order_lines(demo: Demo) -> list[tuple[str, int]]:
    merchant = demo.merchant
    locations = merchant.number_of_location_licenses
    registers = merchant.number_of_register_licenses
    lines = [(merchant.subscription_tier, locations)]
    if registers > locations:
        lines.append(("REG-LIC", registers - locations))
    if demo.vertical == "retail":
        lines.append(("ADD-ECOM", locations))
    if demo.index % 3 == 0:
        lines.append(("ADD-LOYALTY", locations))
    lines += [(sku, registers) for sku in HARDWARE_PER_REGISTER]
    if demo.vertical in HARDWARE_BY_VERTICAL:
        sku, per_register = HARDWARE_BY_VERTICAL[demo.vertical]
        lines.append((sku, registers if per_register else locations))
    if demo.lead.setup_plan == SetupPlan.IC_PAID:
        lines.append(("SVC-SETUP-IC", 1))
    if demo.index % 4 == 0:
        lines.append(("SVC-DATA-IMPORT", 1))
    return lines


def _order_build(demo: Demo) -> None:
    merchant, lead = demo.merchant, demo.lead
    order = Order(
        merchant=merchant,
        lead=lead,
        order_number=f"DEMO-{demo.index:04d}",
        created_by=demo.agent,
        is_self_serve=demo.agent is None,
        billing_address_line1=merchant.registered_address_line1,
        billing_city=merchant.registered_city,
        billing_state=merchant.registered_state,
        billing_postal_code=merchant.registered_postal_code,
        billing_country="US",
    )
    save_tracked(order, actor=demo.agent or demo.actor, reason=f"{REASON}: order started")
    subtotal = Decimal(0)
    for sku, quantity in _order_lines(demo):
        product = demo.ref.products[sku]
        line_total = product.unit_price * quantity
        item = OrderItem(
            order=order,
            product=product,
            location=demo.location if product.item_type == ItemType.HARDWARE else None,
            item_type=product.item_type,
            product_sku=product.sku,
            product_name=product.name,
            quantity=quantity,
            unit_price=product.unit_price,
            line_total=line_total,
        )
        save_tracked(item, actor=demo.agent or demo.actor, reason=f"{REASON}: item added")
        subtotal += line_total
    rate = demo.ref.tax_rates.get(merchant.registered_state, Decimal(0))
    order.subtotal = subtotal
    order.tax_amount = (subtotal * rate).quantize(CENT, rounding=ROUND_HALF_UP)
    order.total_amount = order.subtotal + order.tax_amount
    save_tracked(order, actor=demo.agent or demo.actor, reason=f"{REASON}: order priced")
    demo.order = order


# Step 6: quote and payment
def _order_quote(demo: Demo) -> None:
    order_generate_quote(order=demo.order, actor=demo.agent or demo.actor)
    order_request_payment(order=demo.order, actor=demo.actor)


def _order_pay(demo: Demo) -> None:
    _order_quote(demo)
    order = demo.order
    payment = Payment(
        order=order,
        amount=order.total_amount,
        idempotency_key=f"demo-{order.order_number}",
        payment_method="card",
    )
    save_tracked(payment, actor=demo.actor, reason=f"{REASON}: card payment started")
    reference = f"sandbox-ch-{demo.index:04d}"
    payment_authorize(payment=payment, actor=None, reference=reference)
    payment_capture(payment=payment, actor=None)
    order_mark_paid(order=order, actor=None, reference=reference)
    _hardware_order(demo)
    if demo.ae_assignment:
        assignment_resolve(assignment=demo.ae_assignment, actor=demo.agent, note="order paid")
    if demo.lead.setup_plan in (SetupPlan.IC_FREE, SetupPlan.IC_PAID):
        _ic_onboarding(demo)


def _ic_onboarding(demo: Demo) -> None:
    consultant = demo.ref.users["ic@demo.test"]
    demo.ic_assignment = assignment_enqueue(
        queue=demo.ref.queues["ic_onboarding"],
        merchant=demo.merchant,
        reason=f"{demo.lead.get_setup_plan_display()} after payment",
    )
    assignment_assign(assignment=demo.ic_assignment, agent=consultant, actor=consultant)
    assignment_record_contact(assignment=demo.ic_assignment, actor=consultant)
    assignment_start_work(assignment=demo.ic_assignment, actor=consultant)


# Step 7: owners (KYC) and the payout bank account
def _persons_add(demo: Demo) -> list[MerchantPerson]:
    lead, fake, rng = demo.lead, demo.fake, demo.rng
    shares = [(Person.BOTH, "CEO", Decimal(60)), (Person.OWNER, "Co-owner", Decimal(40))]
    if demo.merchant.cohort != Cohort.MANAGED:
        shares = [(Person.BOTH, "Owner", Decimal(100))]
    persons = []
    for number, (person_type, title, share) in enumerate(shares):
        first, last = (lead.first_name, lead.last_name)
        if number > 0:
            first, last = fake.first_name(), fake.last_name()
        ssn = f"{rng.randint(100, 665)}-{rng.randint(10, 99)}-{rng.randint(1002, 9998)}"
        person = MerchantPerson(
            merchant=demo.merchant,
            person_type=person_type,
            first_name=first,
            last_name=last,
            email=lead.email if number == 0 else fake.email(),
            phone=fake.numerify("+1-###-555-####"),
            ssn=ssn,
            date_of_birth=fake.date_of_birth(minimum_age=25, maximum_age=70),
            address_line1=fake.street_address(),
            city=demo.merchant.registered_city,
            state=demo.merchant.registered_state,
            postal_code=fake.zipcode_in_state(demo.merchant.registered_state),
            title=title,
            ownership_percentage=share,
        )
        save_tracked(person, actor=demo.actor, reason=f"{REASON}: person added")
        person_kyc_submit(person=person, actor=demo.actor)
        persons.append(person)
    return persons


def _bank_account_add(demo: Demo):
    account_number = _last_four_safe(str(demo.rng.randint(10**9, 10**12 - 1)))
    account = bank_account_add(
        merchant=demo.merchant,
        actor=demo.actor,
        account_holder_name=demo.merchant.legal_business_name,
        account_number=account_number,
        routing_number=demo.fake.aba(),
        bank_name=demo.rng.choice(BANKS),
    )
    bank_account_verification_start(bank_account=account, actor=demo.actor)
    return account


def _kyc_open(demo: Demo) -> None:
    _persons_add(demo)
    _bank_account_add(demo)


def _payments_activate(demo: Demo) -> None:
    for person in _persons_add(demo):
        person_kyc_decide(person=person, decision=Kyb.APPROVED, actor=None, provider="sandbox")
    bank_account_verification_succeed(bank_account=_bank_account_add(demo), actor=None)
    merchant_payments_activate(merchant=demo.merchant, actor=demo.actor)


# Step 8: data import
def _data_import_open(demo: Demo) -> None:
    if demo.journey.twist != ERRORS:
        return
    progress = demo.progress[8]
    repeats = demo.policy.error_threshold
    for attempt in range(1, repeats + 1):
        step_fail(progress=progress, actor=demo.actor, error="CSV columns not recognised")
        if attempt < repeats:
            step_retry(progress=progress, actor=demo.actor)


# Step 9: hardware
def _hardware_order(demo: Demo) -> None:
    """Right after payment (the purchase saga): the hardware is ordered from the supplier."""
    order, location = demo.order, demo.location
    order_mark_hardware_ordered(order=order, actor=None)
    shipment = HardwareShipment(
        order=order,
        merchant=demo.merchant,
        location=location,
        ship_to_name=demo.merchant.legal_business_name,
        ship_to_address_line1=location.address_line1,
        ship_to_city=location.city,
        ship_to_state=location.state,
        ship_to_postal_code=location.postal_code,
        ship_to_phone=location.phone,
        shipping_method="Ground",
        estimated_delivery_date=timezone.localdate() + timedelta(days=4),
    )
    save_tracked(shipment, actor=None, reason=f"{REASON}: hardware order placed")
    shipment_process(shipment=shipment, actor=None)
    demo.shipment = shipment


def _hardware_ship(demo: Demo) -> None:
    tracking_number = f"1ZDEMO{demo.index:010d}"
    shipment_ship(shipment=demo.shipment, tracking_number=tracking_number, carrier="UPS")
    order_mark_shipped(order=demo.order, actor=None)
    shipment_mark_in_transit(shipment=demo.shipment, actor=None)


def _hardware_deliver(demo: Demo) -> None:
    _hardware_ship(demo)
    shipment_deliver(shipment=demo.shipment, actor=None)
    order_mark_delivered(order=demo.order, actor=None)
    for item in demo.order.items.all():
        order_item_fulfill(item=item, actor=None)
    order_activate(order=demo.order, actor=None)


# Work done inside a step before it completes, and when it is the step in progress.
STEP_FINISH = {
    3: _kyb_pass,
    4: _software_choose,
    5: _order_build,
    6: _order_pay,
    7: _payments_activate,
    9: _hardware_deliver,
}
STEP_OPEN = {3: _kyb_open, 6: _order_quote, 7: _kyc_open, 8: _data_import_open, 9: _hardware_ship}


# --- Twists after the walk: stalls, abandonment, repeated errors ------------------------------
def merchant_twist(demo: Demo) -> None:
    """A stall, an abandonment or repeated errors, with its open alert; the thresholds are
    the cohort's StallPolicy (one day past them)."""
    twist = demo.journey.twist
    if twist not in ALERT_TYPES:
        return
    merchant, policy = demo.merchant, demo.policy
    progress = demo.progress[merchant.current_step]
    days = {
        STALLED: policy.stalled_after_days + 1,
        ABANDONED: policy.abandoned_after_days + 1,
    }.get(twist, 0)
    if days:
        _quiet_since(progress, days)
    if twist == ABANDONED:
        merchant_journey_abandon(merchant=merchant, actor=None, reason=f"quiet for {days} days")
    alert = StallAlert(
        merchant=merchant,
        step=progress.step,
        alert_type=ALERT_TYPES[twist],
        severity=_severity(policy, days=days, errors=twist == ERRORS),
        days_stalled=days or None,
        current_status=progress.status,
        last_activity_at=progress.last_activity_at,
        error_count=progress.error_count or None,
    )
    save_tracked(alert, actor=None, reason=f"{REASON}: {alert.alert_type} detected")
    if twist == STALLED and merchant.cohort == Cohort.SELF_SERVE:
        assignment_enqueue(
            queue=demo.ref.queues[INTERVENTION_QUEUE],
            merchant=merchant,
            priority=5,
            reason=f"stalled {days} days at step {progress.step_id}",
        )


def _severity(policy: StallPolicy, *, days: int, errors: bool) -> str:
    if days >= policy.critical_severity_after_days:
        return Severity.CRITICAL
    if errors or days >= policy.high_severity_after_days:
        return Severity.HIGH
    return Severity.MEDIUM


def _quiet_since(progress: MerchantStepProgress, days: int) -> None:
    """Move the step's last activity back, as if the merchant went quiet `days` ago."""
    quiet_since = timezone.now() - timedelta(days=days)
    progress.started_at = quiet_since - timedelta(hours=2)
    progress.last_activity_at = quiet_since
    save_tracked(progress, actor=None, reason=f"{REASON}: no activity for {days} days")
