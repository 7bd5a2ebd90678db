"""The payout bank account as the bank account page shows it."""

from apps.merchants.models import Merchant, MerchantBankAccount


def bank_account_current(*, merchant: Merchant) -> MerchantBankAccount | None:
    """The primary payout account (the one that counts for payouts), if any."""
    return (
        MerchantBankAccount.objects.filter(merchant=merchant, is_primary=True)
        .order_by("-created_at")
        .first()
    )
