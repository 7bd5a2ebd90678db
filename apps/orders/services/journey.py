"""The merchant's onboarding steps 4-6 (software, hardware, payment) completed as the purchase
goes on, by quotes, checkout and the saga. Progress follows the purchase and never blocks it."""

import logging

from apps.core.errors import DomainError
from apps.orders import selectors
from apps.orders.models.order import Order

logger = logging.getLogger(__name__)


def _journey_step_complete(*, merchant, step_id: int, actor) -> None:
    """Complete one of the buying steps (started first if it was pending). Progress follows
    the purchase and never blocks it: a step that cannot move is logged and left as it is."""
    from apps.progress.models import MerchantStepProgress, StepStatus
    from apps.progress.services import step_complete, step_retry, step_start

    progress = (
        MerchantStepProgress.objects.select_for_update()
        .filter(merchant=merchant, step_id=step_id)
        .first()
    )
    if progress is None:
        logger.warning("Merchant %s has no progress row for step %s.", merchant.pk, step_id)
        return
    try:
        if progress.status == StepStatus.PENDING:
            step_start(progress=progress, actor=actor)
        elif progress.status == StepStatus.FAILED:
            step_retry(progress=progress, actor=actor)
        if progress.status == StepStatus.IN_PROGRESS:
            step_complete(progress=progress, actor=actor)
    except DomainError as exc:
        logger.warning("Step %s of merchant %s left as is: %s", step_id, merchant.pk, exc)


def _journey_quote_recorded(*, order: Order, actor) -> None:
    """Step 4 (software chosen) and step 5 (hardware chosen, or none needed) are done."""
    _journey_step_complete(merchant=order.merchant, step_id=selectors.SOFTWARE_STEP, actor=actor)
    _journey_step_complete(merchant=order.merchant, step_id=selectors.HARDWARE_STEP, actor=actor)


def order_journey_undo(*, order: Order, merchant_words: str, actor=None) -> None:
    """The purchase was undone (refunded by the saga's compensation): the journey is put back
    to agree with it, in the caller's transaction. Step 6 (payment) is reopened with
    `merchant_words` (what happened and what to do next, shown on the dashboard); the lead
    goes back to qualified when this order converted it: no other paid order stands and the
    merchant has not gone live."""
    from apps.leads.models import Lead, LeadStatus
    from apps.leads.services import lead_conversion_undo
    from apps.merchants.choices import JourneyStatus
    from apps.orders.models.order import PAID_AND_LATER
    from apps.progress.models import MerchantStepProgress, StepStatus
    from apps.progress.services import step_fail, step_undo

    merchant = order.merchant
    progress = (
        MerchantStepProgress.objects.select_for_update()
        .filter(merchant=merchant, step_id=selectors.PAYMENT_STEP)
        .first()
    )
    if progress is not None and progress.status == StepStatus.COMPLETED:
        step_undo(progress=progress, actor=actor, error=merchant_words)
    elif progress is not None and progress.status == StepStatus.IN_PROGRESS:
        step_fail(progress=progress, actor=actor, error=merchant_words)

    others_paid = merchant.orders.exclude(pk=order.pk).filter(status__in=PAID_AND_LATER).exists()
    lead = Lead.objects.select_for_update().filter(pk=merchant.lead_id).first()
    if (
        lead is not None
        and lead.status == LeadStatus.CONVERTED
        and not others_paid
        and merchant.journey_status != JourneyStatus.COMPLETED
    ):
        lead_conversion_undo(lead=lead, actor=actor, reason=f"order {order.order_number} refunded")
