"""The quote's money rules (apps.orders.pricing), as pure functions: discounts, tax, rounding
half up at the cent on every line, totals that are the sum of their lines."""

from decimal import Decimal

import pytest

from apps.demo.reference import PRODUCTS
from apps.orders import pricing
from apps.orders.pricing import CatalogEntry, Selection, money, price_quote

D = Decimal
CATALOG = {
    sku: CatalogEntry(sku, name, str(kind), str(unit), str(period), D(price))
    for sku, name, kind, unit, period, price, _description in PRODUCTS
}
CA = D("0.0725")


def entry(sku, price, name="Cable"):
    return CatalogEntry(sku, name, "hardware", "per_unit", "one_time", D(price))


NO_TAX = D("0")


def quote(rate=CA, **choices):
    return price_quote(Selection(**choices), CATALOG, rate)


def line(result, sku, location_key=None):
    return next(
        item
        for item in result.lines
        if item.sku == sku and (location_key is None or item.location_key == location_key)
    )


# --- software ---------------------------------------------------------------------------------


def test_a_plan_costs_its_monthly_price_per_location():
    result = quote(tier="SW-CORE", locations=2)

    core = line(result, "SW-CORE")
    assert (core.quantity, core.unit_price, core.line_total) == (2, D("149.00"), D("298.00"))
    assert core.is_monthly
    assert result.total == D("298.00")
    assert result.monthly_total == D("298.00")


def test_extra_registers_and_add_ons_are_priced_per_register_and_per_location():
    result = quote(tier="SW-LEAN", locations=2, registers=3, add_ons=("ADD-ECOM",))

    assert line(result, "REG-LIC").line_total == D("147.00")  # 3 × 49
    assert line(result, "ADD-ECOM").quantity == 2
    assert line(result, "ADD-ECOM").line_total == D("118.00")
    assert result.subtotal == D("178.00") + D("147.00") + D("118.00")


def test_three_locations_take_ten_percent_off_software_licences():
    result = quote(tier="SW-PLUS", locations=3, registers=2, add_ons=("ADD-LOYALTY",))

    plus, registers, loyalty = (line(result, sku) for sku in ("SW-PLUS", "REG-LIC", "ADD-LOYALTY"))
    assert plus.discount == D("71.70")  # 10 % of 3 × 239
    assert plus.line_total == D("645.30")
    assert registers.discount == D("9.80")
    assert loyalty.discount == D("0.00")  # add-ons are not software licences
    assert result.discount == D("81.50")
    assert pricing.MULTI_LOCATION_NOTE in result.discount_notes


def test_two_locations_get_no_multi_location_discount():
    result = quote(tier="SW-PLUS", locations=2, registers=2)

    assert result.discount == D("0.00")
    assert result.discount_notes == ()


# --- hardware ---------------------------------------------------------------------------------

BUNDLE = {sku: 1 for sku in pricing.BUNDLE_SKUS}


def test_a_complete_register_bundle_takes_ten_percent_off_its_four_items():
    result = quote(
        tier="SW-LEAN",
        hardware={"loc-1": {**BUNDLE, "HW-BARCODE-SCANNER": 1}},
        hardware_choice="buy",
        rate=NO_TAX,
    )

    assert line(result, "HW-IPAD-STAND").discount == D("16.90")
    assert line(result, "HW-RECEIPT-PRINTER").discount == D("29.90")
    assert line(result, "HW-CASH-DRAWER").discount == D("12.90")
    assert line(result, "HW-CARD-READER").discount == D("5.90")
    assert line(result, "HW-BARCODE-SCANNER").discount == D("0.00")  # not in the bundle
    assert result.discount == D("65.60")


def test_an_incomplete_bundle_gets_no_discount():
    incomplete = {"HW-IPAD-STAND": 2, "HW-RECEIPT-PRINTER": 2, "HW-CASH-DRAWER": 2}

    result = quote(tier="SW-LEAN", hardware={"loc-1": incomplete}, hardware_choice="buy")

    assert result.discount == D("0.00")


