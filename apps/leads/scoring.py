"""Lead profiling: three scores and the cohort rule that fits (DESIGN.md rule 5).

Pure functions of a lead's facts (no database, no clock): the same facts always give the
same scores, the same reasons and, for the same rule rows, the same cohort. Scores are
Decimals from 0.00 to 100.00 (two places, ROUND_HALF_UP), clamped to that range.

Inputs (from the lead): annual revenue estimate R (USD, the GTV estimate), number of
locations L, vertical V (business_category), business type T, country C, and whether the
phone, business type, vertical, revenue and location count are filled in.

gtv_score — how much the merchant could process, on a log scale:
    R unknown or R ≤ $10,000       → 0
    R ≥ $10,000,000                → 100
    otherwise                      100 × (log10(R) − 4) / 3
    ($100,000 → 33.33, $500,000 → 56.63, $1,000,000 → 66.67, $2,000,000 → 76.70)

complexity_score — how much work the setup is (capped at 100):
    locations   5 × (L − 1), at most 50 (L unknown counts as 1 location)
    vertical    VERTICAL_COMPLEXITY[V]: restaurant, bar, hospitality 30; cafe, golf 25;
                retail 10; other or unknown 20
    type        BUSINESS_TYPE_COMPLEXITY[T]: corporation 20; partnership, non-profit 15;
                LLC 10; sole proprietor 0; other or unknown 10

risk_score — how closely compliance should look (capped at 100):
    vertical    VERTICAL_RISK[V]: bar 35; hospitality 25; restaurant 20; cafe 15;
                retail, golf 10; other 25; unknown 30
    country     US, CA 0; the other markets we serve (SERVED_COUNTRIES) 10; elsewhere 40
    missing     8 for each of phone, business type, vertical, annual revenue and number of
                locations left empty (at most 40)
    type        sole proprietor +10 (least verifiable structure)

Cohort: the active rules, by priority (lower first), are matched against the facts; the
first whose conditions all hold wins, else self-serve (no rule). Conditions (CohortRule
docstring): gtv_min ≤ R, R ≤ gtv_max, locations_min ≤ L, L ≤ locations_max (bounds
inclusive), V in verticals, C in countries (both case-insensitive), and "any": a list of
condition groups of which at least one must hold in full. An unknown R or L never meets a
bound; a key this module does not know, or a value it cannot read, makes the rule never
match (an ops typo must not move leads into a cohort by accident).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from apps.leads.models import Cohort, SellingPlan, SetupPlan

FORMULA_VERSION = 1

ZERO = Decimal("0.00")
HUNDRED = Decimal("100.00")
CENT = Decimal("0.01")

GTV_FLOOR = Decimal("10000")  # score 0 at or below
GTV_CAP = Decimal("10000000")  # score 100 at or above

VERTICAL_CHOICES = [
    ("restaurant", "Restaurant"),
    ("cafe", "Café or bakery"),
    ("bar", "Bar or brewery"),
    ("hospitality", "Hotel or hospitality"),
    ("retail", "Retail"),
    ("golf", "Golf course or club"),
    ("other", "Other"),
]
VERTICAL_COMPLEXITY = {
    "restaurant": 30,
    "bar": 30,
    "hospitality": 30,
    "cafe": 25,
    "golf": 25,
    "retail": 10,
}
VERTICAL_COMPLEXITY_OTHER = 20
VERTICAL_RISK = {
    "bar": 35,
    "hospitality": 25,
    "restaurant": 20,
    "cafe": 15,
    "retail": 10,
    "golf": 10,
}
VERTICAL_RISK_OTHER = 25
VERTICAL_RISK_UNKNOWN = 30

BUSINESS_TYPE_COMPLEXITY = {
    "corporation": 20,
    "partnership": 15,
    "non_profit": 15,
    "llc": 10,
    "sole_proprietor": 0,
}
BUSINESS_TYPE_COMPLEXITY_OTHER = 10
SOLE_PROPRIETOR_RISK = 10

LOCATION_POINTS = 5
LOCATION_POINTS_MAX = 50

# The markets we sell in; the capture page and API accept only these.
SERVED_COUNTRIES = [
    ("US", "United States"),
    ("CA", "Canada"),
    ("GB", "United Kingdom"),
    ("IE", "Ireland"),
    ("AU", "Australia"),
    ("NZ", "New Zealand"),
    ("FR", "France"),
    ("DE", "Germany"),
    ("NL", "Netherlands"),
    ("BE", "Belgium"),
    ("CH", "Switzerland"),
    ("AT", "Austria"),
    ("ES", "Spain"),
    ("IT", "Italy"),
    ("PT", "Portugal"),
    ("DK", "Denmark"),
    ("SE", "Sweden"),
    ("NO", "Norway"),
    ("FI", "Finland"),
]
HOME_COUNTRIES = {"US", "CA"}
COUNTRY_RISK_HOME = 0
COUNTRY_RISK_SERVED = 10
COUNTRY_RISK_ELSEWHERE = 40

MISSING_DATA_POINTS = 8
# Lead attribute → what a person calls it.
PROFILE_FIELDS = {
    "phone": "phone",
    "business_type": "business type",
    "business_category": "vertical",
    "annual_revenue_estimate": "annual revenue",
    "number_of_locations": "number of locations",
}

DEFAULT_PLANS = {
    Cohort.SELF_SERVE: (SellingPlan.SELF_SERVE, SetupPlan.SELF_SERVE),
    Cohort.ASSISTED: (SellingPlan.AE_ASSISTED, SetupPlan.IC_FREE),
    Cohort.MANAGED: (SellingPlan.AE_MANAGED, SetupPlan.IC_PAID),
}
FALLBACK_REASON = "No active cohort rule matched: self-serve by default."
MATCHES_EVERY_LEAD = "no conditions: matches every lead"

CONDITION_KEYS = {"gtv_min", "gtv_max", "locations_min", "locations_max", "verticals", "countries"}


# --- Facts -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LeadFacts:
    """What profiling reads from a lead, normalised."""

    annual_revenue: Decimal | None
    locations: int | None
    vertical: str
    business_type: str
    country: str
    missing: tuple[str, ...]

    @classmethod
    def of(cls, lead) -> "LeadFacts":
        """From a Lead (saved or not) or anything with the same attributes."""
        revenue = getattr(lead, "annual_revenue_estimate", None)
        if revenue is not None and not isinstance(revenue, Decimal):
            revenue = _decimal(revenue)
        locations = getattr(lead, "number_of_locations", None)
        missing = tuple(
            name
            for name in PROFILE_FIELDS
            if getattr(lead, name, None) is None or getattr(lead, name, None) == ""
        )
        return cls(
            annual_revenue=revenue,
            locations=int(locations) if locations is not None else None,
            vertical=(getattr(lead, "business_category", "") or "").strip().lower(),
            business_type=(getattr(lead, "business_type", "") or "").strip().lower(),
            country=(getattr(lead, "country_code", "") or "").strip().upper(),
            missing=missing,
        )

    def as_json(self) -> dict:
        return {
            "annual_revenue_estimate": _money_str(self.annual_revenue),
            "number_of_locations": self.locations,
            "business_category": self.vertical,
            "business_type": self.business_type,
            "country_code": self.country,
            "missing": list(self.missing),
        }


def _decimal(value) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return number if number.is_finite() else None


def _money_str(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def usd(value) -> str:
    """$2,000,000 for whole dollars, $1,999,999.99 otherwise."""
    amount = Decimal(value)
    if amount == amount.to_integral_value():
        return f"${amount:,.0f}"
    return f"${amount.quantize(CENT, rounding=ROUND_HALF_UP):,.2f}"


def _clamp(value: Decimal) -> Decimal:
    return min(max(value, ZERO), HUNDRED).quantize(CENT, rounding=ROUND_HALF_UP)


# --- Scores ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One line of a score's explanation: what was read and the points it gave."""

    factor: str
    points: Decimal

    def as_json(self) -> dict:
        return {"factor": self.factor, "points": str(self.points)}


