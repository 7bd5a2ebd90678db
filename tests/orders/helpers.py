"""Helpers of the order tests: the journey and KYB through the services, quotes, payments
and the sandbox ledger."""

import uuid

from apps.integrations.models import SandboxLedgerEntry
from apps.merchants.choices import CheckStatus
from apps.merchants.services.kyb import merchant_kyb_decide, merchant_kyb_submit
from apps.orders import pricing
from apps.orders.services import checkout, quotes
from apps.progress.models import MerchantStepProgress
from apps.progress.services import merchant_progress_create, step_complete, step_start


def journey_until(merchant, last_step: int) -> None:
    """Steps 1..last_step completed through the progress services."""
    merchant_progress_create(merchant=merchant)
    for step_id in range(1, last_step + 1):
        progress = MerchantStepProgress.objects.get(merchant=merchant, step_id=step_id)
        step_start(progress=progress, actor=None)
        step_complete(progress=progress, actor=None)


def kyb_approve(merchant) -> None:
    """KYB submitted by the merchant and approved by the provider (qualifies the lead). Where
    on-commit work runs at once (browser tests), the sandbox provider's decision may already
    have arrived through its webhook when the submission returns."""
    merchant_kyb_submit(merchant=merchant, actor=merchant.user)
    merchant.refresh_from_db()
    if merchant.kyb_status != CheckStatus.APPROVED:
        merchant_kyb_decide(merchant=merchant, decision=CheckStatus.APPROVED, provider="sandbox")


def selection_for(merchant, *, tier="SW-CORE", hardware=None, choice=None, **extra):
    """A Selection for `merchant`: hardware {sku: qty} goes to its first ship-to."""
    from apps.orders.selectors import ship_to_choices

    key = ship_to_choices(merchant=merchant)[0][0]
    if choice is None:
        choice = pricing.HARDWARE_BUY if hardware else pricing.HARDWARE_NONE
    return pricing.Selection(
        tier=tier,
        locations=extra.pop("locations", 1),
        hardware={key: hardware} if hardware else {},
        hardware_choice=choice,
        **extra,
    )


def quote_for(merchant, **selection):
    return quotes.order_quote_create(
        merchant=merchant, selection=selection_for(merchant, **selection), actor=merchant.user
    )


def accepted_quote(merchant, **selection):
    order = quote_for(merchant, **selection)
    quotes.order_accept(order=order, actor=merchant.user)
    return order


def pay(order, *, attempt=None):
    return checkout.order_pay(
        order=order, attempt=attempt or str(uuid.uuid4()), actor=order.merchant.user
    )


def ledger(system: str, operation: str) -> int:
    return SandboxLedgerEntry.objects.filter(system=system, operation=operation).count()


HARDWARE_SET = {"HW-CARD-READER": 1, "HW-RECEIPT-PRINTER": 1}
