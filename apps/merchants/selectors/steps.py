"""The journey steps as the merchant's pages see them: their numbers and pages, whether a
step is open (its gate: the steps it waits for), what still stands between a merchant and
going live, and how a step's problem reads. Each read is a fixed number of queries."""

from dataclasses import dataclass, field

from django.urls import NoReverseMatch, reverse

from apps.merchants.models import Merchant
from apps.progress.models import (
    DONE_STEP_STATUSES,
    JourneyStep,
    MerchantStepProgress,
    StepStatus,
)

KYC_STEP = 7
DATA_IMPORT_STEP = 8
HARDWARE_SETUP_STEP = 9
FINAL_CONFIG_STEP = 10

# The page serving each step (steps 1-2 are done at account creation). The dashboard says
# "coming soon" for a step whose page does not exist (yet); the setup pages link the dashboard.
STEP_PAGES = {
    3: "merchants:kyb",
    4: "orders:quote",
    5: "orders:quote",
    6: "orders:quote",
    KYC_STEP: "merchants:kyc",
    DATA_IMPORT_STEP: "merchants:data_import",
    HARDWARE_SETUP_STEP: "merchants:hardware_setup",
    FINAL_CONFIG_STEP: "merchants:final_config",
}
FALLBACK_PAGES = ("merchants:dashboard", "accounts:home")


@dataclass(frozen=True)
class MerchantStep:
    """A journey step in the merchant's words: its title and one line saying what it is for.
    The internal name (JourneyStep.step_name, the spec's) stays on staff pages."""

    id: int
    title: str
    purpose: str
    optional: bool = False


MERCHANT_STEPS = {
    step.id: step
    for step in (
        MerchantStep(1, "Tell us about your business", "Who you are and what you sell."),
        MerchantStep(2, "Create your account", "Your sign-in and a confirmed email address."),
        MerchantStep(
            3, "Verify your business", "Your legal name, EIN and registered address, checked."
        ),
        MerchantStep(4, "Choose your plan", "Your software, locations and registers."),
        MerchantStep(5, "Choose your hardware", "What each location and register needs."),
        MerchantStep(6, "Pay", "Review your quote and pay for it."),
        MerchantStep(
            7,
            "Verify owners and get paid out",
            "Your owners and representatives, and the bank account your payouts go to.",
        ),
        MerchantStep(
            8,
            "Import your data",
            "Bring your products, customers and stock from your old system.",
            optional=True,
        ),
        MerchantStep(9, "Set up your hardware", "Unbox, connect and ring up a test sale."),
        MerchantStep(10, "Go live", "Pick your integrations (optional), then open for business."),
    )
}


def merchant_step(step_id: int, *, fallback: str = "") -> MerchantStep:
    """The step in the merchant's words (a step unknown here keeps `fallback` as title)."""
    return MERCHANT_STEPS.get(step_id) or MerchantStep(step_id, fallback or f"Step {step_id}", "")


def merchant_steps_named(step_ids) -> str:
    """ "step 6 (Pay) and step 7 (Verify owners and get paid out)"."""
    return " and ".join(f"step {i} ({merchant_step(i).title})" for i in step_ids)


def step_page_url(step_id: int) -> str:
    for name in (STEP_PAGES.get(step_id), *FALLBACK_PAGES):
        if not name:
            continue
        try:
            return reverse(name)
        except NoReverseMatch:
            continue
    return "/"


def page_url(name: str | None) -> str | None:
    """The URL of a page that may not exist yet (other steps arrive with other issues)."""
    if not name:
        return None
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


def reason_sentence(text: str) -> str:
    """A reason the merchant reads, as a sentence (or that none was given)."""
    text = (text or "").strip()
    if not text:
        return "no reason was given."
    return text if text.endswith((".", "!", "?")) else f"{text}."


@dataclass
class StepGate:
    """Where a merchant stands with one step: `open` when it has started or may start now;
    otherwise `waiting_for` lists the steps to finish first (with their pages)."""

    step: JourneyStep
    progress: MerchantStepProgress | None
    waiting_for: list[JourneyStep] = field(default_factory=list)

    @property
    def open(self) -> bool:
        if self.progress is None:
            return False
        return self.progress.status != StepStatus.PENDING or not self.waiting_for

    @property
    def status(self) -> str:
        return self.progress.status if self.progress else StepStatus.PENDING

    @property
    def done(self) -> bool:
        return self.status in DONE_STEP_STATUSES

    @property
    def waiting_links(self) -> list[tuple[MerchantStep, str]]:
        """The steps to finish first, in the merchant's words, with their pages."""
        return [
            (merchant_step(step.id, fallback=step.step_name), step_page_url(step.id))
            for step in self.waiting_for
        ]


def step_gate(*, merchant: Merchant, step_id: int) -> StepGate:
    """Two queries: the step with its dependencies, the merchant's progress rows."""
    step = JourneyStep.objects.prefetch_related("depends_on").get(pk=step_id)
    rows = {
        row.step_id: row
        for row in MerchantStepProgress.objects.filter(merchant=merchant).order_by("step_id")
    }
    waiting = [
        dependency
        for dependency in sorted(step.depends_on.all(), key=lambda s: s.display_order)
        if rows.get(dependency.id) is None or rows[dependency.id].status not in DONE_STEP_STATUSES
    ]
    return StepGate(step=step, progress=rows.get(step_id), waiting_for=waiting)


def step_progress_get(*, merchant: Merchant, step_id: int) -> MerchantStepProgress | None:
    return (
        MerchantStepProgress.objects.select_related("step")
        .filter(merchant=merchant, step_id=step_id)
        .first()
    )


def required_steps_missing(*, merchant: Merchant) -> list[JourneyStep]:
    """The required steps not completed yet, in journey order (what blocks going live)."""
    return [
        row.step
        for row in MerchantStepProgress.objects.filter(merchant=merchant, step__is_required=True)
        .exclude(status=StepStatus.COMPLETED)
        .select_related("step")
        .order_by("step__display_order")
    ]
