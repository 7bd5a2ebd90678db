from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.accounts.models import User
from apps.accounts.roles import STAFF_ROLES
from apps.compliance.models import KybKycAuditLog
from apps.demo.data import DEMO_JOURNEYS, DEMO_USERS
from apps.demo.seed import REFERENCE_MISSING, demo_leads
from apps.leads.models import Cohort, Lead
from apps.merchants.choices import CheckStatus
from apps.merchants.models import Merchant
from apps.progress.models import OPEN_ALERT_STATUSES, MerchantStepProgress, StallAlert
from apps.routing.models import QueueAssignment

pytestmark = pytest.mark.django_db


def run(command: str, **options) -> str:
    out = StringIO()
    call_command(command, stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


def seed_demo() -> str:
    # pytest-django runs with DEBUG off.
    return run("seed_demo", allow_without_debug=True)


@pytest.fixture
def seeded():
    run("seed_rules")
    return seed_demo()


def demo_merchants():
    return Merchant.objects.filter(lead__in=demo_leads())


def test_refuses_to_run_before_seed_rules():
    with pytest.raises(CommandError, match=REFERENCE_MISSING):
        seed_demo()

    assert not Lead.objects.exists()
    assert not User.objects.filter(email__endswith="@demo.test").exists()
    assert "run manage.py seed_rules first" in REFERENCE_MISSING


def test_refuses_to_run_with_debug_off_unless_allowed(settings):
    settings.DEBUG = False
    run("seed_rules")

    with pytest.raises(CommandError, match="--allow-without-debug"):
        run("seed_demo")

    assert not User.objects.filter(email__endswith="@demo.test").exists()


def test_creates_a_user_in_its_group_for_every_role(seeded):
    for spec in DEMO_USERS:
        user = User.objects.get(email=spec.email)
        assert user.check_password("demo-pass-2026")
        assert user.groups.filter(name=spec.role).exists(), spec.email
        assert user.is_staff == (spec.role in STAFF_ROLES), spec.email
    assert User.objects.get(email="admin@demo.test").is_superuser
    assert not User.objects.get(email="merchant@demo.test").is_staff


def test_prints_the_users_with_their_password(seeded):
    for spec in DEMO_USERS:
        line = next(line for line in seeded.splitlines() if spec.email in line)
        assert "demo-pass-2026" in line


def test_spreads_the_leads_over_all_three_cohorts(seeded):
    leads = demo_leads()
    assert leads.count() == len(DEMO_JOURNEYS) == 36
    assert set(leads.values_list("cohort", flat=True)) == set(Cohort.values)
    for lead in leads:
        assert lead.selling_plan and lead.setup_plan
    managed = leads.filter(cohort=Cohort.MANAGED)
    assert all(
        lead.annual_revenue_estimate >= 2_000_000 or lead.number_of_locations >= 10
        for lead in managed
    )


def test_about_two_thirds_become_merchants_each_with_ten_progress_rows(seeded):
    merchants = demo_merchants()
    assert 20 <= merchants.count() <= 28
    for merchant in merchants:
        assert merchant.step_progress.count() == 10, merchant
    assert MerchantStepProgress.objects.filter(merchant__in=merchants).count() == (
        10 * merchants.count()
    )


def test_merchants_stand_at_many_different_steps(seeded):
    steps = set(demo_merchants().values_list("current_step", flat=True))
    assert len(steps) >= 6
    assert demo_merchants().filter(journey_status="completed").exists()


def test_approved_kyb_has_its_audit_row(seeded):
    approved = demo_merchants().filter(kyb_status=CheckStatus.APPROVED)
    assert approved.exists()
    for merchant in approved:
        assert KybKycAuditLog.objects.filter(
            merchant=merchant, check_type="kyb", decision="approved"
        ).exists()
    assert demo_merchants().filter(kyb_status=CheckStatus.REJECTED).exists()
    assert demo_merchants().filter(kyb_status=CheckStatus.REVIEW_REQUIRED).exists()
    assert KybKycAuditLog.objects.filter(reviewed_by__email="compliance@demo.test").exists()


def test_eins_are_unique_and_never_trigger_a_sandbox_outcome(seeded):
    eins = [merchant.ein for merchant in demo_merchants()]
    assert len(set(eins)) == len(eins)
    assert not [ein for ein in eins if ein.endswith(("0000", "9999"))]


def test_links_merchant_user_to_one_merchant(seeded):
    merchant = Merchant.objects.get(user__email="merchant@demo.test")
    assert merchant.lead.email.endswith("@demo.test")


def test_routes_assisted_and_managed_leads_to_ae_queues(seeded):
    routed = QueueAssignment.objects.filter(queue__queue_type="ae")
    assert set(routed.values_list("lead__cohort", flat=True)) == {
        Cohort.ASSISTED,
        Cohort.MANAGED,
    }
    assert routed.filter(assigned_to__email__in=["ae1@demo.test", "ae2@demo.test"]).exists()
    assert not QueueAssignment.objects.filter(lead__cohort=Cohort.SELF_SERVE).exists()
    assert StallAlert.objects.filter(alert_status__in=OPEN_ALERT_STATUSES).count() >= 3


def test_a_second_run_creates_no_new_users_leads_or_merchants(seeded):
    counts = (User.objects.count(), Lead.objects.count(), Merchant.objects.count())

    output = seed_demo()

    assert (User.objects.count(), Lead.objects.count(), Merchant.objects.count()) == counts
    assert "Leads: created 0, already there 36" in output
    assert "Users: created 0, already there 7" in output
