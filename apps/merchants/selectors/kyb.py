"""Step 3 as the merchant sees it: the KYB page's state (form, waiting notice or verified
summary) and the status messages the dashboard's KYB card shares with it."""

from dataclasses import dataclass

from apps.integrations.models import ExternalSystemSync, SyncStatus
from apps.merchants.choices import CheckStatus
from apps.merchants.models import Merchant
from apps.merchants.selectors.steps import STEP_PAGES, page_url, reason_sentence

KYB_VERIFYING = "We are verifying your business (usually minutes)."
KYB_APPROVED = "Your business is verified."
KYB_DELAYED = (
    "The verification service is slow to answer: we keep trying, there is nothing to do on "
    "your side."
)
KYB_UNDER_REVIEW = (
    "Your business is under review by our compliance team (usually within one business day)."
)
KYB_REJECTED = (
    "Your business could not be verified: {reason} Check that your legal business name and "
    "EIN match your IRS records (form CP 575 or 147C) and that the registered address is "
    "the one on file with your state, then submit again."
)
# Where the fix link of a rejection lands: the EIN, the field most often wrong.
KYB_FIX_FIELD = "id_ein"
KYB_FIX_ACTION = "Check your EIN and business details"
KYB_NOT_SUBMITTED = (
    "Tell us about your business: we verify it with our payments partner before you buy "
    "(usually within minutes)."
)


def kyb_verification_delayed(*, merchant: Merchant) -> bool:
    """True when the KYB check could not be handed to the provider yet (its sync failed and
    is being retried): the merchant is told it takes longer, not that something broke."""
    if merchant.kyb_status != CheckStatus.SUBMITTED:
        return False
    return ExternalSystemSync.objects.filter(
        entity_type="merchant_kyb",
        entity_id=merchant.pk,
        external_system="payments",
        sync_status__in=[SyncStatus.FAILED, SyncStatus.CONFLICT],
    ).exists()


@dataclass
class KybPage:
    merchant: Merchant
    editable: bool  # the form is shown: not submitted yet, or rejected
    waiting: bool  # waiting on us: the page polls
    status_message: str
    problem: str
    next_url: str | None


def merchant_kyb_page(*, merchant: Merchant) -> KybPage:
    """The KYB page's state in two queries (three while submitted): the form while details
    may change, a waiting notice while verifying, the verified summary once approved."""
    merchant = Merchant.objects.select_related("lead").get(pk=merchant.pk)
    status = merchant.kyb_status
    problem, message = "", ""
    if status == CheckStatus.PENDING:
        message = KYB_NOT_SUBMITTED
    elif status == CheckStatus.SUBMITTED:
        delayed = kyb_verification_delayed(merchant=merchant)
        message = f"{KYB_VERIFYING} {KYB_DELAYED}" if delayed else KYB_VERIFYING
    elif status == CheckStatus.REVIEW_REQUIRED:
        message = KYB_UNDER_REVIEW
    elif status == CheckStatus.REJECTED:
        problem = KYB_REJECTED.format(reason=reason_sentence(merchant.kyb_rejection_reason))
    elif status == CheckStatus.APPROVED:
        message = KYB_APPROVED
    return KybPage(
        merchant=merchant,
        editable=status in (CheckStatus.PENDING, CheckStatus.REJECTED),
        waiting=status in (CheckStatus.SUBMITTED, CheckStatus.REVIEW_REQUIRED),
        status_message=message,
        problem=problem,
        next_url=page_url(STEP_PAGES[4]),
    )
