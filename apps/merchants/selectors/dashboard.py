"""The merchant's dashboard: every step as a card in the merchant's words (its state in one
vocabulary: done, in progress, waiting on us, action needed, locked, failed; what is going
on; what fixes a problem), grouped by stage, with the step to work on next, every action
needed with its fix link, and the account executive. Seven queries at most, whatever the
merchant's history."""

from dataclasses import dataclass, field

from django.db.models import Q

from apps.leads.models import Cohort, Stage
from apps.merchants.choices import CheckStatus, JourneyStatus, VerificationStatus
from apps.merchants.models import Merchant
from apps.merchants.selectors.kyb import (
    KYB_APPROVED,
    KYB_DELAYED,
    KYB_FIX_ACTION,
    KYB_FIX_FIELD,
    KYB_REJECTED,
    KYB_UNDER_REVIEW,
    KYB_VERIFYING,
    kyb_verification_delayed,
)
from apps.merchants.selectors.steps import (
    HARDWARE_SETUP_STEP,
    KYC_STEP,
    STEP_PAGES,
    merchant_step,
    merchant_steps_named,
    page_url,
    reason_sentence,
)
from apps.orders.models import HardwareShipment
from apps.progress.models import DONE_STEP_STATUSES, StepStatus
from apps.routing.models import AssignmentStatus, QueueAssignment, QueueType

CALL_PENDING_STATUSES = (AssignmentStatus.QUEUED, AssignmentStatus.ASSIGNED)


@dataclass(frozen=True)
class StepState:
    """One word of the merchants' state vocabulary, the same on every merchant page
    (templates/_components/step_state.html gives each its colour and mark)."""

    code: str
    label: str


DONE = StepState("done", "Done")
IN_PROGRESS = StepState("in-progress", "In progress")
WAITING = StepState("waiting", "Waiting on us")
ACTION_NEEDED = StepState("action", "Action needed")
LOCKED = StepState("locked", "Locked")
FAILED = StepState("failed", "Failed")
STATES = (DONE, IN_PROGRESS, WAITING, ACTION_NEEDED, LOCKED, FAILED)

# The state a step's progress row shows before what the merchant's checks add: a pending step
# is locked until the steps it depends on are done; on hold (blocked by staff) waits on us.
STATUS_STATES = {
    StepStatus.PENDING: IN_PROGRESS,
    StepStatus.IN_PROGRESS: IN_PROGRESS,
    StepStatus.COMPLETED: DONE,
    StepStatus.SKIPPED: DONE,
    StepStatus.BLOCKED: WAITING,
    StepStatus.FAILED: FAILED,
}

# The stages in the merchant's words (Stage's labels are ours).
STAGE_WORDS = {
    Stage.QUALIFY_LEADS: "Get verified",
    Stage.BUYING_EXPERIENCE: "Choose and pay",
    Stage.GUIDED_SETUP: "Set up and go live",
}

STEP_LOCKED = "Opens once you finish {steps}."
STEP_SKIPPED = "Skipped."
KYC_VERIFYING = "We are verifying your owners and representatives."
KYC_REJECTED = (
    "An owner or representative could not be verified: check their legal name, date of "
    "birth, SSN and home address."
)
BANK_VERIFYING = "We are verifying your bank account."
BANK_FAILED = (
    "Your bank account could not be verified: {reason} Check the routing and account "
    "numbers, or replace the account."
)
BANK_MISSING = "Add the bank account your payouts go to: payouts stay held until it is verified."
PAYOUTS_HELD_LIVE = (
    "Your business is live. Payouts stay held until you add a bank account and it is verified."
)
PAYOUTS_HELD_FAILED = (
    "Your business is live. Payouts stay held until your bank account is verified."
)
HARDWARE_ON_ITS_WAY = "Your hardware is on its way."
HARDWARE_ARRIVED = "Your hardware has arrived: set it up."
HARDWARE_NOT_DELIVERED = (
    "The carrier could not deliver your hardware. We will contact you to arrange a new delivery."
)
STEP_ON_HOLD = "This step is on hold until your account executive contacts you."
STEP_RETRY = "The last attempt did not go through: open the step to try again."
AE_WILL_CONTACT = "An account executive will contact you."

IN_TRANSIT_SHIPMENTS = ("pending", "processing", "shipped", "in_transit")


@dataclass
class StepCard:
    number: int
    title: str  # the merchant's words (selectors.steps.MERCHANT_STEPS)
    purpose: str
    optional: bool
    status: str  # the progress row's status
    state: StepState
    detail: str = ""  # what is going on, when there is more to say
    problem: str = ""  # what the merchant must fix, and how
    url: str | None = None  # the step's page; None while locked or when there is none
    action: str = "Open"
    current: bool = False

    @property
    def done(self) -> bool:
        return self.status in DONE_STEP_STATUSES

    @property
    def waiting(self) -> bool:
        return self.state == WAITING

    @property
    def locked(self) -> bool:
        return self.state == LOCKED


