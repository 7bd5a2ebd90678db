"""The merchant's dashboard: every step as a card (its state in words, what is going on,
what fixes a problem), grouped by stage, with the step to work on next and the account
executive. Six queries at most, whatever the merchant's history."""

from dataclasses import dataclass, field

from django.db.models import Q

from apps.leads.models import Cohort, Stage
from apps.merchants.choices import CheckStatus, JourneyStatus, VerificationStatus
from apps.merchants.models import Merchant
from apps.merchants.selectors.kyb import (
    KYB_APPROVED,
    KYB_DELAYED,
    KYB_REJECTED,
    KYB_UNDER_REVIEW,
    KYB_VERIFYING,
    kyb_verification_delayed,
)
from apps.merchants.selectors.steps import STEP_PAGES, page_url, reason_sentence
from apps.orders.models import HardwareShipment
from apps.progress.models import DONE_STEP_STATUSES, StepStatus
from apps.routing.models import OPEN_ASSIGNMENT_STATUSES, QueueAssignment, QueueType

STATUS_WORDS = {
    StepStatus.PENDING: "Not started",
    StepStatus.IN_PROGRESS: "In progress",
    StepStatus.COMPLETED: "Done",
    StepStatus.SKIPPED: "Skipped",
    StepStatus.BLOCKED: "On hold",
    StepStatus.FAILED: "Needs your attention",
}

KYC_VERIFYING = "We are verifying your owners and representatives."
KYC_REJECTED = "An owner or representative could not be verified: check their details."
BANK_VERIFYING = "We are verifying your bank account."
BANK_FAILED = "Your bank account could not be verified: {reason} Retry, or add another account."
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
    name: str
    description: str
    required: bool
    status: str
    words: str  # the state in words
    detail: str = ""  # what is going on, when there is more to say
    waiting: bool = False  # waiting on us, not on the merchant
    problem: str = ""  # why it is blocked or failed, and what fixes it
    url: str | None = None  # None: no page yet ("coming soon"), or none needed (has_page)
    has_page: bool = False
    action: str = "Open"
    current: bool = False

    @property
    def done(self) -> bool:
        return self.status in DONE_STEP_STATUSES


@dataclass
class StageCard:
    code: str
    label: str
    steps: list[StepCard] = field(default_factory=list)


@dataclass
class Dashboard:
    merchant: Merchant
    stages: list[StageCard]
    required_count: int
    done_count: int
    current: StepCard | None
    waiting: bool
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


def _kyb_card(card: StepCard, merchant: Merchant, *, delayed: bool) -> None:
    status = merchant.kyb_status
    if status == CheckStatus.SUBMITTED:
        card.words, card.waiting = "Being verified", True
        card.detail = f"{KYB_VERIFYING} {KYB_DELAYED}" if delayed else KYB_VERIFYING
    elif status == CheckStatus.REVIEW_REQUIRED:
        card.words, card.waiting, card.detail = "Under review", True, KYB_UNDER_REVIEW
    elif status == CheckStatus.REJECTED:
        card.words = "Not verified"
        card.problem = KYB_REJECTED.format(reason=reason_sentence(merchant.kyb_rejection_reason))
        card.action = "Correct your business details"
    elif status == CheckStatus.APPROVED:
        card.words = "Approved"


def _kyc_card(card: StepCard, merchant: Merchant, bank: dict | None) -> None:
    if merchant.kyc_status in (CheckStatus.SUBMITTED, CheckStatus.REVIEW_REQUIRED):
        card.waiting, card.detail = True, KYC_VERIFYING
    elif merchant.kyc_status == CheckStatus.REJECTED:
        card.problem, card.action = KYC_REJECTED, "Check owners and representatives"
    if bank is None:
        return
    if bank["verification_status"] == VerificationStatus.IN_PROGRESS:
        card.waiting = True
        card.detail = f"{card.detail} {BANK_VERIFYING}".strip()
    elif bank["verification_status"] == VerificationStatus.FAILED and not card.problem:
        reason = reason_sentence(bank["verification_failure_reason"])
        card.problem, card.action = BANK_FAILED.format(reason=reason), "Fix your bank account"


def _hardware_card(card: StepCard, shipment: dict | None) -> None:
    if shipment is None:
        return
    status = shipment["shipment_status"]
    if status in IN_TRANSIT_SHIPMENTS:
        tracking = shipment["tracking_number"]
        carrier = shipment["shipping_carrier"] or "carrier"
        card.waiting, card.words = True, "On its way"
        card.detail = HARDWARE_ON_ITS_WAY
        if tracking:
            card.detail += f" Tracking number ({carrier}): {tracking}."
    elif status == "delivered":
        card.detail = HARDWARE_ARRIVED
    elif status == "failed_delivery":
        card.problem, card.action = HARDWARE_NOT_DELIVERED, "See your order"


def _generic_problem(card: StepCard, progress) -> None:
    if card.problem:
        return
    if progress.status == StepStatus.BLOCKED:
        card.problem = reason_sentence(progress.blocked_reason) if progress.blocked_reason else ""
        card.problem = card.problem or STEP_ON_HOLD
    elif progress.status == StepStatus.FAILED:
        card.problem = reason_sentence(progress.last_error) if progress.last_error else STEP_RETRY
        card.action = "Try again"


def merchant_dashboard(*, merchant: Merchant) -> Dashboard:
    """Everything the dashboard shows, in six queries at most whatever the history."""
    merchant = Merchant.objects.select_related("lead", "lead__assigned_ae", "user").get(
        pk=merchant.pk
    )
    progress_rows = list(
        merchant.step_progress.select_related("step").order_by("step__display_order", "step_id")
    )
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
    call_requested = (
        offers_call
        and QueueAssignment.objects.filter(
            Q(lead_id=merchant.lead_id) | Q(merchant=merchant),
            queue__queue_type=QueueType.AE,
            status__in=OPEN_ASSIGNMENT_STATUSES,
        ).exists()
    )
    delayed = kyb_verification_delayed(merchant=merchant)

    stages = {code: StageCard(code=code, label=label) for code, label in Stage.choices}
    current = None
    for progress in progress_rows:
        step = progress.step
        card = StepCard(
            number=step.id,
            name=step.step_name,
            description=step.step_description,
            required=step.is_required,
            status=progress.status,
            words=STATUS_WORDS.get(progress.status, progress.get_status_display()),
            url=page_url(STEP_PAGES.get(step.id)),
            has_page=step.id in STEP_PAGES,
        )
        if card.done and step.id == 3 and merchant.kyb_status == CheckStatus.APPROVED:
            card.detail = KYB_APPROVED
        if not card.done:
            if step.id == 3:
                _kyb_card(card, merchant, delayed=delayed)
            elif step.id == 7:
                _kyc_card(card, merchant, bank)
            elif step.id == 9:
                _hardware_card(card, shipment)
            _generic_problem(card, progress)
            if current is None:
                card.current, current = True, card
        stages.setdefault(step.stage, StageCard(code=step.stage, label=step.stage))
        stages[step.stage].steps.append(card)

    required = [row for row in progress_rows if row.step.is_required]
    ae = merchant.lead.assigned_ae
    return Dashboard(
        merchant=merchant,
        stages=[stage for stage in stages.values() if stage.steps],
        required_count=len(required),
        done_count=sum(1 for row in required if row.status == StepStatus.COMPLETED),
        current=current,
        waiting=any(card.waiting for stage in stages.values() for card in stage.steps),
        ae_name=ae.get_full_name() if ae else "",
        ae_email=ae.email if ae else "",
        offers_call=offers_call,
        call_requested=call_requested,
    )
