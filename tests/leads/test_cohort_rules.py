"""Cohort assignment (DESIGN.md rule 5): the seeded default rule table case by case and at
its boundaries, the self-serve fallback, effective dates, inactive rules, priority order and
how each condition reads."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.demo.reference import COHORT_RULES
from apps.leads import services
from apps.leads.models import Cohort, SellingPlan, SetupPlan
from apps.leads.scoring import FALLBACK_REASON, MATCHES_EVERY_LEAD, LeadFacts, rule_match_reason
from apps.leads.selectors import cohort_rule_active_list
from apps.routing.models import CohortRule
from tests.leads.factories import LeadFactory
from tests.routing.factories import CohortRuleFactory

pytestmark = pytest.mark.django_db

MANAGED_RULE, ASSISTED_RULE, SELF_SERVE_RULE = (rule["rule_name"] for rule in COHORT_RULES)


@pytest.fixture
def default_rules():
    call_command("seed_rules", verbosity=0)
    return {rule.rule_name: rule for rule in CohortRule.objects.all()}


def profiled(revenue, locations, **extra):
    lead = LeadFactory(
        annual_revenue_estimate=None if revenue is None else Decimal(revenue),
        number_of_locations=locations,
        **extra,
    )
    return services.lead_profile(lead=lead)


# --- The default table, case by case -----------------------------------------------------------


@pytest.mark.parametrize(
    ("revenue", "locations", "cohort", "rule"),
    [
        ("2000000.00", 1, Cohort.MANAGED, MANAGED_RULE),
        ("5000000.00", 1, Cohort.MANAGED, MANAGED_RULE),
        ("1999999.99", 9, Cohort.ASSISTED, ASSISTED_RULE),
        ("100000.00", 10, Cohort.MANAGED, MANAGED_RULE),
        ("500000.00", 1, Cohort.ASSISTED, ASSISTED_RULE),
        ("100000.00", 2, Cohort.ASSISTED, ASSISTED_RULE),
        ("499999.99", 1, Cohort.SELF_SERVE, SELF_SERVE_RULE),
        ("0.00", 1, Cohort.SELF_SERVE, SELF_SERVE_RULE),
    ],
    ids=[
        "gtv-2M-exactly-managed",
        "gtv-5M-managed",
        "gtv-just-under-2M-and-9-locations-assisted",
        "10-locations-managed",
        "gtv-500K-exactly-assisted",
        "2-locations-assisted",
        "gtv-just-under-500K-and-1-location-self-serve",
        "no-revenue-self-serve",
    ],
)
def test_the_default_rules_put_each_lead_in_its_cohort(
    default_rules, revenue, locations, cohort, rule
):
    lead = profiled(revenue, locations)

    assert lead.cohort == cohort
    assert lead.matched_rule == default_rules[rule]


@pytest.mark.parametrize(
    ("cohort", "selling_plan", "setup_plan", "revenue", "locations"),
    [
        (Cohort.MANAGED, SellingPlan.AE_MANAGED, SetupPlan.IC_PAID, "3000000", 1),
        (Cohort.ASSISTED, SellingPlan.AE_ASSISTED, SetupPlan.IC_FREE, "600000", 1),
        (Cohort.SELF_SERVE, SellingPlan.SELF_SERVE, SetupPlan.SELF_SERVE, "90000", 1),
    ],
)
def test_each_default_rule_sets_its_selling_and_setup_plan(
    default_rules, cohort, selling_plan, setup_plan, revenue, locations
):
    lead = profiled(revenue, locations)

    assert (lead.cohort, lead.selling_plan, lead.setup_plan) == (cohort, selling_plan, setup_plan)


def test_the_reason_names_the_rule_and_the_condition_that_held(default_rules):
    lead = profiled("750000", 1)

    assert lead.cohort_reason == f"{ASSISTED_RULE}: GTV $750,000 ≥ $500,000"


def test_the_reason_of_a_location_match_names_the_locations(default_rules):
    lead = profiled("100000", 12)

    assert lead.cohort_reason == f"{MANAGED_RULE}: 12 locations ≥ 10"


def test_a_lead_with_no_revenue_and_no_locations_meets_no_bound(default_rules):
    lead = profiled(None, None)

    assert lead.cohort == Cohort.SELF_SERVE
    assert lead.matched_rule == default_rules[SELF_SERVE_RULE]
    assert lead.cohort_reason == f"{SELF_SERVE_RULE}: {MATCHES_EVERY_LEAD}"


# --- Fallback, dates, activity, priority -------------------------------------------------------


def test_without_any_rule_a_lead_falls_back_to_self_serve():
    lead = profiled("9000000", 40)

    assert (lead.cohort, lead.selling_plan, lead.setup_plan) == (
        Cohort.SELF_SERVE,
        SellingPlan.SELF_SERVE,
        SetupPlan.SELF_SERVE,
    )
    assert lead.matched_rule is None
    assert lead.cohort_reason == FALLBACK_REASON


def test_a_rule_that_starts_in_the_future_is_ignored():
    CohortRuleFactory(
        conditions={"gtv_min": 1},
        cohort=Cohort.MANAGED,
        effective_from=timezone.now() + timedelta(hours=1),
    )

    lead = profiled("9000000", 1)

    assert lead.cohort == Cohort.SELF_SERVE
    assert lead.matched_rule is None


def test_an_expired_rule_is_ignored():
    CohortRuleFactory(
        conditions={"gtv_min": 1},
        cohort=Cohort.MANAGED,
        effective_from=timezone.now() - timedelta(days=30),
        effective_to=timezone.now() - timedelta(seconds=1),
    )

    lead = profiled("9000000", 1)

    assert lead.matched_rule is None


def test_a_rule_in_its_window_applies():
    rule = CohortRuleFactory(
        conditions={"gtv_min": 1},
        cohort=Cohort.MANAGED,
        effective_from=timezone.now() - timedelta(days=1),
        effective_to=timezone.now() + timedelta(days=1),
    )

    lead = profiled("9000000", 1)

    assert lead.matched_rule == rule
    assert lead.cohort == Cohort.MANAGED


def test_a_rule_ends_at_its_effective_to_exactly():
    now = timezone.now()
    CohortRuleFactory(effective_from=now - timedelta(days=1), effective_to=now)

    assert cohort_rule_active_list(at=now) == []
    assert len(cohort_rule_active_list(at=now - timedelta(microseconds=1))) == 1


def test_an_inactive_rule_is_ignored():
    CohortRuleFactory(conditions={"gtv_min": 1}, cohort=Cohort.MANAGED, is_active=False)

    lead = profiled("9000000", 1)

    assert lead.matched_rule is None


def test_of_two_matching_rules_the_lower_priority_number_wins():
    later = CohortRuleFactory(priority=50, cohort=Cohort.ASSISTED, conditions={"gtv_min": 1})
    first = CohortRuleFactory(priority=5, cohort=Cohort.MANAGED, conditions={"gtv_min": 1})

    lead = profiled("9000000", 1)

    assert lead.matched_rule == first
    assert lead.matched_rule != later
    assert lead.cohort == Cohort.MANAGED


def test_a_rule_that_does_not_match_fully_gives_way_to_the_next():
    CohortRuleFactory(
        priority=1, cohort=Cohort.MANAGED, conditions={"gtv_min": 1, "countries": ["CA"]}
    )
    fits = CohortRuleFactory(priority=2, cohort=Cohort.ASSISTED, conditions={"gtv_min": 1})

    lead = profiled("9000000", 1, country_code="US")

    assert lead.matched_rule == fits


# --- How each condition reads ------------------------------------------------------------------


def facts(**values):
    base = {
        "annual_revenue": Decimal("750000"),
        "locations": 3,
        "vertical": "restaurant",
        "business_type": "llc",
        "country": "US",
        "missing": (),
    }
    return LeadFacts(**{**base, **values})


@pytest.mark.parametrize(
    ("conditions", "matches"),
    [
        ({"gtv_min": 750000}, True),
        ({"gtv_min": "750000.01"}, False),
        ({"gtv_max": 750000}, True),
        ({"gtv_max": 749999.99}, False),
        ({"gtv_max": None}, True),
        ({"locations_min": 3}, True),
        ({"locations_min": 4}, False),
        ({"locations_max": 3}, True),
        ({"locations_max": 2}, False),
        ({"verticals": ["Restaurant", "bar"]}, True),
        ({"verticals": ["retail"]}, False),
        ({"countries": ["us", "CA"]}, True),
        ({"countries": ["GB"]}, False),
        ({"gtv_min": 500000, "locations_min": 3, "verticals": ["restaurant"]}, True),
        ({"gtv_min": 500000, "locations_min": 4}, False),
        ({"any": [{"gtv_min": 2000000}, {"locations_min": 3}]}, True),
        ({"any": [{"gtv_min": 2000000}, {"locations_min": 10}]}, False),
        ({"countries": ["US"], "any": [{"gtv_min": 2000000}, {"locations_min": 3}]}, True),
        ({"countries": ["CA"], "any": [{"locations_min": 3}]}, False),
        ({}, True),
    ],
)
def test_each_condition_reads_as_documented(conditions, matches):
    assert (rule_match_reason(conditions, facts()) is not None) is matches


@pytest.mark.parametrize(
    "conditions",
    [
        {"gtv_minimum": 1},
        {"gtv_min": "a lot"},
        {"gtv_min": True},
        {"verticals": "restaurant"},
        {"any": {"gtv_min": 1}},
        {"any": ["gtv_min"]},
        [],
    ],
    ids=["unknown-key", "not-a-number", "boolean", "string-not-list", "any-not-list",
         "any-group-not-object", "not-an-object"],
)
def test_a_rule_this_code_cannot_read_never_matches(conditions):
    assert rule_match_reason(conditions, facts()) is None


def test_an_unreadable_rule_is_skipped_and_the_next_one_decides():
    CohortRuleFactory(priority=1, cohort=Cohort.MANAGED, conditions={"gtv_minimum": 1})
    fits = CohortRuleFactory(priority=2, cohort=Cohort.ASSISTED, conditions={"gtv_min": 1})

    lead = profiled("9000000", 1)

    assert lead.matched_rule == fits
