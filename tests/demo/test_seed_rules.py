import re
from decimal import Decimal
from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.core.management import call_command
from django_q.models import Schedule

from apps.accounts.roles import ROLES
from apps.core.fsm import save_tracked
from apps.core.jobs import PERIODIC_JOBS
from apps.demo.reference import (
    COHORT_RULES,
    PRODUCTS,
    ROUTING_QUEUES,
    US_STATE_TAX_RATES,
    task_exists,
)
from apps.leads.models import Cohort
from apps.orders.models import Product, TaxRate
from apps.orders.models.catalog import ItemType
from apps.progress.models import JourneyStep, StallPolicy
from apps.routing.models import CohortRule, RoutingQueue

pytestmark = pytest.mark.django_db

SEEDED_MODELS = [JourneyStep, CohortRule, RoutingQueue, StallPolicy, Product, TaxRate]


def seed_rules() -> str:
    out = StringIO()
    call_command("seed_rules", stdout=out)
    return out.getvalue()


def depends_on(step_id: int) -> set[int]:
    return set(JourneyStep.objects.get(pk=step_id).depends_on.values_list("id", flat=True))


def snapshot() -> dict:
    """Rows, history rows and update stamps of everything seed_rules writes."""
    state = {"schedules": list(Schedule.objects.order_by("pk").values())}
    for model in SEEDED_MODELS:
        name = model._meta.label
        state[name] = model.objects.count()
        state[f"{name} history"] = model.history.count()
        if hasattr(model, "updated_at"):
            state[f"{name} updated_at"] = sorted(
                model.objects.values_list("pk", "updated_at"), key=str
            )
    depends_on_history = apps.get_model("progress", "HistoricalJourneyStep_depends_on")
    state["depends_on history"] = depends_on_history.objects.count()
    state["depends_on"] = JourneyStep.depends_on.through.objects.count()
    return state


def test_seeds_the_ten_journey_steps_with_the_spec_dependencies():
    seed_rules()

    assert list(JourneyStep.objects.values_list("id", flat=True)) == list(range(1, 11))
    assert depends_on(1) == set()
    assert all(depends_on(step) == {step - 1} for step in range(2, 8))
    assert depends_on(8) == {7}
    assert depends_on(9) == {7}
    assert depends_on(10) == {9}
    optional = JourneyStep.objects.filter(is_required=False).values_list("id", flat=True)
    assert sorted(optional) == [8, 10]
    assert not JourneyStep.objects.filter(step_description="").exists()
    assert not JourneyStep.objects.filter(estimated_duration_minutes__isnull=True).exists()
    stages = dict(JourneyStep.objects.values_list("id", "stage"))
    assert [stages[step] for step in (1, 4, 7)] == [
        "qualify_leads",
        "buying_experience",
        "guided_setup",
    ]


def test_seeds_the_cohort_rules_in_priority_order_with_self_serve_last():
    seed_rules()

    rules = list(CohortRule.objects.order_by("priority"))
    assert [(r.priority, r.cohort, r.selling_plan, r.setup_plan) for r in rules] == [
        (10, "managed", "ae_managed", "ic_paid"),
        (20, "assisted", "ae_assisted", "ic_free"),
        (1000, "self_serve", "self_serve", "self_serve"),
    ]
    assert rules[0].conditions == {"any": [{"gtv_min": 2_000_000}, {"locations_min": 10}]}
    assert rules[1].conditions == {"any": [{"gtv_min": 500_000}, {"locations_min": 2}]}
    assert rules[2].conditions == {}
    assert all(rule.is_active and rule.effective_to is None for rule in rules)


def test_seeds_the_routing_queues_and_stall_policies():
    seed_rules()

    queues = {q.code: q for q in RoutingQueue.objects.all()}
    assert set(queues) == {row[0] for row in ROUTING_QUEUES}
    assert len(queues) == 5
    high = queues["ae_high_priority"]
    assert (high.queue_type, high.sla_minutes, high.max_queue_size, high.overflow_rank) == (
        "ae",
        60,
        50,
        0,
    )
    assert queues["ae_standard"].overflow_rank == 1
    assert queues["ic_intervention"].sla_minutes == 480
    assert queues["compliance_review"].queue_type == "compliance"

    policies = {p.cohort: p for p in StallPolicy.objects.all()}
    assert {cohort: p.stalled_after_days for cohort, p in policies.items()} == {
        Cohort.SELF_SERVE: 3,
        Cohort.ASSISTED: 2,
        Cohort.MANAGED: 1,
    }
    for policy in policies.values():
        assert (policy.abandoned_after_days, policy.lost_after_days) == (14, 30)
        assert policy.error_threshold == 3
        assert (policy.high_severity_after_days, policy.critical_severity_after_days) == (7, 10)
        assert policy.intervention_queue == queues["ic_intervention"]