def test_only_complete_bundles_are_discounted_and_each_location_counts_its_own():
    result = quote(
        tier="SW-LEAN",
        locations=2,
        hardware={
            "loc-1": {**{sku: 2 for sku in pricing.BUNDLE_SKUS}, "HW-CARD-READER": 3},
            "loc-2": {"HW-CARD-READER": 1},
        },
        hardware_choice="buy",
    )

    # Two bundles at loc-1: two of its three card readers are discounted; loc-2 has none.
    assert line(result, "HW-CARD-READER", "loc-1").discount == D("11.80")
    assert line(result, "HW-CARD-READER", "loc-1").line_total == D("165.20")
    assert line(result, "HW-CARD-READER", "loc-2").discount == D("0.00")
    assert line(result, "HW-IPAD-STAND", "loc-1").discount == D("33.80")


def test_own_hardware_or_none_adds_no_hardware_line():
    for choice in (pricing.HARDWARE_OWN, pricing.HARDWARE_NONE):
        result = quote(tier="SW-CORE", hardware={"loc-1": BUNDLE}, hardware_choice=choice)
        assert not result.has_hardware
        assert result.tax == D("0.00")


def test_buying_hardware_without_any_item_is_refused():
    with pytest.raises(pricing.PricingError) as refusal:
        quote(tier="SW-CORE", hardware={"loc-1": {"HW-CARD-READER": 0}}, hardware_choice="buy")

    assert refusal.value.message == pricing.NO_HARDWARE_CHOSEN


# --- tax --------------------------------------------------------------------------------------


def test_tax_applies_to_hardware_only_at_the_billing_states_rate():
    result = quote(
        tier="SW-CORE",
        services=("SVC-DATA-IMPORT",),
        hardware={"loc-1": {"HW-RECEIPT-PRINTER": 1}},
        hardware_choice="buy",
        rate=CA,
    )

    assert line(result, "SW-CORE").tax == D("0.00")
    assert line(result, "SVC-DATA-IMPORT").tax == D("0.00")
    assert line(result, "HW-RECEIPT-PRINTER").tax == D("21.68")  # 299 × 7.25 % = 21.6775
    assert result.tax == D("21.68")
    assert result.total == D("149.00") + D("199.00") + D("299.00") + D("21.68")


@pytest.mark.parametrize(
    ("rate", "tax"),
    [(D("0.0725"), D("21.68")), (D("0.04"), D("11.96")), (D("0.06875"), D("20.56"))],
    ids=["CA", "NY", "MN"],
)
def test_each_state_rate_gives_its_own_tax(rate, tax):
    result = quote(
        tier="SW-LEAN",
        hardware={"loc": {"HW-RECEIPT-PRINTER": 1}},
        hardware_choice="buy",
        rate=rate,
    )

    assert result.tax == tax


def test_a_zero_tax_state_charges_no_tax():
    result = quote(
        tier="SW-LEAN",
        hardware={"loc": {"HW-RECEIPT-PRINTER": 4}},
        hardware_choice="buy",
        rate=NO_TAX,
    )

    assert result.tax == D("0.00")
    assert result.total == result.subtotal - result.discount


def test_a_tax_rate_outside_0_and_1_is_refused():
    with pytest.raises(pricing.PricingError, match="between 0 and 1"):
        quote(tier="SW-LEAN", rate=D("1.5"))


# --- rounding ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "rounded"),
    [
        ("2.345", "2.35"),
        ("2.344", "2.34"),
        ("0.005", "0.01"),
        ("0.0049", "0.00"),
        ("10", "10.00"),
        ("1.995", "2.00"),
    ],
)
def test_money_rounds_half_up_to_the_cent(value, rounded):
    assert money(D(value)) == D(rounded)


