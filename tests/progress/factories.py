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
