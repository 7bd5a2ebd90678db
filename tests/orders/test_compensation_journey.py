"""After the saga compensates (hardware refused for good: the order refunded), the journey
agrees with the order: step 6 is no longer done and says what happened and what to do, the
lead is no longer converted by it, the accounts the purchase opened are closed, the licence
lines read "Refunded", and the merchant reads their own words, never the provider's."""

import pytest
from django.urls import reverse

from apps.integrations.models import IntegrationEvent
from apps.integrations.providers.sandbox import sandbox_fail
from apps.leads.models import LeadStatus
from apps.orders.models import SagaStep
from apps.orders.models.catalog import ItemType
from apps.orders.models.order import FulfillmentStatus, ItemFulfillmentStatus, OrderStatus
from apps.orders.models.saga_step import SagaStepStatus
from apps.orders.saga import compensation
from apps.orders.saga import steps as saga_steps
from apps.progress.models import MerchantStepProgress, StepStatus
from tests.orders.helpers import HARDWARE_SET, accepted_quote, ledger, pay

pytestmark = pytest.mark.django_db

PROVIDER_WORDS = "Supplier says: SKU HW-CARD-READER embargoed (E-4471)."


@pytest.fixture
def refunded(make_merchant, django_capture_on_commit_callbacks):
    """An order whose hardware the supplier refused for good, after both accounts were
    opened and the licences allocated: the saga undid it."""
    merchant = make_merchant()
    order = accepted_quote(merchant, hardware=HARDWARE_SET)
    sandbox_fail("hardware", "create_order", times=1, kind="permanent", message=PROVIDER_WORDS)
    with django_capture_on_commit_callbacks(execute=True):
        pay(order)
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    return order


def step6(order):
    return MerchantStepProgress.objects.get(merchant=order.merchant, step_id=6)


def test_step_6_is_reopened_with_what_happened_and_what_next(refunded):
    progress = step6(refunded)

    assert progress.status == StepStatus.FAILED
    assert progress.completed_at is None
    assert progress.last_error == compensation.payment_step_undone(
        order=refunded, failed_step=saga_steps.HARDWARE
    )
    assert progress.error_count == 0  # not one of the merchant's errors
    history = progress.history.order_by("-history_date").first()
    assert history.history_change_reason.startswith("step_undo: step 6")
    refunded.merchant.refresh_from_db()
    assert refunded.merchant.current_step == 6
    assert IntegrationEvent.objects.filter(
        event_type="step.undone", aggregate_id=progress.pk
    ).exists()


def test_the_lead_this_order_converted_is_qualified_again(refunded):
    lead = refunded.merchant.lead
    lead.refresh_from_db()

    assert lead.status == LeadStatus.QUALIFIED
    assert lead.converted_at is None
    history = lead.history.order_by("-history_date").first()
    assert history.history_change_reason == (
        f"lead_conversion_undo: order {refunded.order_number} refunded"
    )
    assert IntegrationEvent.objects.filter(
        event_type="lead.conversion_undone", aggregate_id=lead.pk
    ).exists()


def test_the_accounts_the_purchase_opened_are_closed_once(refunded):
    merchant = refunded.merchant
    merchant.refresh_from_db()

    assert ledger("x_series", "close_account") == 1
    assert ledger("payments", "close_account") == 1
    assert merchant.x_series_account_id is None
    assert merchant.payments_account_id is None
    recorded = dict(SagaStep.objects.filter(order=refunded).values_list("name", "status"))
    assert recorded[saga_steps.CLOSE_ACCOUNTS] == SagaStepStatus.DONE
    assert recorded[saga_steps.X_SERIES] == SagaStepStatus.COMPENSATED
    assert recorded[saga_steps.PAYMENTS_ACCOUNT] == SagaStepStatus.COMPENSATED
    assert IntegrationEvent.objects.filter(
        event_type="merchant.external_accounts_closed", aggregate_id=merchant.pk
    ).exists()

    # Running the compensation again closes nothing more.
    from apps.orders import tasks

    tasks.saga_start(str(refunded.pk))
    assert ledger("x_series", "close_account") == 1
    assert ledger("payments", "close_account") == 1


def test_no_line_of_the_refunded_order_reads_fulfilled(refunded):
    lines = dict(refunded.items.values_list("item_type", "fulfillment_status"))
    licences = refunded.items.filter(item_type=ItemType.SOFTWARE_LICENSE)

    assert licences.exists()
    assert set(licences.values_list("fulfillment_status", flat=True)) == {
        ItemFulfillmentStatus.REFUNDED
    }
    assert lines[ItemType.HARDWARE] == ItemFulfillmentStatus.CANCELLED
    assert ItemFulfillmentStatus.FULFILLED not in lines.values()
    assert refunded.fulfillment_status == FulfillmentStatus.CANCELLED


def test_the_dashboard_and_order_page_say_what_happened_in_the_merchants_words(client, refunded):
    client.force_login(refunded.merchant.user)

    dashboard = client.get(reverse("merchants:dashboard")).text
    order_page = client.get(reverse("orders:order_detail", args=[refunded.order_number])).text

    what = compensation.WHAT_FAILED[saga_steps.HARDWARE]
    for page in (dashboard, order_page):
        assert what in page
        assert compensation.WHAT_NEXT in page
        assert PROVIDER_WORDS not in page and "E-4471" not in page
    # Step 6 is no longer done: it reads "Failed" in the merchants' one state vocabulary.
    assert '<span class="state state-failed" data-state="failed">Failed</span>' in dashboard
    assert f'href="{reverse("orders:quote")}"' in dashboard
    assert "Refunded" in order_page
    assert "Fulfilled" not in order_page


def test_a_second_paid_order_keeps_the_lead_converted_and_the_accounts_open(
    make_merchant, django_capture_on_commit_callbacks
):
    merchant = make_merchant()
    first = accepted_quote(merchant, hardware=None)
    with django_capture_on_commit_callbacks(execute=True):
        pay(first)
    first.refresh_from_db()
    assert first.status == OrderStatus.ACTIVATED

    second = accepted_quote(merchant, hardware=HARDWARE_SET)
    sandbox_fail("hardware", "create_order", times=1, kind="permanent")
    with django_capture_on_commit_callbacks(execute=True):
        pay(second)
    second.refresh_from_db()
    merchant.refresh_from_db()
    merchant.lead.refresh_from_db()

    assert second.status == OrderStatus.REFUNDED
    assert merchant.lead.status == LeadStatus.CONVERTED
    assert merchant.x_series_account_id and merchant.payments_account_id
    assert ledger("x_series", "close_account") == 0
    assert ledger("payments", "close_account") == 0