@dataclass
class StageCard:
    code: str
    label: str
    steps: list[StepCard] = field(default_factory=list)


@dataclass
class Dashboard:
    merchant: Merchant
    stages: list[StageCard]
    total_count: int
    done_count: int
    current: StepCard | None
    actions: list[StepCard]  # every step whose state is "action needed", with its fix
    payouts_notice: str  # after going live without payouts: why they are held
    payouts_action: str
    bank_url: str | None
    ae_name: str
    ae_email: str
    offers_call: bool
    call_requested: bool

    @property
    def lead(self):
        return self.merchant.lead

    @property
    def email_verified(self) -> bool:
        user = self.merchant.user
        return user is None or user.email_verified_at is not None

    @property
    def self_serve(self) -> bool:
        return self.merchant.cohort == Cohort.SELF_SERVE

    @property
    def journey_blocked(self) -> bool:
        return self.merchant.journey_status == JourneyStatus.BLOCKED

    @property
    def steps(self) -> list[StepCard]:
        return [step for stage in self.stages for step in stage.steps]

    @property
    def waiting(self) -> bool:
        """Something waits on us: the journey polls."""
        return any(card.waiting for card in self.steps)


def _needs(card: StepCard, problem: str, action: str, url: str | None = None) -> None:
    card.state, card.problem, card.action = ACTION_NEEDED, problem, action
    if url:
        card.url = url


def _wait(card: StepCard, detail: str) -> None:
    card.state = WAITING
    card.detail = f"{card.detail} {detail}".strip()


def _kyb_card(card: StepCard, merchant: Merchant, *, delayed: bool) -> None:
    status = merchant.kyb_status
    if status == CheckStatus.SUBMITTED:
        _wait(card, f"{KYB_VERIFYING} {KYB_DELAYED}" if delayed else KYB_VERIFYING)
    elif status == CheckStatus.REVIEW_REQUIRED:
        _wait(card, KYB_UNDER_REVIEW)
    elif status == CheckStatus.REJECTED:
        problem = KYB_REJECTED.format(reason=reason_sentence(merchant.kyb_rejection_reason))
        _needs(card, problem, KYB_FIX_ACTION, f"{card.url}#{KYB_FIX_FIELD}" if card.url else None)


def _kyc_card(card: StepCard, merchant: Merchant) -> None:
    if merchant.kyc_status in (CheckStatus.SUBMITTED, CheckStatus.REVIEW_REQUIRED):
        _wait(card, KYC_VERIFYING)
    elif merchant.kyc_status == CheckStatus.REJECTED:
        _needs(card, KYC_REJECTED, "Check owners and representatives")


def _bank_card(card: StepCard, merchant: Merchant, bank: dict | None, bank_url: str | None):
    """The payout bank account belongs to step 7, before and after the step is done: a
    failed verification needs the merchant whatever the step's state."""
    if card.state in (LOCKED, ACTION_NEEDED):
        return
    if bank is None:
        if not card.done or not merchant.payouts_enabled:
            card.detail = f"{card.detail} {BANK_MISSING}".strip()
        return
    status = bank["verification_status"]
    if status == VerificationStatus.IN_PROGRESS:
        _wait(card, BANK_VERIFYING)
    elif status == VerificationStatus.FAILED:
        reason = reason_sentence(bank["verification_failure_reason"])
        _needs(card, BANK_FAILED.format(reason=reason), "Replace your bank account", bank_url)


def _hardware_card(card: StepCard, shipment: dict | None) -> None:
    if shipment is None:
        return
    status = shipment["shipment_status"]
    if status in IN_TRANSIT_SHIPMENTS:
        tracking = shipment["tracking_number"]
        carrier = shipment["shipping_carrier"] or "carrier"
        detail = HARDWARE_ON_ITS_WAY
        if tracking:
            detail += f" Tracking number ({carrier}): {tracking}."
        _wait(card, detail)
    elif status == "delivered":
        card.detail = HARDWARE_ARRIVED
    elif status == "failed_delivery":
        _wait(card, HARDWARE_NOT_DELIVERED)


def _generic_state(card: StepCard, progress) -> None:
    if progress.status == StepStatus.BLOCKED:
        reason = reason_sentence(progress.blocked_reason) if progress.blocked_reason else ""
        card.state, card.detail = WAITING, reason or STEP_ON_HOLD
    elif progress.status == StepStatus.FAILED:
        card.problem = reason_sentence(progress.last_error) if progress.last_error else STEP_RETRY
        card.action = "Try again"


