"""Demo data (`manage.py seed_demo`): a user per role and 36 leads at every point of the
journey, built through the services so states, history and audit rows are the real ones.

Deterministic (Faker and random seeded per lead) and idempotent: users and leads are keyed
by email, and what exists is skipped. Each lead with everything hanging off it is built in
one transaction, so a failure leaves no half-built merchant.

Where no service exists yet for a creation (lead capture, merchant account, location,
person, order and its items, payment, shipment, stall alert) the row is written here with
`save_tracked` (system as history user, a "seed_demo: ..." reason); every state change
after that goes through the transition services.
"""

import random
from dataclasses import dataclass, field

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from faker import Faker

from apps.accounts.models import User
from apps.accounts.roles import MERCHANT
from apps.demo.context import (
    REFERENCE_MISSING,
    Demo,
    Reference,
    ReferenceDataMissing,
    reference_load,
)
from apps.demo.data import (
    DEMO_JOURNEYS,
    DEMO_PASSWORD,
    DEMO_USERS,
    SEED,
    DemoJourney,
    DemoUser,
    demo_lead_email,
)
from apps.demo.journey import journey_walk, merchant_create, merchant_twist
from apps.demo.leads import ae_queue, ae_works, lead_capture, lead_twist
from apps.leads.models import Cohort, Lead
from apps.progress.models import (
    JourneyStep,
)


# --- Users ------------------------------------------------------------------------------------
def demo_users_seed() -> tuple[dict[str, User], dict[str, str]]:
    """The demo users by email, and for each "created" or "exists" (left as it is)."""
    users, status = {}, {}
    for spec in DEMO_USERS:
        user = User.objects.filter(email=spec.email).first()
        status[spec.email] = "exists" if user else "created"
        if user is None:
            user = _demo_user_create(spec)
        users[spec.email] = user
    return users, status


def _demo_user_create(spec: DemoUser) -> User:
    create = User.objects.create_superuser if spec.superuser else User.objects.create_user
    user = create(
        spec.email,
        DEMO_PASSWORD,
        first_name=spec.first_name,
        last_name=spec.last_name,
        is_staff=spec.superuser or spec.role != MERCHANT,
        email_verified_at=timezone.now(),
    )
    user.groups.add(Group.objects.get(name=spec.role))
    return user


def demo_lead_seed(*, index: int, journey: DemoJourney, ref: Reference, fake: Faker) -> Lead:
    """Build lead number `index` as `journey` says, in one transaction."""
    fake.seed_instance(SEED + index)
    demo = Demo(index, journey, ref, fake, random.Random(SEED + index))
    with transaction.atomic():
        lead_capture(demo)
        if demo.lead.cohort != Cohort.SELF_SERVE:
            ae_queue(demo)
        if journey.reached is None:
            lead_twist(demo)
            return demo.lead
        if demo.ae_assignment:
            ae_works(demo)
        merchant_create(demo)
        journey_walk(demo)
        merchant_twist(demo)
    return demo.lead


# --- The whole demo ---------------------------------------------------------------------------
@dataclass
class DemoReport:
    users: dict[str, User]
    user_status: dict[str, str]
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


def demo_seed() -> DemoReport:
    """Users, then each missing demo lead in its own transaction. A lead that fails is
    reported and rolled back; the others are still built."""
    if JourneyStep.objects.count() != 10:
        raise ReferenceDataMissing(REFERENCE_MISSING)
    with transaction.atomic():
        users, user_status = demo_users_seed()
    ref = reference_load(users)
    report = DemoReport(users=users, user_status=user_status)
    existing = set(demo_leads().values_list("email", flat=True))
    fake = Faker("en_US")
    for index, journey in enumerate(DEMO_JOURNEYS, start=1):
        email = demo_lead_email(index)
        if email in existing:
            report.existing.append(email)
            continue
        try:
            demo_lead_seed(index=index, journey=journey, ref=ref, fake=fake)
        except Exception as exc:  # reported, rolled back; the next lead still gets built
            report.failed.append((email, f"{type(exc).__name__}: {exc}"))
        else:
            report.created.append(email)
    return report


def demo_leads():
    emails = [demo_lead_email(index) for index in range(1, len(DEMO_JOURNEYS) + 1)]
    return Lead.objects.filter(email__in=emails)
