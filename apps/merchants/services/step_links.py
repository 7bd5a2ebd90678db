"""Step links (apps.core.links): what opening one means, and the fresh link a merchant asks
for from an expired one. The link signs in nobody: a signed-out visitor signs in first."""

from dataclasses import dataclass
from datetime import timedelta

from django.core import signing
from django.utils import timezone

from apps.core.links import step_link_read, step_link_read_expired
from apps.integrations.models import IntegrationEvent
from apps.integrations.outbox import event_emit
from apps.merchants.models import Merchant
from apps.merchants.selectors.steps import step_page_url

STEP_LINK_REQUESTED = "merchant.step_link_requested"
# At most one fresh link per merchant in this window: asking again says the same and sends
# nothing more (the email goes to the merchant's own address only).
FRESH_LINK_WINDOW = timedelta(minutes=2)

VALID, EXPIRED, INVALID = "valid", "expired", "invalid"


@dataclass
class StepLink:
    status: str  # VALID, EXPIRED or INVALID
    merchant: Merchant | None = None
    path: str = ""  # where it leads ("" for a valid link: where the merchant stands now)


def step_link_open(token: str) -> StepLink:
    """What a step link names, and whether it may still be used."""
    try:
        data, status = step_link_read(token), VALID
    except signing.SignatureExpired:
        data, status = step_link_read_expired(token), EXPIRED
    except signing.BadSignature:
        return StepLink(status=INVALID)
    merchant = Merchant.objects.select_related("user", "lead").filter(pk=data["m"]).first()
    if merchant is None:
        return StepLink(status=INVALID)
    path = data.get("p") or ""
    if not path and isinstance(data.get("s"), int):
        path = step_page_url(data["s"])
    if not path.startswith("/") or path.startswith("//"):
        path = ""
    return StepLink(status=status, merchant=merchant, path=path)


def merchant_step_link_resend(*, merchant: Merchant, path: str, base_url: str = "") -> bool:
    """Email the merchant a fresh link to `path` (outbox: retried on failure). False when
    one was sent within FRESH_LINK_WINDOW (nothing more is sent)."""
    recent = IntegrationEvent.objects.filter(
        event_type=STEP_LINK_REQUESTED,
        aggregate_type="merchant",
        aggregate_id=merchant.pk,
        occurred_at__gte=timezone.now() - FRESH_LINK_WINDOW,
    ).exists()
    if recent:
        return False
    event_emit(
        event_type=STEP_LINK_REQUESTED,
        aggregate=merchant,
        payload={"path": path, "base_url": base_url},
    )
    return True
