"""The first part of a demo lead: captured with its marketing attribution and cohort (chosen
by the real cohort rules), queued for an AE and worked, or closed (disqualified, lost)."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from apps.core.fsm import save_tracked
from apps.demo.context import REASON, Demo
from apps.demo.data import (
    ASSIGNED,
    BUSINESS_STRUCTURES,
    CONTACTED,
    DISQUALIFIED,
    HIGH_PRIORITY_GTV,
    HIGH_PRIORITY_LOCATIONS,
    LOST,
    MARKETING,
    PLACES,
    PROFILES,
    VERTICALS,
    WORDS,
    demo_lead_email,
)
from apps.leads.models import Lead
from apps.leads.scoring import LeadFacts, cohort_decide
from apps.leads.services import lead_disqualify, lead_mark_lost
from apps.routing.services.assignments import (
    assignment_record_contact,
    assignment_resolve,
    assignment_start_work,
)
from apps.routing.services.claims import assignment_assign
from apps.routing.services.routing import assignment_enqueue


def lead_capture(demo: Demo) -> None:
    fake, rng = demo.fake, demo.rng
    demo.vertical = rng.choice(list(VERTICALS))
    state, city, time_zone = rng.choice(PLACES)
    (gtv_low, gtv_high), (loc_low, loc_high) = PROFILES[demo.journey.profile]
    gtv = Decimal(rng.randrange(gtv_low, gtv_high, 1000))
    locations = rng.randint(loc_low, loc_high)
    decision = cohort_decide(
        demo.ref.rules,
        LeadFacts.of(
            Lead(
                annual_revenue_estimate=gtv,
                number_of_locations=locations,
                business_category=demo.vertical,
                country_code="US",
            )
        ),
    )
    source, utm_source, utm_medium, utm_campaign, referrer = rng.choice(MARKETING)
    last_name = fake.last_name()
    name = _business_name(demo, last_name=last_name, city=city)
    lead = Lead(
        email=demo_lead_email(demo.index),
        phone=fake.numerify("+1-###-555-####"),
        first_name=fake.first_name(),
        last_name=last_name,
        business_name=name,
        business_category=demo.vertical,
        business_type=rng.choice(BUSINESS_STRUCTURES),
        annual_revenue_estimate=gtv,
        number_of_locations=locations,
        country_code="US",
        region=state,
        timezone=time_zone,
        source=source,
        utm_source=utm_source,
        utm_medium=utm_medium,
        utm_campaign=utm_campaign,
        referrer=referrer,
        cohort=decision.cohort,
        selling_plan=decision.selling_plan,
        setup_plan=decision.setup_plan,
        created_at=timezone.now() - timedelta(days=rng.randint(20, 45)),
    )
    save_tracked(lead, actor=None, reason=f"{REASON}: lead captured ({source or 'direct'})")
    demo.lead = lead


def _business_name(demo: Demo, *, last_name: str, city: str) -> str:
    """A name no other lead has, so the demo pipeline reads like a real one."""
    for _attempt in range(20):
        pattern = demo.rng.choice(VERTICALS[demo.vertical])
        name = pattern.format(last=last_name, city=city, word=demo.rng.choice(WORDS))
        if not Lead.objects.filter(business_name=name).exists():
            break
    return name


def _is_high_priority(lead: Lead) -> bool:
    return (lead.annual_revenue_estimate or 0) >= HIGH_PRIORITY_GTV or (
        lead.number_of_locations or 0
    ) >= HIGH_PRIORITY_LOCATIONS


def ae_queue(demo: Demo) -> None:
    """Assisted and managed leads wait in an AE queue (rule 6)."""
    high = _is_high_priority(demo.lead)
    demo.ae_assignment = assignment_enqueue(
        queue=demo.ref.queues["ae_high_priority" if high else "ae_standard"],
        lead=demo.lead,
        priority=10 if high else 0,
        reason=f"{demo.lead.cohort} lead",
    )
    demo.agent = demo.ref.agents[demo.index % 2]


def _ae_claims(demo: Demo) -> None:
    assignment_assign(assignment=demo.ae_assignment, agent=demo.agent, actor=demo.agent)


def ae_works(demo: Demo) -> None:
    _ae_claims(demo)
    assignment_record_contact(assignment=demo.ae_assignment, actor=demo.agent)
    assignment_start_work(assignment=demo.ae_assignment, actor=demo.agent)


def lead_twist(demo: Demo) -> None:
    twist, lead, agent = demo.journey.twist, demo.lead, demo.agent
    if twist == LOST:
        lead_mark_lost(lead=lead, actor=None, reason="No reply to three follow-up emails")
    elif twist == ASSIGNED:
        _ae_claims(demo)
    elif twist == CONTACTED:
        _ae_claims(demo)
        assignment_record_contact(assignment=demo.ae_assignment, actor=agent)
    elif twist == DISQUALIFIED:
        _ae_claims(demo)
        assignment_record_contact(assignment=demo.ae_assignment, actor=agent)
        lead_disqualify(lead=lead, actor=agent, reason="Wholesale only: no point of sale needed")
        assignment_resolve(assignment=demo.ae_assignment, actor=agent, note="disqualified")
