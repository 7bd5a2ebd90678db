"""Quote pricing: pure functions over Decimal, no database (the services pass the catalog and
the tax rate in).

The rules, as the quote page states them:

- Money is Decimal end to end. Every line amount (gross, discount, tax) is rounded to the cent,
  half up, where it is computed; the order's totals are sums of rounded lines, so the lines
  always add up to the total shown.
- Software tier: one licence per location (monthly). Register licences: each register beyond
  the first at a location (monthly). Add-ons: one per location (monthly). Hardware: per unit
  and per location (one-time). Services: a flat fee (one-time).
- Multi-location discount: 10 % off software licences (the tier and the register licences)
  when the quote covers 3 or more locations.
- Register bundle discount: at each location, every complete bundle of an iPad stand, a
  receipt printer, a cash drawer and a card reader takes 10 % off those four units.
- Tax: the billing state's seeded rate applies to hardware only. Software subscriptions,
  add-ons and services are not taxed here (SaaS taxability differs by state; a per-state rule
  would replace TAXABLE_ITEM_TYPES). Tax is computed per taxable line and rounded there.
- The total is what the checkout charges today: the first month of every monthly line plus
  every one-time line. Monthly lines renew through billing afterwards (`monthly_total`).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

# Item types and units, as stored on Product (apps.orders.models); repeated here as plain
# strings so this module stays free of Django.
SOFTWARE, HARDWARE, SERVICE, ADD_ON = "software_license", "hardware", "service", "add_on"
PER_LOCATION, PER_REGISTER, PER_UNIT, FLAT = "per_location", "per_register", "per_unit", "flat"
MONTHLY, ONE_TIME = "monthly", "one_time"

REGISTER_SKU = "REG-LIC"
IC_SETUP_SKU = "SVC-SETUP-IC"
MULTI_LOCATION_MIN = 3
MULTI_LOCATION_RATE = Decimal("0.10")
BUNDLE_SKUS = ("HW-IPAD-STAND", "HW-RECEIPT-PRINTER", "HW-CASH-DRAWER", "HW-CARD-READER")
BUNDLE_RATE = Decimal("0.10")
TAXABLE_ITEM_TYPES = frozenset({HARDWARE})

MAX_LOCATIONS = 100
MAX_REGISTERS = 500
MAX_UNITS = 99

HARDWARE_BUY, HARDWARE_OWN, HARDWARE_NONE = "buy", "own", "none"
HARDWARE_CHOICES = (HARDWARE_BUY, HARDWARE_OWN, HARDWARE_NONE)

MULTI_LOCATION_NOTE = f"{MULTI_LOCATION_RATE:.0%} multi-location discount on software"
BUNDLE_NOTE = f"{BUNDLE_RATE:.0%} register bundle discount"

# What the quote page says when a choice cannot be priced.
UNKNOWN_TIER = "Choose a software plan."
UNKNOWN_ITEM = "“{sku}” is not something we sell."
WRONG_KIND = "“{sku}” cannot be chosen as {kind}."
LOCATIONS_RANGE = f"The number of locations is between 1 and {MAX_LOCATIONS}."
REGISTERS_RANGE = f"Extra registers are between 0 and {MAX_REGISTERS}."
UNITS_RANGE = f"Each hardware quantity is between 0 and {MAX_UNITS}."
NO_HARDWARE_CHOSEN = (
    "Choose at least one hardware item, or say that you have your own hardware or need none."
)
UNKNOWN_HARDWARE_CHOICE = "Say whether you buy hardware, have your own, or need none."
TAX_RATE_RANGE = "A tax rate is between 0 and 1."


class PricingError(ValueError):
    """A selection that cannot be priced; `message` is shown to the person choosing."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class CatalogEntry:
    sku: str
    name: str
    item_type: str
    pricing_unit: str
    billing_period: str
    unit_price: Decimal


@dataclass(frozen=True)
class Selection:
    """What the merchant (or their AE) chose. `hardware` maps a ship-to key (a location id,
    or "registered" for the registered address) to {sku: quantity}; it counts only when
    `hardware_choice` is "buy"."""

    tier: str
    locations: int = 1
    registers: int = 0
    add_ons: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    hardware: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    hardware_choice: str = HARDWARE_NONE

    @property
    def buys_hardware(self) -> bool:
        return self.hardware_choice == HARDWARE_BUY


@dataclass(frozen=True)
class Line:
    sku: str
    name: str
    item_type: str
    billing_period: str
    quantity: int
    unit_price: Decimal
    gross: Decimal
    discount: Decimal
    line_total: Decimal
    tax: Decimal
    location_key: str | None = None
    discount_note: str = ""

    @property
    def is_monthly(self) -> bool:
        return self.billing_period == MONTHLY


@dataclass(frozen=True)
class Quote:
    lines: tuple[Line, ...]
    tax_rate: Decimal
    subtotal: Decimal  # sum of gross line amounts, before discounts
    discount: Decimal
    tax: Decimal
    total: Decimal  # subtotal - discount + tax: charged at checkout
    monthly_total: Decimal  # what the monthly lines cost each month after the first

    @property
    def has_hardware(self) -> bool:
        return any(line.item_type == HARDWARE for line in self.lines)

    @property
    def discount_notes(self) -> tuple[str, ...]:
        notes = []
        for line in self.lines:
            if line.discount_note and line.discount_note not in notes:
                notes.append(line.discount_note)
        return tuple(notes)


def money(value) -> Decimal:
    """`value` rounded to the cent, half up (2.345 → 2.35, 2.344 → 2.34)."""
    try:
        return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise PricingError(f"“{value}” is not an amount of money.") from exc


