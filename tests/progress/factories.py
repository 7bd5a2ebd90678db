from datetime import timedelta

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from apps.leads.models import Cohort, Stage
from apps.progress.models import (
    AlertType,
    JourneyStep,
    MerchantStepProgress,
    Severity,
    StallAlert,
    StallPolicy,
)
from tests.merchants.factories import MerchantFactory

# The ten real steps (spec/data-models.md): id, name, stage, required, depends on.
JOURNEY_STEPS = [
    (1, "Browse and Buy Decision", Stage.QUALIFY_LEADS, True, []),
    (2, "Account Creation", Stage.QUALIFY_LEADS, True, [1]),
    (3, "Qualify for LS Payments (KYB)", Stage.QUALIFY_LEADS, True, [2]),
    (4, "Define Software Requirements", Stage.BUYING_EXPERIENCE, True, [3]),
    (5, "Define Hardware Requirements", Stage.BUYING_EXPERIENCE, True, [4]),
    (6, "Payment for Software & Hardware", Stage.BUYING_EXPERIENCE, True, [5]),
    (7, "Lightspeed Payments Activation (KYC)", Stage.GUIDED_SETUP, True, [6]),
    (8, "Data Import", Stage.GUIDED_SETUP, False, [7]),
    (9, "Setup Hardware", Stage.GUIDED_SETUP, True, [7]),
    (10, "Final Config & Integrations", Stage.GUIDED_SETUP, False, [9]),
]
_STEP = {step[0]: step for step in JOURNEY_STEPS}

# Stall thresholds per cohort (DESIGN.md rule 8).
STALLED_AFTER_DAYS = {Cohort.SELF_SERVE: 3, Cohort.ASSISTED: 2, Cohort.MANAGED: 1}


class JourneyStepFactory(DjangoModelFactory):
    """One of the ten real steps, fetched if it exists: `JourneyStepFactory(id=7)`.
    Dependencies are set only when passed: `depends_on=[step_6]`."""

    class Meta:
        model = JourneyStep
        django_get_or_create = ("id",)
        skip_postgeneration_save = True

    id = 1
    step_name = factory.LazyAttribute(lambda o: _STEP[o.id][1])
    stage = factory.LazyAttribute(lambda o: _STEP[o.id][2])
    display_order = factory.SelfAttribute("id")
    is_required = factory.LazyAttribute(lambda o: _STEP[o.id][3])

    @factory.post_generation
    def depends_on(self, create, extracted, **kwargs):
        if create and extracted is not None:
            self.depends_on.set(extracted)


class MerchantStepProgressFactory(DjangoModelFactory):
    """A pending step 1 for a new merchant; pass `step=` and `status=` as needed."""

    class Meta:
        model = MerchantStepProgress

    merchant = factory.SubFactory(MerchantFactory)
    step = factory.SubFactory(JourneyStepFactory)


class StallAlertFactory(DjangoModelFactory):
    """An open `stalled` alert on the merchant's current step."""

    class Meta:
        model = StallAlert

    merchant = factory.SubFactory(MerchantFactory)
    lead = factory.SelfAttribute("merchant.lead")
    step = factory.SubFactory(
        JourneyStepFactory, id=factory.SelfAttribute("..merchant.current_step")
    )
    alert_type = AlertType.STALLED
    severity = Severity.MEDIUM
    days_stalled = 3
    current_status = "in_progress"
    last_activity_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=3))


class StallPolicyFactory(DjangoModelFactory):
    """The self-serve policy by default; thresholds follow the cohort."""

    class Meta:
        model = StallPolicy

    cohort = Cohort.SELF_SERVE
    stalled_after_days = factory.LazyAttribute(lambda o: STALLED_AFTER_DAYS[o.cohort])
    abandoned_after_days = 14
    lost_after_days = 30


# --- Journeys on a step, for the stall sweep ----------------------------------------------------


def merchant_on_step(
    *,
    step: int = 3,
    cohort: str = Cohort.SELF_SERVE,
    idle: timedelta = timedelta(0),
    status: str = "in_progress",
    errors: int = 0,
    now=None,
    **merchant_fields,
) -> MerchantStepProgress:
    """A merchant whose current step is `step` (earlier steps completed), last active `idle`
    before `now`; returns that step's progress row (`.merchant` is the merchant)."""
    now = now or timezone.now()
    merchant = MerchantFactory(
        cohort=cohort, current_step=step, lead__cohort=cohort, **merchant_fields
    )
    for done in range(1, step):
        MerchantStepProgressFactory(
            merchant=merchant,
            step=JourneyStepFactory(id=done),
            status="completed",
            started_at=now - idle - timedelta(days=1),
            completed_at=now - idle,
            last_activity_at=now - idle,
        )
    return MerchantStepProgressFactory(
        merchant=merchant,
        step=JourneyStepFactory(id=step),
        status=status,
        started_at=now - idle,
        last_activity_at=now - idle,
        error_count=errors,
    )


def stall_policies(intervention_queue=None) -> dict:
    """The seeded policies (self-serve 3 d, assisted 2 d, managed 1 d; 14 d, 30 d, 3 errors,
    high 7 d, critical 10 d), all pointing at `intervention_queue`."""
    return {
        cohort: StallPolicyFactory(cohort=cohort, intervention_queue=intervention_queue)
        for cohort in STALLED_AFTER_DAYS
    }


def bulk_journeys(count: int, *, now, shapes) -> list:
    """`count` merchants made with one INSERT per table (no history rows), for query-count
    and benchmark fixtures. `shapes` is a list of dicts cycled through, each with: cohort,
    step, idle (timedelta), status, errors, journey_status (default in_progress)."""
    from apps.leads.models import Lead
    from apps.merchants.models import Merchant

    leads, merchants, rows = [], [], []
    steps = {step.id: step for step in JourneyStep.objects.all()}
    for n in range(count):
        shape = shapes[n % len(shapes)]
        lead = Lead(
            email=f"bulk{n}-{now.timestamp():.0f}@example.com",
            first_name="Bulk",
            last_name=f"Merchant {n}",
            business_name=f"Bulk merchant {n}",
            cohort=shape["cohort"],
        )
        leads.append(lead)
        merchant = Merchant(
            lead=lead,
            legal_business_name=lead.business_name,
            cohort=shape["cohort"],
            current_step=shape["step"],
            journey_status=shape.get("journey_status", "in_progress"),
            journey_abandoned_at=(now - shape["idle"] + timedelta(days=14))
            if shape.get("journey_status") == "abandoned"
            else None,
        )
        merchants.append(merchant)
        rows.append(
            MerchantStepProgress(
                merchant=merchant,
                step=steps[shape["step"]],
                status=shape.get("status", "in_progress"),
                started_at=now - shape["idle"],
                last_activity_at=now - shape["idle"],
                error_count=shape.get("errors", 0),
            )
        )
    Lead.objects.bulk_create(leads)
    Merchant.objects.bulk_create(merchants)
    MerchantStepProgress.objects.bulk_create(rows)
    return merchants