def test_seeds_the_product_catalog_and_state_tax_rates():
    seed_rules()

    assert Product.objects.count() == len(PRODUCTS)
    assert set(Product.objects.values_list("item_type", flat=True)) == set(ItemType.values)
    setup = Product.objects.get(sku="SVC-SETUP-IC")
    assert (setup.unit_price, setup.pricing_unit, setup.billing_period) == (
        Decimal("499.00"),
        "flat",
        "one_time",
    )
    core = Product.objects.get(sku="SW-CORE")
    assert (core.unit_price, core.pricing_unit, core.billing_period) == (
        Decimal("149.00"),
        "per_location",
        "monthly",
    )

    assert TaxRate.objects.filter(country="US").count() == len(US_STATE_TAX_RATES) == 51
    assert TaxRate.objects.get(state="CA").rate == Decimal("0.0725")
    assert TaxRate.objects.get(state="OR").rate == Decimal("0")


def test_seeds_schedules_by_name_for_the_tasks_that_exist():
    output = seed_rules()

    for spec in PERIODIC_JOBS:
        schedule = Schedule.objects.filter(name=spec.name).first()
        if task_exists(spec.func):
            assert schedule is not None, spec.name
            assert (schedule.func, schedule.schedule_type, schedule.minutes) == (
                spec.func,
                spec.schedule_type,
                spec.minutes,
            )
            assert schedule.repeats == -1
        else:
            assert schedule is None, spec.name
            assert spec.name in output
    outbox = Schedule.objects.get(name="outbox-sweep")
    assert (outbox.func, outbox.schedule_type, outbox.minutes) == (
        "apps.integrations.tasks.events_sweep",
        Schedule.MINUTES,
        1,
    )
    retention = Schedule.objects.get(name="retention-purge")
    assert (retention.func, retention.schedule_type) == (
        "apps.compliance.tasks.retention_run",
        Schedule.DAILY,
    )


def test_a_rerun_puts_back_what_a_tampered_schedule_runs():
    seed_rules()
    Schedule.objects.filter(name="outbox-sweep").update(
        func="os.mkdir", args="'/tmp/x'", kwargs="mode=0o777", hook="os.remove", cluster="other"
    )

    seed_rules()

    outbox = Schedule.objects.get(name="outbox-sweep")
    assert (outbox.func, outbox.args, outbox.kwargs, outbox.hook, outbox.cluster) == (
        "apps.integrations.tasks.events_sweep",
        None,
        None,
        None,
        None,
    )


def test_syncs_the_role_groups():
    Group.objects.filter(name__in=ROLES).delete()

    seed_rules()

    assert set(Group.objects.filter(name__in=ROLES).values_list("name", flat=True)) == set(ROLES)
    assert Group.objects.get(name="ops").permissions.filter(codename="change_cohortrule").exists()


def test_records_the_system_and_a_reason_in_history():
    seed_rules()

    record = RoutingQueue.history.filter(code="ae_standard").get()
    assert record.history_user is None
    assert record.history_change_reason == "seed_rules: created"


def test_a_second_run_changes_nothing():
    seed_rules()
    before = snapshot()

    output = seed_rules()

    assert snapshot() == before
    assert "created 0, updated 0" in output
    assert output.count("created 0, updated 0") == output.count("unchanged")


def test_a_rerun_restores_seeded_values_edited_since():
    seed_rules()
    queue = RoutingQueue.objects.get(code="ae_standard")
    queue.sla_minutes = 15
    save_tracked(queue, actor=None, reason="ops: shorter SLA")
    rule = CohortRule.objects.get(priority=20)
    rule.is_active = False
    save_tracked(rule, actor=None, reason="ops: paused")
    step = JourneyStep.objects.get(pk=10)
    step.depends_on.set([8])

    output = seed_rules()

    queue.refresh_from_db()
    rule.refresh_from_db()
    assert queue.sla_minutes == 240
    assert rule.is_active
    assert depends_on(10) == {9}
    assert queue.history.first().history_change_reason == "seed_rules: reset sla_minutes"
    assert re.search(r"routing queues +created 0, updated 1, unchanged 4", output)
    assert re.search(r"journey steps +created 0, updated 1, unchanged 9", output)


def test_leaves_rows_it_does_not_seed_alone():
    seed_rules()
    extra = RoutingQueue(code="ae_canada", queue_name="AE Canada", queue_type="ae")
    save_tracked(extra, actor=None, reason="ops: new market")
    assert len(COHORT_RULES) == CohortRule.objects.count()

    seed_rules()

    assert RoutingQueue.objects.filter(code="ae_canada").exists()