def test_each_line_is_rounded_before_it_is_added():
    # Three lines whose exact tax is 0.005 each: each rounds up to 0.01 on its line, so the
    # tax is 0.03 (rounding the 0.015 sum once would say 0.02).
    catalog = {
        **CATALOG,
        **{f"HW-CENT-{n}": entry(f"HW-CENT-{n}", "0.10") for n in range(3)},
    }
    selection = Selection(
        tier="SW-LEAN",
        hardware={"loc": {f"HW-CENT-{n}": 1 for n in range(3)}},
        hardware_choice="buy",
    )

    result = price_quote(selection, catalog, D("0.05"))

    assert [item.tax for item in result.lines if item.sku.startswith("HW-CENT")] == [D("0.01")] * 3
    assert result.tax == D("0.03")


def test_a_half_cent_discount_rounds_half_up():
    catalog = {
        **CATALOG,
        "HW-IPAD-STAND": entry("HW-IPAD-STAND", "0.05", "Stand"),
    }
    bundle = {sku: 1 for sku in pricing.BUNDLE_SKUS}
    selection = Selection(tier="SW-LEAN", hardware={"loc": bundle}, hardware_choice="buy")

    stand = line(price_quote(selection, catalog, NO_TAX), "HW-IPAD-STAND")

    assert stand.discount == D("0.01")  # 10 % of 0.05 = 0.005
    assert stand.line_total == D("0.04")


def test_many_lines_add_up_to_the_total_to_the_cent():
    skus = [sku for sku in CATALOG if sku.startswith("HW-")]
    hardware = {
        f"loc-{n}": {sku: 1 + (n + index) % 3 for index, sku in enumerate(skus)} for n in range(12)
    }
    result = quote(
        tier="SW-PLUS",
        locations=12,
        registers=7,
        add_ons=("ADD-ECOM", "ADD-LOYALTY"),
        services=("SVC-DATA-IMPORT",),
        hardware=hardware,
        hardware_choice="buy",
        rate=D("0.06875"),
    )

    assert len(result.lines) == 5 + 12 * 6
    assert all(isinstance(item.line_total, Decimal) for item in result.lines)
    assert all(item.line_total == item.line_total.quantize(D("0.01")) for item in result.lines)
    assert result.subtotal == sum(item.gross for item in result.lines)
    assert result.discount == sum(item.discount for item in result.lines)
    assert result.tax == sum(item.tax for item in result.lines)
    assert result.total == result.subtotal - result.discount + result.tax


# --- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("choices", "message"),
    [
        ({"tier": "SW-NOPE"}, pricing.UNKNOWN_TIER),
        ({"tier": "REG-LIC"}, pricing.UNKNOWN_TIER),
        ({"tier": "HW-CARD-READER"}, pricing.UNKNOWN_TIER),
        ({"tier": "SW-CORE", "locations": 0}, pricing.LOCATIONS_RANGE),
        ({"tier": "SW-CORE", "locations": 101}, pricing.LOCATIONS_RANGE),
        ({"tier": "SW-CORE", "locations": "2"}, pricing.LOCATIONS_RANGE),
        ({"tier": "SW-CORE", "registers": -1}, pricing.REGISTERS_RANGE),
        ({"tier": "SW-CORE", "add_ons": ("HW-CARD-READER",)}, "cannot be chosen as an add-on"),
        ({"tier": "SW-CORE", "add_ons": ("ADD-NOPE",)}, "is not something we sell"),
        ({"tier": "SW-CORE", "services": ("SW-LEAN",)}, "cannot be chosen as a service"),
        (
            {"tier": "SW-CORE", "hardware": {"l": {"SW-LEAN": 1}}, "hardware_choice": "buy"},
            "cannot be chosen as hardware",
        ),
        (
            {
                "tier": "SW-CORE",
                "hardware": {"l": {"HW-CARD-READER": 100}},
                "hardware_choice": "buy",
            },
            pricing.UNITS_RANGE,
        ),
        ({"tier": "SW-CORE", "hardware_choice": "maybe"}, pricing.UNKNOWN_HARDWARE_CHOICE),
    ],
)
def test_a_selection_that_cannot_be_priced_is_refused_with_a_message(choices, message):
    with pytest.raises(pricing.PricingError) as refusal:
        quote(**choices)

    assert message in refusal.value.message
