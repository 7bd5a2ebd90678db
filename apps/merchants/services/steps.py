"""The guided-setup steps (7 to 10) as the services work them. A step is worked on only once
its gate is open (the steps it depends on are done); working on it starts it, or puts it
back in progress after a failure; a step on hold (blocked by staff) refuses. The
`_setup_step_*` helpers are for the services of this package and run in the caller's
transaction; step_locked_message is also what the pages say about a locked step."""

from django.utils import timezone

from apps.core.errors import TransitionRefused
from apps.core.fsm import save_tracked
from apps.merchants.models import Merchant
from apps.merchants.selectors.steps import merchant_steps_named, step_gate
from apps.progress import services as progress_services
from apps.progress.models import DONE_STEP_STATUSES, MerchantStepProgress, StepStatus
from apps.progress.services import step_fail

SETUP_STEPS_NOT_SET_UP = "Your onboarding steps are not set up yet. Please try again later."
STEP_LOCKED = "Step {step} opens once {waiting} {verb} completed."
STEP_ON_HOLD = "This step is on hold: {reason}"
STEP_ALREADY_DONE = "This step is already done."
# Refuses what a setup form cannot set (a programming error more than a user one).
FIELDS_UNKNOWN = "These fields cannot be set here: {names}."

_SETUP_STEP_OPENERS = {"pending": "step_start", "failed": "step_retry"}


def step_locked_message(gate) -> str:
    """ "Step 7 opens once step 6 (Pay) is completed." (the merchant's words)."""
    if gate.progress is None or not gate.waiting_for:
        return SETUP_STEPS_NOT_SET_UP
    waiting = merchant_steps_named(s.id for s in gate.waiting_for)
    verb = "is" if len(gate.waiting_for) == 1 else "are"
    return STEP_LOCKED.format(step=gate.step.id, waiting=waiting, verb=verb)


def _setup_gate(merchant: Merchant, step_id: int):
    """The step's gate, or a refusal saying which steps must be completed first."""
    gate = step_gate(merchant=merchant, step_id=step_id)
    if not gate.open:
        raise TransitionRefused(step_locked_message(gate), code="step_locked")
    return gate


def _setup_step_open(merchant: Merchant, step_id: int, actor):
    """The merchant works on the step: started the first time, back in progress after a
    failure. A step on hold (blocked by our staff) refuses; a done step is left as it is.
    Returns the progress row, locked."""
    gate = _setup_gate(merchant, step_id)
    progress = MerchantStepProgress.objects.select_for_update().get(pk=gate.progress.pk)
    if progress.status == StepStatus.BLOCKED:
        raise TransitionRefused(
            STEP_ON_HOLD.format(reason=progress.blocked_reason or "we will be in touch."),
            code="step_on_hold",
        )
    opener = _SETUP_STEP_OPENERS.get(progress.status)
    if opener is not None:
        getattr(progress_services, opener)(progress=progress, actor=actor)
    return progress


def _setup_step_touch(progress, *, actor, reason: str, data: dict | None = None) -> None:
    """Activity on a step (stall detection reads last_activity_at); `data` is merged into
    its step_data."""
    fields = ["last_activity_at", "updated_at"]
    progress.last_activity_at = timezone.now()
    if data is not None:
        progress.step_data = {**(progress.step_data or {}), **data}
        fields.append("step_data")
    save_tracked(progress, actor=actor, reason=reason, update_fields=fields)


def _setup_step_finish(merchant: Merchant, step_id: int, *, actor) -> bool:
    """Complete the step, starting it first when it may start. False when it cannot be
    completed now (locked, on hold); True when it is done (or was)."""
    gate = step_gate(merchant=merchant, step_id=step_id)
    if gate.progress is None:
        return False
    progress = MerchantStepProgress.objects.select_for_update().get(pk=gate.progress.pk)
    if progress.status in DONE_STEP_STATUSES:
        return True
    if progress.status == StepStatus.BLOCKED or not gate.open:
        return False
    opener = _SETUP_STEP_OPENERS.get(progress.status)
    if opener is not None:
        getattr(progress_services, opener)(progress=progress, actor=actor)
    progress_services.step_complete(progress=progress, actor=actor)
    return True


def _setup_step_fail(merchant: Merchant, step_id: int, *, actor, error: str) -> None:
    """Count an error on a step in progress (three make an error_threshold alert)."""
    progress = (
        MerchantStepProgress.objects.select_for_update()
        .filter(merchant=merchant, step_id=step_id, status=StepStatus.IN_PROGRESS)
        .first()
    )
    if progress is not None:
        step_fail(progress=progress, actor=actor, error=error[:2000])