@dataclass(frozen=True)
class Score:
    value: Decimal
    parts: tuple[Part, ...]


def gtv_score(facts: LeadFacts) -> Score:
    revenue = facts.annual_revenue
    if revenue is None:
        return Score(ZERO, (Part("Annual revenue unknown", ZERO),))
    if revenue <= GTV_FLOOR:
        value = ZERO
    elif revenue >= GTV_CAP:
        value = HUNDRED
    else:
        value = _clamp((revenue.log10() - 4) / 3 * 100)
    factor = (
        f"Annual revenue {usd(revenue)} on a log scale: {usd(GTV_FLOOR)} or less is 0, "
        f"{usd(GTV_CAP)} or more is 100"
    )
    return Score(value, (Part(factor, value),))


def complexity_score(facts: LeadFacts) -> Score:
    locations = facts.locations if facts.locations is not None else 1
    location_points = min(LOCATION_POINTS_MAX, LOCATION_POINTS * max(locations - 1, 0))
    location_label = (
        f"{facts.locations} location(s)"
        if facts.locations is not None
        else "Number of locations unknown (counted as 1)"
    )
    vertical_points = VERTICAL_COMPLEXITY.get(facts.vertical, VERTICAL_COMPLEXITY_OTHER)
    type_points = BUSINESS_TYPE_COMPLEXITY.get(facts.business_type, BUSINESS_TYPE_COMPLEXITY_OTHER)
    parts = (
        Part(location_label, Decimal(location_points)),
        Part(f"Vertical: {facts.vertical or 'unknown'}", Decimal(vertical_points)),
        Part(f"Business type: {facts.business_type or 'unknown'}", Decimal(type_points)),
    )
    return Score(_clamp(sum((p.points for p in parts), ZERO)), parts)


