"""The merchant's accounts in external systems (X-Series, payments, billing) as the
purchase-and-provision saga or checkout records them: one account per system, never
replaced, and no X-Series account before KYB approval (rule 1)."""

from django.db import transaction

from apps.core.errors import DomainError
from apps.core.fsm import save_tracked
from apps.integrations.outbox import event_emit
from apps.merchants.choices import CheckStatus
from apps.merchants.models import Merchant

X_SERIES_BEFORE_KYB = "An X-Series account is created only after business verification (KYB)."
EXTERNAL_ID_TAKEN = "This business already has another {system} account ({current})."


def merchant_external_ids_set(
    *,
    merchant: Merchant,
    x_series_account_id: str | None = None,
    payments_account_id: str | None = None,
    billing_customer_id: str | None = None,
    actor=None,
) -> Merchant:
    """Record the accounts the purchase saga (or checkout) created for the business. Only the
    ids given are written; giving an id already recorded changes nothing (the saga may run a
    step twice), while a different id for an account already recorded is refused: one
    business, one account per system. Rule 1: no X-Series account before KYB approval (the
    check constraint kyb_before_purchase refuses it too)."""
    wanted = {
        "x_series_account_id": (x_series_account_id, "X-Series"),
        "payments_account_id": (payments_account_id, "payments"),
        "billing_customer_id": (billing_customer_id, "billing"),
    }
    with transaction.atomic():
        current = Merchant.objects.select_for_update().get(pk=merchant.pk)
        changed = []
        for field, (value, system) in wanted.items():
            if not value or getattr(current, field) == value:
                continue
            if getattr(current, field):
                raise DomainError(
                    EXTERNAL_ID_TAKEN.format(system=system, current=getattr(current, field)),
                    code="external_id_taken",
                )
            changed.append(field)
        if "x_series_account_id" in changed and current.kyb_status != CheckStatus.APPROVED:
            raise DomainError(X_SERIES_BEFORE_KYB, code="kyb_required")
        if not changed:
            return merchant
        for field in changed:
            setattr(current, field, wanted[field][0])
        save_tracked(
            current,
            actor=actor,
            reason="merchant_external_ids_set: " + ", ".join(changed),
            update_fields=[*changed, "updated_at"],
        )

        event_emit(
            event_type="merchant.external_ids_set",
            aggregate=current,
            payload={field: wanted[field][0] for field in changed},
        )
    for field in changed:
        setattr(merchant, field, getattr(current, field))
    return merchant


def merchant_external_accounts_close(
    *, merchant: Merchant, x_series_account_id: str = "", payments_account_id: str = "", reason: str
) -> Merchant:
    """Forget the X-Series and payments accounts the provider closed (a refunded purchase
    had opened them), so that the next purchase opens new ones. Only an id still recorded is
    cleared; calling again changes nothing."""
    closing = {
        "x_series_account_id": x_series_account_id,
        "payments_account_id": payments_account_id,
    }
    with transaction.atomic():
        current = Merchant.objects.select_for_update().get(pk=merchant.pk)
        cleared = [
            field for field, value in closing.items() if value and getattr(current, field) == value
        ]
        if not cleared:
            return current
        for field in cleared:
            setattr(current, field, None)
        save_tracked(
            current,
            actor=None,
            reason=f"merchant_external_accounts_close: {reason}"[:255],
            update_fields=[*cleared, "updated_at"],
        )
        event_emit(
            event_type="merchant.external_accounts_closed",
            aggregate=current,
            payload={field: closing[field] for field in cleared} | {"reason": reason},
        )
    return current
