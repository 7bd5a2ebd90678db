"""/staff/merchants/<id>/: the hub, who sees it, what it shows masked, and its query count."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.accounts import roles
from apps.routing.models import AssignmentStatus
from tests.integrations.factories import ExternalSystemSyncFactory
from tests.merchants.factories import (
    MerchantBankAccountFactory,
    MerchantFactory,
    MerchantPersonFactory,
)
from tests.orders.factories import HardwareShipmentFactory, OrderFactory
from tests.progress.factories import StallAlertFactory, merchant_on_step
from tests.routing.factories import AssignmentNoteFactory, QueueAssignmentFactory


def url(merchant) -> str:
    return reverse("staff:merchant", args=[merchant.pk])


@pytest.fixture
def merchant(db):
    return MerchantFactory(legal_business_name="Copper Kettle Café", ein="12-3456789")


def test_anonymous_visitors_go_to_sign_in(client, merchant):
    response = client.get(url(merchant))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_a_merchant_gets_403_even_for_their_own(client, merchant):
    client.force_login(merchant.user)
    assert client.get(url(merchant)).status_code == 403


def test_an_unknown_merchant_is_404(client, ae_user):
    client.force_login(ae_user)
    assert client.get("/staff/merchants/00000000-0000-0000-0000-000000000000/").status_code == 404


@pytest.mark.parametrize("role", [roles.AE, roles.IC, roles.COMPLIANCE, roles.OPS, "superuser"])
def test_every_staff_role_sees_the_hub_with_pii_masked(client, role_users, merchant, role):
    MerchantPersonFactory(
        merchant=merchant, first_name="Ada", last_name="Lovelace", ssn="123-45-6789"
    )
    MerchantBankAccountFactory(merchant=merchant, account_number="000123456789")
    client.force_login(role_users[role])
    response = client.get(url(merchant))
    assert response.status_code == 200
    page = response.text
    assert '<section id="business-details"' in page
    assert "•••• 6789" in page  # EIN and SSN, last four only
    assert "3456789" not in page
    assert "123-45" not in page
    assert "000123456789" not in page
    assert "Ada Lovelace" in page
    audit = reverse("compliance:merchant_audit", args=[merchant.pk])
    assert (audit in page) == (role in (roles.COMPLIANCE, "superuser"))


def test_the_hub_shows_cohort_why_steps_orders_items_alerts_notes_and_syncs(
    client, ic_user, queues, journey_steps
):
    progress = merchant_on_step(
        step=3, idle=timedelta(hours=5), legal_business_name="Copper Kettle Café"
    )
    merchant = progress.merchant
    lead = merchant.lead
    lead.cohort_reason = "GTV under $250k and one location"
    lead.save(update_fields=["cohort_reason"])
    order = OrderFactory(merchant=merchant, order_number="ORD-777001")
    HardwareShipmentFactory(order=order, tracking_number="1Z999")
    item = QueueAssignmentFactory(
        queue=queues["ic_intervention"],
        merchant=merchant,
        lead=None,
        reason="Stalled 3 days on step 3",
    )
    AssignmentNoteFactory(assignment=item, body="Left a voicemail")
    StallAlertFactory(merchant=merchant)
    ExternalSystemSyncFactory(
        entity_id=merchant.pk, sync_status="failed", last_error="CRM timed out"
    )
    client.force_login(ic_user)
    page = client.get(url(merchant)).text
    assert "GTV under $250k and one location" in page
    assert "3. " in page and 'aria-current="step"' in page
    assert "5 h" in page  # time in the current step
    assert reverse("orders:staff_order_detail", args=["ORD-777001"]) in page
    assert "1Z999" in page
    assert "Stalled 3 days on step 3" in page
    assert "Left a voicemail" in page
    assert "Stalled alert" in page
    assert "CRM timed out" in page
    assert reverse("leads:staff_lead_detail", args=[lead.pk]) in page


def _queries(client, merchant) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url(merchant))
    assert response.status_code == 200
    return len(context.captured_queries)


def test_the_hub_costs_the_same_queries_for_10_or_500_related_rows(
    client, ic_user, queues, journey_steps
):
    merchant = merchant_on_step(step=4).merchant
    ic_item = QueueAssignmentFactory(
        queue=queues["ic_intervention"],
        merchant=merchant,
        lead=None,
        status=AssignmentStatus.ASSIGNED,
        assigned_to=ic_user,
    )

    def add(start, count):
        for n in range(start, start + count):
            order = OrderFactory(merchant=merchant)
            HardwareShipmentFactory(order=order)
            MerchantPersonFactory(merchant=merchant)
            AssignmentNoteFactory(assignment=ic_item, author=ic_user)
            ExternalSystemSyncFactory(entity_id=order.pk, sync_status="failed")
            # One open alert per (step, type): ten steps, three types.
            alert_type = ("error_threshold", "stalled", "abandoned")[n // 10]
            alert = StallAlertFactory(
                merchant=merchant, alert_type=alert_type, step=journey_steps[1 + n % 10]
            )
            alert.notes = [
                {"at": timezone.now().isoformat(), "author": "x@example.com", "body": f"note {n}"}
            ]
            alert.save(update_fields=["notes"])

    add(0, 10)
    client.force_login(ic_user)
    small = _queries(client, merchant)
    add(10, 20)
    for _ in range(470):
        order = OrderFactory(merchant=merchant)
        HardwareShipmentFactory(order=order)
        MerchantPersonFactory(merchant=merchant)
    assert _queries(client, merchant) == small


@pytest.mark.parametrize("role", [roles.AE, roles.IC, roles.COMPLIANCE, roles.OPS, "superuser"])
def test_only_compliance_is_offered_reveal_with_reason_on_the_hub(
    client, role_users, merchant, role
):
    person = MerchantPersonFactory(merchant=merchant, ssn="123-45-6789")
    account = MerchantBankAccountFactory(merchant=merchant, account_number="000123456789")
    client.force_login(role_users[role])
    page = client.get(url(merchant)).text
    reveal_urls = [
        reverse("compliance:reveal", args=[kind, subject.pk])
        for kind, subject in (("merchant", merchant), ("person", person), ("bank_account", account))
    ]
    offered = [reveal_url in page for reveal_url in reveal_urls]
    assert offered == [role == roles.COMPLIANCE] * 3
