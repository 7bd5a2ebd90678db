"""Steps 9 and 10 as their pages show them: whether hardware setup may start (THE rule
for step 9), its checklist, and the integrations offered in the final configuration."""

from dataclasses import dataclass

from apps.merchants.models import Merchant
from apps.merchants.selectors.steps import HARDWARE_SETUP_STEP, step_gate
from apps.orders.models import Order
from apps.orders.models.catalog import ItemType
from apps.orders.models.order import PAID_AND_LATER
from apps.orders.models.shipment import ShipmentStatus
from apps.progress.models import MerchantStepProgress, StepStatus

HARDWARE_CHECKLIST = (
    ("unbox", "Unbox the hardware"),
    ("card_reader", "Connect the card reader"),
    ("receipt_printer", "Pair the receipt printer"),
    ("test_receipt", "Print a test receipt"),
    ("test_payment", "Test a card payment"),
)
INTEGRATION_CHOICES = (
    ("quickbooks", "QuickBooks (accounting)"),
    ("xero", "Xero (accounting)"),
    ("ecommerce", "E-commerce store"),
    ("loyalty", "Loyalty program"),
)

HARDWARE_WAITS_FOR_STEP_7 = "Hardware setup opens once payments are activated (step 7)."
HARDWARE_IN_TRANSIT = (
    "Your hardware is on its way: this step opens when the shipment is delivered."
)


@dataclass
class Availability:
    ok: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.ok


def hardware_ordered(*, merchant: Merchant) -> bool | None:
    """True when a paid order of the merchant has hardware, False when it has paid orders
    and none has hardware (software only), None when no order is paid yet (nothing known:
    the checklist is offered)."""
    paid = Order.objects.filter(merchant=merchant, status__in=PAID_AND_LATER)
    if not paid.exists():
        return None
    return paid.filter(items__item_type=ItemType.HARDWARE).exists()


def hardware_setup_available(merchant: Merchant) -> Availability:
    """THE rule for step 9 (the orders work changes it only here). Open when step 7 is
    done (its dependency) and either a shipment of the merchant is delivered, or no
    hardware was ordered: software only, or no paid order known to the portal yet (until
    orders land, a finished step 7 is enough)."""
    gate = step_gate(merchant=merchant, step_id=HARDWARE_SETUP_STEP)
    if not gate.open:
        return Availability(False, HARDWARE_WAITS_FOR_STEP_7)
    if gate.progress is not None and gate.progress.status != StepStatus.PENDING:
        return Availability(True)
    if merchant.shipments.filter(shipment_status=ShipmentStatus.DELIVERED).exists():
        return Availability(True)
    if hardware_ordered(merchant=merchant):
        return Availability(False, HARDWARE_IN_TRANSIT)
    return Availability(True)


def hardware_checklist(progress: MerchantStepProgress | None) -> list[dict]:
    done = ((progress.step_data or {}).get("checklist") or {}) if progress else {}
    return [
        {"key": key, "label": label, "done": bool(done.get(key))}
        for key, label in HARDWARE_CHECKLIST
    ]


def final_config_choices(progress: MerchantStepProgress | None) -> list[str]:
    return list((progress.step_data or {}).get("integrations") or []) if progress else []