def _locked_by(progress, rows: dict) -> list[int]:
    """The steps a pending step waits for (none once it started)."""
    if progress.status != StepStatus.PENDING:
        return []
    return [
        dependency.id
        for dependency in sorted(progress.step.depends_on.all(), key=lambda s: s.display_order)
        if rows.get(dependency.id) is None or rows[dependency.id].status not in DONE_STEP_STATUSES
    ]


def _step_card(progress, rows, merchant, *, bank, bank_url, shipment, delayed) -> StepCard:
    step = progress.step
    words = merchant_step(step.id, fallback=step.step_name)
    card = StepCard(
        number=step.id,
        title=words.title,
        purpose=words.purpose or step.step_description,
        optional=words.optional,
        status=progress.status,
        state=STATUS_STATES.get(progress.status, IN_PROGRESS),
        url=page_url(STEP_PAGES.get(step.id)),
    )
    if card.done:
        if progress.status == StepStatus.SKIPPED:
            card.detail = STEP_SKIPPED
        elif step.id == 3 and merchant.kyb_status == CheckStatus.APPROVED:
            card.detail = KYB_APPROVED
        if step.id == KYC_STEP:
            _bank_card(card, merchant, bank, bank_url)
        return card
    _generic_state(card, progress)
    if step.id == 3:
        _kyb_card(card, merchant, delayed=delayed)
    elif step.id == KYC_STEP:
        _kyc_card(card, merchant)
    elif step.id == HARDWARE_SETUP_STEP:
        _hardware_card(card, shipment)
    # Locked while the steps it depends on are not done, unless something is already under
    # way on it (a check, a shipment): then that is what the merchant needs to know.
    waiting_for = _locked_by(progress, rows)
    if waiting_for and card.state == IN_PROGRESS:
        card.state, card.url = LOCKED, None
        card.detail = STEP_LOCKED.format(steps=merchant_steps_named(waiting_for))
        return card
    if step.id == KYC_STEP:
        _bank_card(card, merchant, bank, bank_url)
    return card


def merchant_dashboard(*, merchant: Merchant) -> Dashboard:
    """Everything the dashboard shows, in seven queries at most whatever the history."""
    merchant = Merchant.objects.select_related("lead", "lead__assigned_ae", "user").get(
        pk=merchant.pk
    )
    progress_rows = list(
        merchant.step_progress.select_related("step")
        .prefetch_related("step__depends_on")
        .order_by("step__display_order", "step_id")
    )
    rows = {row.step_id: row for row in progress_rows}
    bank = (
        merchant.bank_accounts.filter(is_primary=True)
        .values("verification_status", "verification_failure_reason")
        .first()
    )
    shipment = (
        HardwareShipment.objects.filter(merchant=merchant)
        .order_by("-created_at", "-pk")
        .values("shipment_status", "tracking_number", "shipping_carrier")
        .first()
    )
    offers_call = merchant.cohort in (Cohort.ASSISTED, Cohort.MANAGED)
    # A call is pending while the lead waits in an AE queue and nobody has contacted it yet;
    # once the AE called (or worked on it), the merchant may ask again.
    call_requested = (
        offers_call
        and QueueAssignment.objects.filter(
            Q(lead_id=merchant.lead_id) | Q(merchant=merchant),
            queue__queue_type=QueueType.AE,
            status__in=CALL_PENDING_STATUSES,
        ).exists()
    )
    delayed = kyb_verification_delayed(merchant=merchant)
    bank_url = page_url("merchants:bank_account")

    stages = {
        code: StageCard(code=code, label=STAGE_WORDS.get(code, label))
        for code, label in Stage.choices
    }
    current = None
    for progress in progress_rows:
        card = _step_card(
            progress,
            rows,
            merchant,
            bank=bank,
            bank_url=bank_url,
            shipment=shipment,
            delayed=delayed,
        )
        if current is None and not card.done and not card.locked:
            card.current, current = True, card
        stage = progress.step.stage
        stages.setdefault(stage, StageCard(code=stage, label=stage))
        stages[stage].steps.append(card)

    cards = [card for stage in stages.values() for card in stage.steps]
    payouts_notice = payouts_action = ""
    if merchant.journey_status == JourneyStatus.COMPLETED and not merchant.payouts_enabled:
        payouts_notice = PAYOUTS_HELD_FAILED if bank else PAYOUTS_HELD_LIVE
        payouts_action = "Replace your bank account" if bank else "Add your bank account"
    ae = merchant.lead.assigned_ae
    return Dashboard(
        merchant=merchant,
        stages=[stage for stage in stages.values() if stage.steps],
        total_count=len(cards),
        done_count=sum(1 for card in cards if card.done),
        current=current,
        actions=[card for card in cards if card.state == ACTION_NEEDED],
        payouts_notice=payouts_notice,
        payouts_action=payouts_action,
        bank_url=bank_url,
        ae_name=ae.get_full_name() if ae else "",
        ae_email=ae.email if ae else "",
        offers_call=offers_call,
        call_requested=call_requested,
    )
