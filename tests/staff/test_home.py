"""/staff/: each role's home, its figures linked to the lists they count, constant queries."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.accounts import roles
from apps.merchants.choices import CheckStatus
from apps.routing.models import AssignmentStatus
from tests.accounts.factories import PASSWORD
from tests.integrations.factories import ExternalSystemSyncFactory
from tests.merchants.factories import MerchantFactory, MerchantPersonFactory
from tests.progress.factories import StallAlertFactory
from tests.routing.factories import QueueAssignmentFactory

HOME = "/staff/"


def test_the_home_url_is_staff_home():
    assert reverse("staff:home") == HOME


def test_anonymous_visitors_go_to_sign_in(client):
    response = client.get(HOME)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_a_merchant_gets_403(client, merchant_user):
    client.force_login(merchant_user)
    assert client.get(HOME).status_code == 403


@pytest.mark.parametrize("role", [roles.AE, roles.IC, roles.COMPLIANCE, roles.OPS, "superuser"])
def test_every_staff_role_gets_its_home(client, role_users, queues, role):
    client.force_login(role_users[role])
    response = client.get(HOME)
    assert response.status_code == 200
    page = response.text
    assert "<h1>Home</h1>" in page
    if role in (roles.AE, roles.IC, roles.OPS, "superuser"):
        assert "My open items" in page
        assert "My alerts" in page
    else:
        assert "My alerts" not in page
    if role in (roles.COMPLIANCE, "superuser"):
        assert "Compliance review" in page
    else:
        assert "under review" not in page
    if role in (roles.OPS, "superuser"):
        assert "Integration failures" in page
        assert "Funnel" in page
    else:
        assert "Integration failures" not in page


@pytest.mark.parametrize("role", [roles.AE, roles.IC, roles.COMPLIANCE, roles.OPS])
def test_staff_land_on_their_home_after_sign_in(client, role_users, role):
    user = role_users[role]
    response = client.post(
        reverse("accounts:login"), {"username": user.email, "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == HOME
    assert response.status_code == 200


def test_merchants_land_on_their_dashboard_after_sign_in(client, merchant_user):
    MerchantFactory(user=merchant_user, lead__email=merchant_user.email)
    response = client.post(
        reverse("accounts:login"), {"username": merchant_user.email, "password": PASSWORD}
    )
    assert client.get(response["Location"])["Location"] == reverse("merchants:dashboard")


def test_the_navigation_has_a_home_link_for_staff(client, ae_user):
    client.force_login(ae_user)
    page = client.get(reverse("routing:queue_index")).text
    assert f'<a href="{HOME}">Home</a>' in page


def test_an_ae_sees_their_items_with_sla_and_every_number_links(client, ae_user, queues):
    now = timezone.now()
    merchant = MerchantFactory(legal_business_name="Copper Kettle Café")
    mine = QueueAssignmentFactory(
        queue=queues["ae_high_priority"],
        lead=merchant.lead,
        status=AssignmentStatus.ASSIGNED,
        assigned_to=ae_user,
        queued_at=now - timedelta(minutes=50),
        sla_due_at=now + timedelta(minutes=10),
    )
    QueueAssignmentFactory(
        queue=queues["ae_standard"],
        lead__business_name="Waiting Bakery",
        queued_at=now - timedelta(hours=5),
        sla_due_at=now - timedelta(minutes=25),
    )
    StallAlertFactory(merchant=merchant, assigned_to=ae_user, alert_status="assigned")
    client.force_login(ae_user)
    page = client.get(HOME).text

    hub = reverse("staff:merchant", args=[merchant.pk])
    assert f'<a href="{hub}">Copper Kettle Café</a>' in page
    # The SLA in a colour, a word and words, as on the queue pages.
    assert '<span class="sla sla-warning">Due soon</span> Due in 10 min' in page
    assert re.search(r"Breached</span> Breached 2[56] min ago", page)  # 25-26 min
    assert "Waiting Bakery" in page
    queue_url = reverse("routing:queue_detail", args=["ae_standard"])
    # my queues: the waiting count (1) and the overdue count (1) link to the queue
    assert f'<a href="{queue_url}">1</a>' in page
    assert f'<a href="{reverse("routing:queue_index")}">1</a>' in page
    assert "1 open alert nobody has claimed" not in page  # the one alert is mine
    assert "My alerts <small>(1)</small>" in page
    assert mine.queue.queue_name in page


def test_compliance_sees_kyb_and_kyc_cases_linked_to_the_review_list(
    client, compliance_user, queues
):
    MerchantFactory(kyb_status=CheckStatus.REVIEW_REQUIRED)
    MerchantPersonFactory(kyc_status=CheckStatus.REVIEW_REQUIRED)
    MerchantPersonFactory(kyc_status=CheckStatus.REVIEW_REQUIRED)
    client.force_login(compliance_user)
    page = client.get(HOME).text
    review = reverse("compliance:review")
    assert f'<a href="{review}">1 business (KYB) under review</a>' in page
    assert f'<a href="{review}">2 persons (KYC) under review</a>' in page
    # the compliance queue links to the review page, never to a queue screen they cannot open
    assert reverse("routing:queue_detail", args=["compliance_review"]) not in page


def test_ops_see_integration_failures_and_the_funnel(client, ops_user, queues):
    ExternalSystemSyncFactory(sync_status="failed")
    ExternalSystemSyncFactory(sync_status="conflict")
    MerchantFactory()
    client.force_login(ops_user)
    page = client.get(HOME).text
    console = reverse("integrations:ops_console")
    assert f'<a href="{console}">2 syncs failed or in conflict</a>' in page
    assert "1 leads → 1 accounts" in page
    assert reverse("progress:ops_dashboard") in page


def test_ops_follow_each_latest_failed_sync_to_its_merchant(client, ops_user, queues):
    merchant = MerchantFactory(legal_business_name="Harbor Golf Club")
    person = MerchantPersonFactory(merchant=merchant)
    ExternalSystemSyncFactory(entity_type="lead", entity_id=merchant.lead_id, sync_status="failed")
    ExternalSystemSyncFactory(
        entity_type="person_kyc",
        entity_id=person.pk,
        external_system="payments",
        sync_status="conflict",
    )
    ExternalSystemSyncFactory(
        entity_type="merchant_kyb",
        entity_id=merchant.pk,
        external_system="payments",
        sync_status="synced",
    )
    client.force_login(ops_user)

    page = client.get(HOME).text

    failures = page[page.index('<ul id="failed-syncs"') :].split("</ul>", 1)[0]
    hub_link = f'<a href="{reverse("staff:merchant", args=[merchant.pk])}">Harbor Golf Club</a>'
    assert failures.count(hub_link) == 2
    assert "CRM failed" in failures
    assert "Payments provider conflict" in failures
    assert "merchant_kyb" not in failures  # synced: nothing to do


def test_the_home_lists_the_five_latest_failed_syncs_of_many(client, ops_user, queues):
    for _ in range(7):
        ExternalSystemSyncFactory(sync_status="failed")
    client.force_login(ops_user)

    page = client.get(HOME).text

    assert (
        f'<a href="{reverse("integrations:ops_console")}">7 syncs failed or in conflict</a>' in page
    )
    failures = page[page.index('<ul id="failed-syncs"') :].split("</ul>", 1)[0]
    assert failures.count("<li>") == 5


def _queries(client) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(HOME)
    assert response.status_code == 200
    return len(context.captured_queries)


def test_the_home_costs_the_same_queries_for_10_or_500_items(client, queues):
    from tests.accounts.factories import UserFactory

    user = UserFactory(roles=[roles.AE, roles.IC, roles.COMPLIANCE, roles.OPS])
    client.force_login(user)
    now = timezone.now()

    def add(count):
        for _ in range(count):
            merchant = MerchantFactory()
            QueueAssignmentFactory(
                queue=queues["ae_standard"],
                lead=merchant.lead,
                status=AssignmentStatus.ASSIGNED,
                assigned_to=user,
                sla_due_at=now + timedelta(minutes=30),
            )
            QueueAssignmentFactory(
                queue=queues["ic_intervention"],
                merchant=merchant,
                lead=None,
                sla_due_at=now - timedelta(minutes=5),
            )
            StallAlertFactory(merchant=merchant, assigned_to=user, alert_status="assigned")
            ExternalSystemSyncFactory(sync_status="failed")

    add(10)
    small = _queries(client)
    add(490)
    assert _queries(client) == small