def risk_score(facts: LeadFacts) -> Score:
    if not facts.vertical:
        vertical_points = VERTICAL_RISK_UNKNOWN
    else:
        vertical_points = VERTICAL_RISK.get(facts.vertical, VERTICAL_RISK_OTHER)
    served = {code for code, _name in SERVED_COUNTRIES}
    if facts.country in HOME_COUNTRIES:
        country_points = COUNTRY_RISK_HOME
    elif facts.country in served:
        country_points = COUNTRY_RISK_SERVED
    else:
        country_points = COUNTRY_RISK_ELSEWHERE
    missing_labels = [PROFILE_FIELDS[name] for name in facts.missing]
    parts = [
        Part(f"Vertical: {facts.vertical or 'unknown'}", Decimal(vertical_points)),
        Part(f"Country: {facts.country or 'unknown'}", Decimal(country_points)),
        Part(
            "Missing: " + ", ".join(missing_labels) if missing_labels else "Nothing missing",
            Decimal(MISSING_DATA_POINTS * len(missing_labels)),
        ),
    ]
    if facts.business_type == "sole_proprietor":
        parts.append(Part("Sole proprietor", Decimal(SOLE_PROPRIETOR_RISK)))
    return Score(_clamp(sum((p.points for p in parts), ZERO)), tuple(parts))


# --- Cohort rules ------------------------------------------------------------------------------


class _Unreadable(Exception):
    """A condition this module cannot evaluate: the rule does not match."""


def _bound(value) -> Decimal:
    if isinstance(value, bool):
        raise _Unreadable
    number = _decimal(value)
    if number is None:
        raise _Unreadable
    return number


def _names(value) -> set[str]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise _Unreadable
    return {str(item).strip().lower() for item in value}


