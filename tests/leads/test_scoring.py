"""The three scores (apps/leads/scoring.py docstring): boundaries, the 0 and 100 caps, and
determinism."""

from decimal import Decimal
from types import SimpleNamespace

import pytest

from apps.leads.scoring import (
    LeadFacts,
    complexity_score,
    gtv_score,
    profile_compute,
    risk_score,
)


def lead(**values):
    base = {
        "annual_revenue_estimate": Decimal("750000"),
        "number_of_locations": 1,
        "business_category": "retail",
        "business_type": "llc",
        "country_code": "US",
        "phone": "+1 415 555 0100",
    }
    return SimpleNamespace(**{**base, **values})


def gtv(revenue):
    value = None if revenue is None else Decimal(revenue)
    return gtv_score(LeadFacts.of(lead(annual_revenue_estimate=value))).value


def complexity(**values):
    return complexity_score(LeadFacts.of(lead(**values))).value


def risk(**values):
    return risk_score(LeadFacts.of(lead(**values))).value


# --- GTV --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("revenue", "score"),
    [
        (None, "0.00"),
        ("0", "0.00"),
        ("9999.99", "0.00"),
        ("10000", "0.00"),
        ("10000.01", "0.00"),
        ("100000", "33.33"),
        ("500000", "56.63"),
        ("1000000", "66.67"),
        ("2000000", "76.70"),
        ("9999999.99", "100.00"),
        ("10000000", "100.00"),
        ("250000000", "100.00"),
    ],
)
def test_gtv_score_is_a_log_scale_from_10k_to_10m(revenue, score):
    assert gtv(revenue) == Decimal(score)


def test_gtv_score_grows_with_revenue():
    revenues = ["20000", "50000", "400000", "3000000", "9000000"]
    scores = [gtv(revenue) for revenue in revenues]
    assert scores == sorted(scores)
    assert len(set(scores)) == len(scores)


# --- Complexity -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locations", "points"),
    [(None, 0), (1, 0), (2, 5), (10, 45), (11, 50), (500, 50)],
)
def test_locations_add_five_points_each_after_the_first_up_to_fifty(locations, points):
    # retail (10) + LLC (10) + the locations
    assert complexity(number_of_locations=locations) == Decimal(20 + points)


@pytest.mark.parametrize(
    ("vertical", "points"),
    [
        ("restaurant", 30),
        ("bar", 30),
        ("hospitality", 30),
        ("cafe", 25),
        ("golf", 25),
        ("retail", 10),
        ("other", 20),
        ("", 20),
        ("Restaurant ", 30),
    ],
)
def test_restaurants_and_hospitality_are_more_complex_than_retail(vertical, points):
    # 1 location (0) + LLC (10) + the vertical
    assert complexity(business_category=vertical) == Decimal(10 + points)


@pytest.mark.parametrize(
    ("business_type", "points"),
    [
        ("corporation", 20),
        ("partnership", 15),
        ("non_profit", 15),
        ("llc", 10),
        ("sole_proprietor", 0),
        ("", 10),
    ],
)
def test_business_type_adds_its_complexity(business_type, points):
    # 1 location (0) + retail (10) + the type
    assert complexity(business_type=business_type) == Decimal(10 + points)


def test_complexity_tops_out_at_100():
    assert complexity(
        number_of_locations=10_000, business_category="restaurant", business_type="corporation"
    ) == Decimal("100.00")


def test_a_single_location_retail_sole_proprietor_is_the_least_complex():
    assert complexity(business_category="retail", business_type="sole_proprietor") == Decimal(
        "10.00"
    )


# --- Risk -------------------------------------------------------------------------------------


def test_a_complete_us_retail_llc_has_the_lowest_risk_of_its_vertical():
    assert risk() == Decimal("10.00")


@pytest.mark.parametrize(
    ("vertical", "points"),
    [
        ("bar", 35),
        ("hospitality", 25),
        ("restaurant", 20),
        ("cafe", 15),
        ("retail", 10),
        ("golf", 10),
        ("other", 25),
    ],
)
def test_each_vertical_carries_its_risk(vertical, points):
    assert risk(business_category=vertical) == Decimal(points)


@pytest.mark.parametrize(
    ("country", "points"), [("US", 0), ("CA", 0), ("GB", 10), ("FR", 10), ("BR", 40), ("", 40)]
)
def test_markets_outside_north_america_carry_more_risk(country, points):
    assert risk(country_code=country) == Decimal(10 + points)


def test_each_missing_detail_adds_eight_points():
    assert risk(phone="") == Decimal("18.00")
    assert risk(phone="", annual_revenue_estimate=None) == Decimal("26.00")
    assert risk(phone="", annual_revenue_estimate=None, number_of_locations=None) == Decimal(
        "34.00"
    )


def test_an_unknown_vertical_counts_as_missing_and_as_unknown_risk():
    # unknown vertical 30 + missing vertical 8
    assert risk(business_category="") == Decimal("38.00")


def test_a_sole_proprietor_adds_ten_points():
    assert risk(business_type="sole_proprietor") == Decimal("20.00")


def test_risk_is_capped_at_100():
    everything_missing = lead(
        annual_revenue_estimate=None,
        number_of_locations=None,
        business_category="",
        business_type="",
        country_code="BR",
        phone="",
    )
    facts = LeadFacts.of(everything_missing)
    # 30 (unknown vertical) + 40 (country) + 5 × 8 (missing) = 110
    assert sum(part.points for part in risk_score(facts).parts) == Decimal(110)
    assert risk_score(facts).value == Decimal("100.00")


def test_scores_never_go_below_zero_or_have_more_than_two_places():
    for values in ({}, {"annual_revenue_estimate": Decimal("123456.789")}):
        for score in (gtv_score, complexity_score, risk_score):
            value = score(LeadFacts.of(lead(**values))).value
            assert Decimal("0") <= value <= Decimal("100")
            assert value == value.quantize(Decimal("0.01"))


# --- Determinism and inputs -------------------------------------------------------------------


def test_the_same_facts_always_give_the_same_profile():
    first = profile_compute(lead(), rules=[])
    again = profile_compute(lead(), rules=[])

    assert first == again


def test_the_profile_keeps_the_inputs_it_read_and_each_scores_parts():
    profile = profile_compute(lead(number_of_locations=4, phone=""), rules=[])

    assert profile.score_inputs["inputs"] == {
        "annual_revenue_estimate": "750000.00",
        "number_of_locations": 4,
        "business_category": "retail",
        "business_type": "llc",
        "country_code": "US",
        "missing": ["phone"],
    }
    complexity_parts = profile.score_inputs["complexity_score"]
    assert complexity_parts == [
        {"factor": "4 location(s)", "points": "15"},
        {"factor": "Vertical: retail", "points": "10"},
        {"factor": "Business type: llc", "points": "10"},
    ]
    assert profile.score_inputs["gtv_score"][0]["factor"].startswith("Annual revenue $750,000")
    assert {"factor": "Missing: phone", "points": "8"} in profile.score_inputs["risk_score"]