def line_tax(item_type: str, line_total: Decimal, tax_rate: Decimal) -> Decimal:
    """The tax on one line: its total at the rate, rounded half up, for taxable types only."""
    if item_type not in TAXABLE_ITEM_TYPES:
        return ZERO
    return money(Decimal(line_total) * Decimal(tax_rate))


def _whole(value, *, low: int, high: int, message: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise PricingError(message)
    return value


def _entry(catalog: Mapping[str, CatalogEntry], sku: str, *, kinds, kind_label: str):
    entry = catalog.get(sku)
    if entry is None:
        raise PricingError(UNKNOWN_ITEM.format(sku=sku))
    if entry.item_type not in kinds:
        raise PricingError(WRONG_KIND.format(sku=sku, kind=kind_label))
    return entry


def _line(
    entry: CatalogEntry,
    quantity: int,
    *,
    tax_rate: Decimal,
    discount_rate: Decimal = ZERO,
    discounted_units: int = 0,
    discount_note: str = "",
    location_key: str | None = None,
) -> Line:
    unit_price = money(entry.unit_price)
    gross = money(unit_price * quantity)
    discount = money(unit_price * discounted_units * discount_rate) if discounted_units else ZERO
    line_total = gross - discount
    tax = line_tax(entry.item_type, line_total, tax_rate)
    return Line(
        sku=entry.sku,
        name=entry.name,
        item_type=entry.item_type,
        billing_period=entry.billing_period,
        quantity=quantity,
        unit_price=unit_price,
        gross=gross,
        discount=discount,
        line_total=line_total,
        tax=tax,
        location_key=location_key,
        discount_note=discount_note if discount else "",
    )


def _software_lines(selection: Selection, catalog, tax_rate) -> list[Line]:
    tier = catalog.get(selection.tier)
    if (
        tier is None
        or tier.item_type != SOFTWARE
        or tier.pricing_unit != PER_LOCATION
        or tier.sku == REGISTER_SKU
    ):
        raise PricingError(UNKNOWN_TIER)
    locations = _whole(selection.locations, low=1, high=MAX_LOCATIONS, message=LOCATIONS_RANGE)
    registers = _whole(selection.registers, low=0, high=MAX_REGISTERS, message=REGISTERS_RANGE)
    multi = locations >= MULTI_LOCATION_MIN
    rate = MULTI_LOCATION_RATE if multi else ZERO

    def software(entry, quantity):
        return _line(
            entry,
            quantity,
            tax_rate=tax_rate,
            discount_rate=rate,
            discounted_units=quantity if multi else 0,
            discount_note=MULTI_LOCATION_NOTE,
        )

    lines = [software(tier, locations)]
    if registers:
        register = _entry(catalog, REGISTER_SKU, kinds={SOFTWARE}, kind_label="a licence")
        lines.append(software(register, registers))
    for sku in dict.fromkeys(selection.add_ons):
        entry = _entry(catalog, sku, kinds={ADD_ON}, kind_label="an add-on")
        lines.append(_line(entry, locations, tax_rate=tax_rate))
    return lines


def _hardware_lines(selection: Selection, catalog, tax_rate) -> list[Line]:
    if selection.hardware_choice not in HARDWARE_CHOICES:
        raise PricingError(UNKNOWN_HARDWARE_CHOICE)
    if not selection.buys_hardware:
        return []
    lines = []
    for location_key, quantities in selection.hardware.items():
        chosen = {}
        for sku, quantity in quantities.items():
            _entry(catalog, sku, kinds={HARDWARE}, kind_label="hardware")
            quantity = _whole(quantity, low=0, high=MAX_UNITS, message=UNITS_RANGE)
            if quantity:
                chosen[sku] = quantity
        bundles = min((chosen.get(sku, 0) for sku in BUNDLE_SKUS), default=0)
        # Catalog order, so a quote reads the same whatever order the form sent.
        for sku in sorted(chosen, key=list(catalog).index):
            in_bundle = bundles if sku in BUNDLE_SKUS else 0
            lines.append(
                _line(
                    catalog[sku],
                    chosen[sku],
                    tax_rate=tax_rate,
                    discount_rate=BUNDLE_RATE,
                    discounted_units=in_bundle,
                    discount_note=BUNDLE_NOTE,
                    location_key=location_key,
                )
            )
    if not lines:
        raise PricingError(NO_HARDWARE_CHOSEN)
    return lines


def _service_lines(selection: Selection, catalog, tax_rate) -> list[Line]:
    lines = []
    for sku in dict.fromkeys(selection.services):
        entry = _entry(catalog, sku, kinds={SERVICE}, kind_label="a service")
        lines.append(_line(entry, 1, tax_rate=tax_rate))
    return lines


def price_quote(
    selection: Selection, catalog: Mapping[str, CatalogEntry], tax_rate: Decimal
) -> Quote:
    """Price `selection` against `catalog` (sku → entry, in display order) with the billing
    state's `tax_rate`. Raises PricingError with a message for the person choosing."""
    tax_rate = Decimal(tax_rate)
    if not ZERO <= tax_rate < 1:
        raise PricingError(TAX_RATE_RANGE)
    lines = (
        _software_lines(selection, catalog, tax_rate)
        + _hardware_lines(selection, catalog, tax_rate)
        + _service_lines(selection, catalog, tax_rate)
    )
    subtotal = sum((line.gross for line in lines), ZERO)
    discount = sum((line.discount for line in lines), ZERO)
    tax = sum((line.tax for line in lines), ZERO)
    monthly = sum((line.line_total + line.tax for line in lines if line.is_monthly), ZERO)
    return Quote(
        lines=tuple(lines),
        tax_rate=tax_rate,
        subtotal=subtotal,
        discount=discount,
        tax=tax,
        total=subtotal - discount + tax,
        monthly_total=monthly,
    )
