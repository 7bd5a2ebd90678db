from io import StringIO
from unittest import mock

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.models import Count
from django.test.utils import CaptureQueriesContext

from apps.demo import volume
from apps.demo.context import REFERENCE_MISSING
from apps.demo.volume import ALREADY_SEEDED, NOT_ON_SQLITE, REASON, TABLES
from apps.leads.models import Cohort, Lead
from apps.merchants.choices import CheckStatus
from apps.merchants.models import Merchant, MerchantLocation
from apps.orders.models import Order, OrderItem, Payment
from apps.orders.models.catalog import ItemType
from apps.orders.models.order import PAID_AND_LATER
from apps.progress.models import DONE_STEP_STATUSES, MerchantStepProgress, StepStatus
from apps.routing.models import QueueAssignment

pytestmark = pytest.mark.django_db

LEADS, MERCHANTS = 300, 120


def seed_volume(leads=LEADS, merchants=MERCHANTS) -> str:
    out = StringIO()
    call_command("seed_volume", leads=leads, merchants=merchants, stdout=out)
    return out.getvalue()


@pytest.fixture
def rules():
    call_command("seed_rules", stdout=StringIO())


@pytest.fixture
def seeded(rules):
    return seed_volume()


def test_makes_the_rows_asked_for_and_says_so(seeded):
    assert Lead.objects.filter(email__endswith="@volume.test").count() == LEADS
    assert Merchant.objects.count() == MERCHANTS
    assert MerchantLocation.objects.filter(is_primary=True).count() == MERCHANTS
    assert MerchantStepProgress.objects.count() == 10 * MERCHANTS
    # An order from step 6 on, a captured payment once it is paid.
    assert Order.objects.count() == Merchant.objects.filter(current_step__gte=6).count() > 0
    assert Payment.objects.count() == Order.objects.filter(status__in=PAID_AND_LATER).count() > 0
    assert QueueAssignment.objects.filter(queue__code="ae_standard").exists()
    assert QueueAssignment.objects.filter(queue__code="ic_onboarding").exists()
    assert f"leads: {LEADS}" in seeded
    assert f"step progress rows: {10 * MERCHANTS:,}" in seeded
    assert "seed_volume took" in seeded


def test_cohorts_and_lead_statuses_come_in_believable_shares(seeded):
    cohorts = dict(Lead.objects.values_list("cohort").annotate(n=Count("id")))
    expected = {Cohort.SELF_SERVE: 0.70, Cohort.ASSISTED: 0.22, Cohort.MANAGED: 0.08}
    for cohort, share in expected.items():
        assert cohorts[cohort] / LEADS == pytest.approx(share, abs=0.07), cohort
    statuses = set(Lead.objects.values_list("status", flat=True))
    assert {"new", "contacted", "qualified", "converted", "disqualified", "lost"} <= statuses


def test_every_merchant_has_ten_progress_rows_done_up_to_its_current_step(seeded):
    rows_per_merchant = set(
        Merchant.objects.annotate(n=Count("step_progress")).values_list("n", flat=True)
    )
    assert rows_per_merchant == {10}
    for merchant in Merchant.objects.filter(journey_status="in_progress"):
        statuses = dict(merchant.step_progress.values_list("step_id", "status"))
        assert all(statuses[k] in DONE_STEP_STATUSES for k in range(1, merchant.current_step))
        assert statuses[merchant.current_step] in (StepStatus.IN_PROGRESS, StepStatus.FAILED)
        later = range(merchant.current_step + 1, 11)
        assert all(statuses[k] == StepStatus.PENDING for k in later)


def test_hardware_orders_belong_to_kyb_approved_merchants(seeded):
    hardware_orders = Order.objects.filter(items__item_type=ItemType.HARDWARE).distinct()
    assert hardware_orders.exists()
    assert not hardware_orders.exclude(merchant__kyb_status=CheckStatus.APPROVED).exists()


def test_every_row_made_has_its_creation_history_row(seeded):
    for _, model in TABLES:
        history = model.history.filter(history_change_reason=REASON)
        assert model.objects.count() > 0, model
        assert history.count() == model.objects.count(), model
        assert not history.exclude(history_type="+").exists()
        assert not history.exclude(history_user=None).exists()
        made = set(model.objects.values_list("id", "created_at"))
        assert set(history.values_list("id", "history_date")) == made, model
    assert OrderItem.history.count() == OrderItem.objects.count()


def _statements(leads: int, merchants: int) -> int:
    """Queries and COPY statements of one run, rolled back afterwards."""
    copies = mock.patch.object(volume, "_copy", wraps=volume._copy)
    with transaction.atomic(), CaptureQueriesContext(connection) as queries, copies as copy:
        seed_volume(leads, merchants)
        transaction.set_rollback(True)
    return len(queries) + copy.call_count


def test_statement_count_does_not_grow_with_the_number_of_rows(rules):
    assert _statements(100, 40) == _statements(300, 120)


def test_refuses_a_second_run(seeded):
    with pytest.raises(CommandError, match="already there"):
        seed_volume()

    assert Lead.objects.count() == LEADS
    assert "dropdb" in ALREADY_SEEDED


def test_refuses_without_reference_data():
    with pytest.raises(CommandError, match=REFERENCE_MISSING):
        seed_volume()

    assert not Lead.objects.exists()


def test_refuses_sqlite(rules, monkeypatch):
    monkeypatch.setattr(connection, "vendor", "sqlite")

    with pytest.raises(CommandError, match="PostgreSQL only"):
        seed_volume()

    monkeypatch.undo()
    assert not Lead.objects.exists()
    assert "DATABASE_URL" in NOT_ON_SQLITE