def _condition(name: str, wanted, facts: LeadFacts) -> str | None:
    """Why the condition holds (a phrase), or None when it does not."""
    revenue, locations = facts.annual_revenue, facts.locations
    if name == "gtv_min":
        bound = _bound(wanted)
        if revenue is not None and revenue >= bound:
            return f"GTV {usd(revenue)} ≥ {usd(bound)}"
        return None
    if name == "gtv_max":
        bound = _bound(wanted)
        if revenue is not None and revenue <= bound:
            return f"GTV {usd(revenue)} ≤ {usd(bound)}"
        return None
    if name == "locations_min":
        bound = _bound(wanted)
        if locations is not None and locations >= bound:
            return f"{locations} locations ≥ {bound:f}"
        return None
    if name == "locations_max":
        bound = _bound(wanted)
        if locations is not None and locations <= bound:
            return f"{locations} locations ≤ {bound:f}"
        return None
    if name == "verticals":
        if facts.vertical and facts.vertical in _names(wanted):
            return f"vertical {facts.vertical} is listed"
        return None
    if name == "countries":
        if facts.country and facts.country.lower() in _names(wanted):
            return f"country {facts.country} is listed"
        return None
    raise _Unreadable


def _group_reasons(conditions, facts: LeadFacts) -> list[str] | None:
    """The reasons every condition of the group holds, or None if one does not."""
    if not isinstance(conditions, dict):
        raise _Unreadable
    reasons = []
    for name, wanted in conditions.items():
        if name == "any":
            continue
        if name not in CONDITION_KEYS:
            raise _Unreadable
        if wanted is None:  # "gtv_max": null means no bound
            continue
        reason = _condition(name, wanted, facts)
        if reason is None:
            return None
        reasons.append(reason)
    if "any" in conditions:
        groups = conditions["any"]
        if not isinstance(groups, list):
            raise _Unreadable
        for group in groups:
            matched = _group_reasons(group, facts)
            if matched is not None:
                reasons.extend(matched)
                break
        else:
            if groups:
                return None
    return reasons


def rule_match_reason(conditions, facts: LeadFacts) -> str | None:
    """Why a rule with these conditions matches the facts, or None if it does not."""
    try:
        reasons = _group_reasons(conditions, facts)
    except _Unreadable:
        return None
    if reasons is None:
        return None
    return " and ".join(reasons) if reasons else MATCHES_EVERY_LEAD


@dataclass(frozen=True)
class CohortDecision:
    cohort: str
    selling_plan: str
    setup_plan: str
    rule: object | None  # the CohortRule, None for the fallback
    reason: str


def cohort_decide(rules, facts: LeadFacts) -> CohortDecision:
    """`rules`: the active rules in priority order. First full match wins."""
    for rule in rules:
        why = rule_match_reason(rule.conditions, facts)
        if why is not None:
            return CohortDecision(
                cohort=rule.cohort,
                selling_plan=rule.selling_plan,
                setup_plan=rule.setup_plan,
                rule=rule,
                reason=f"{rule.rule_name}: {why}",
            )
    selling, setup = DEFAULT_PLANS[Cohort.SELF_SERVE]
    return CohortDecision(Cohort.SELF_SERVE, selling, setup, None, FALLBACK_REASON)


# --- The whole profile -------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    gtv_score: Decimal
    complexity_score: Decimal
    risk_score: Decimal
    score_inputs: dict
    decision: CohortDecision


def profile_compute(lead, rules) -> Profile:
    """Score `lead` and choose its cohort among `rules` (active, in priority order)."""
    facts = LeadFacts.of(lead)
    gtv, complexity, risk = gtv_score(facts), complexity_score(facts), risk_score(facts)
    inputs = {
        "formula_version": FORMULA_VERSION,
        "inputs": facts.as_json(),
        "gtv_score": [part.as_json() for part in gtv.parts],
        "complexity_score": [part.as_json() for part in complexity.parts],
        "risk_score": [part.as_json() for part in risk.parts],
    }
    return Profile(
        gtv_score=gtv.value,
        complexity_score=complexity.value,
        risk_score=risk.value,
        score_inputs=inputs,
        decision=cohort_decide(rules, facts),
    )
