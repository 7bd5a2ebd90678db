"""Steps 9 and 10 and going live: the hardware checklist (or no hardware to set up), the
integrations chosen in the final configuration, and "Go live", which closes the optional
steps still open, completes the journey and converts a qualified lead."""

from django.db import transaction
from django.utils import timezone

from apps.core.errors import DomainError, TransitionRefused
from apps.leads.models import Lead, LeadStatus
from apps.leads.services import lead_convert
from apps.merchants.choices import DataImportStatus, JourneyStatus, VerificationStatus
from apps.merchants.models import Merchant
from apps.merchants.selectors.setup import (
    HARDWARE_CHECKLIST,
    INTEGRATION_CHOICES,
    hardware_ordered,
    hardware_setup_available,
)
from apps.merchants.selectors.steps import merchant_step, required_steps_missing
from apps.merchants.services.journey import merchant_journey_complete
from apps.merchants.services.steps import (
    STEP_ALREADY_DONE,
    _setup_step_finish,
    _setup_step_open,
    _setup_step_touch,
)
from apps.progress.models import DONE_STEP_STATUSES, MerchantStepProgress, StepStatus
from apps.progress.services import step_complete, step_retry, step_skip

HARDWARE_ITEM_UNKNOWN = "There is no such item on the hardware checklist."
HARDWARE_WAS_ORDERED = "Your order includes hardware: set it up with the checklist."
INTEGRATION_UNKNOWN = "Unknown integration: {names}."
GO_LIVE_MISSING_STEPS = "Finish these steps before going live: {steps}."
ALREADY_LIVE = "Your business is already live."
PAYOUTS_HELD_CONFIRMATION = (
    "Your bank account is not verified yet: payouts stay held until you add a bank account "
    "and it is verified. Confirm that you want to go live anyway, or add your bank account "
    "first."
)


def _steps_named(steps) -> str:
    return "; ".join(f"step {step.id} ({merchant_step(step.id).title})" for step in steps)


def _hardware_open(merchant: Merchant, actor):
    available = hardware_setup_available(merchant)
    if not available:
        raise TransitionRefused(available.reason, code="hardware_setup_unavailable")
    progress = _setup_step_open(merchant, 9, actor)
    if progress.status in DONE_STEP_STATUSES:
        raise TransitionRefused(STEP_ALREADY_DONE, code="step_done")
    return progress


def hardware_setup_item_set(*, merchant: Merchant, item: str, done: bool, actor):
    """Tick (or untick) one item of the hardware checklist, kept in step 9's step_data;
    the last item ticked completes step 9."""
    keys = [key for key, _label in HARDWARE_CHECKLIST]
    if item not in keys:
        raise DomainError(HARDWARE_ITEM_UNKNOWN, code="unknown_item")
    with transaction.atomic():
        progress = _hardware_open(merchant, actor)
        checklist = {**((progress.step_data or {}).get("checklist") or {}), item: bool(done)}
        _setup_step_touch(
            progress,
            actor=actor,
            reason=f"hardware_setup_item_set: {item} {'done' if done else 'not done'}",
            data={"checklist": checklist},
        )
        if all(checklist.get(key) for key in keys):
            step_complete(progress=progress, actor=actor)
    return progress


def hardware_setup_complete_without_hardware(*, merchant: Merchant, actor):
    """Step 9 for a software-only merchant (paid orders, none with hardware)."""
    if hardware_ordered(merchant=merchant) is not False:
        raise TransitionRefused(HARDWARE_WAS_ORDERED, code="hardware_ordered")
    with transaction.atomic():
        progress = _hardware_open(merchant, actor)
        _setup_step_touch(
            progress,
            actor=actor,
            reason="hardware_setup_complete_without_hardware",
            data={"no_hardware": True},
        )
        step_complete(progress=progress, actor=actor)
    return progress


def final_config_save(*, merchant: Merchant, integrations: list[str], actor):
    """The integrations the merchant wants (step 10's step_data), starting step 10."""
    known = [key for key, _label in INTEGRATION_CHOICES]
    unknown = sorted(set(integrations) - set(known))
    if unknown:
        raise DomainError(INTEGRATION_UNKNOWN.format(names=", ".join(unknown)), code="unknown")
    chosen = [key for key in known if key in set(integrations)]
    with transaction.atomic():
        progress = _setup_step_open(merchant, 10, actor)
        _setup_step_touch(
            progress,
            actor=actor,
            reason=f"final_config_save: {', '.join(chosen) or 'no integrations'}",
            data={"integrations": chosen},
        )
    return progress


def merchant_go_live(
    *, merchant: Merchant, actor, payouts_held_confirmed: bool = False
) -> Merchant:
    """Go live: with every required step completed, the optional ones still open are
    closed (final configuration completed with its choices; data import completed when a
    file was imported, else skipped), the journey is completed (the merchant becomes
    active) and a qualified lead is converted. Refused with the list of missing steps;
    without a verified bank account, refused unless the merchant confirmed that payouts
    stay held (kept in step 10's step_data and the history reason)."""
    with transaction.atomic():
        merchant = Merchant.objects.select_for_update().get(pk=merchant.pk)
        if merchant.is_active or merchant.journey_status == JourneyStatus.COMPLETED:
            raise TransitionRefused(ALREADY_LIVE, code="already_live")
        missing = required_steps_missing(merchant=merchant)
        if missing:
            raise TransitionRefused(
                GO_LIVE_MISSING_STEPS.format(steps=_steps_named(missing)), code="steps_missing"
            )
        bank_verified = merchant.bank_accounts.filter(
            is_primary=True, verification_status=VerificationStatus.VERIFIED
        ).exists()
        if not bank_verified and not payouts_held_confirmed:
            raise TransitionRefused(PAYOUTS_HELD_CONFIRMATION, code="payouts_held_unconfirmed")
        if not bank_verified:
            final = _setup_step_open(merchant, 10, actor)
            _setup_step_touch(
                final,
                actor=actor,
                reason="merchant_go_live: payouts held confirmed (no verified bank account)",
                data={"payouts_held_confirmed_at": timezone.now().isoformat()},
            )
        _setup_step_finish(merchant, 10, actor=actor)
        imported = merchant.data_imports.filter(status=DataImportStatus.COMPLETED).exists()
        data_step = (
            MerchantStepProgress.objects.select_for_update()
            .filter(merchant=merchant, step_id=8)
            .first()
        )
        if data_step is not None and imported:
            _setup_step_finish(merchant, 8, actor=actor)
        elif data_step is not None and data_step.status in (
            StepStatus.PENDING,
            StepStatus.IN_PROGRESS,
            StepStatus.FAILED,
        ):
            if data_step.status == StepStatus.FAILED:
                step_retry(progress=data_step, actor=actor)
            step_skip(progress=data_step, actor=actor)
        merchant.refresh_from_db()
        merchant_journey_complete(merchant=merchant, actor=actor)
        lead = Lead.objects.select_for_update().get(pk=merchant.lead_id)
        if lead.status == LeadStatus.QUALIFIED:
            lead_convert(lead=lead, actor=actor, reason="merchant went live")
    return merchant
