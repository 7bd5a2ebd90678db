"""A NUL character in a request's path, query string or form fields is refused with a 400
that says why, before any view runs, so nothing changes (apps.core.middleware). PostgreSQL
cannot compare text with a NUL: each of these pages answered 500 before."""

from urllib.parse import urlencode

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse
from django.urls import reverse

from apps.core.admin import APPLY_FIELD
from apps.core.middleware import NUL_REFUSED, RefuseNulMiddleware
from apps.integrations import signing
from apps.integrations.models import WebhookEvent
from apps.leads.models import Lead, LeadStatus
from apps.merchants.choices import CheckStatus
from apps.merchants.models import Merchant
from apps.orders.models import Order
from apps.orders.models.order import OrderStatus
from tests.compliance.test_review import under_review
from tests.integrations.factories import WebhookEventFactory
from tests.leads.factories import LeadFactory
from tests.merchants.factories import MerchantFactory
from tests.orders.factories import OrderFactory
from tests.routing.factories import seeded_queues

pytestmark = pytest.mark.django_db


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def action(name: str, obj, **fields) -> dict:
    """The form the admin's action menu posts for one object."""
    return {"action": name, ACTION_CHECKBOX_NAME: [str(obj.pk)], "index": "0", **fields}


def assert_refused_as_a_page(response):
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert NUL_REFUSED in response.content.decode()


# --- In the query string ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/admin/leads/lead/?status=%00",
        "/admin/merchants/merchant/?kyb_status=%00",
        "/admin/orders/order/?status=%00",
        "/admin/integrations/webhookevent/?status=%00",
        "/admin/leads/lead/?q=%00",
        "/admin/leads/lead/?%00=1",
    ],
)
def test_a_nul_in_an_admin_filter_or_search_is_a_400(admin_client, url):
    assert_refused_as_a_page(admin_client.get(url))


def test_a_nul_in_the_compliance_search_is_a_400(client, compliance_user):
    client.force_login(compliance_user)

    assert_refused_as_a_page(client.get(reverse("compliance:review"), {"q": "Copper\x00"}))


def test_a_nul_in_the_path_is_a_400(admin_client):
    # django-q2's task ids are text: the admin looked the NUL up in the database.
    assert_refused_as_a_page(admin_client.get("/admin/django_q/success/%00/change/"))


def test_the_api_refuses_a_nul_in_the_query_string_with_json(admin_client):
    lead = LeadFactory()

    response = admin_client.get(reverse("leads_api:lead_cohort", args=[lead.pk]) + "?x=%00")

    assert response.status_code == 400
    assert response.json() == {"detail": NUL_REFUSED}


def test_a_signed_webhook_with_a_nul_in_its_query_string_is_refused(client):
    body = b'{"id": "evt_nul", "type": "test.nul"}'
    url = reverse("integrations_api:webhook_receive", args=["payments"]) + "?via=%00"

    response = client.post(
        url,
        data=body,
        content_type="application/json",
        headers={signing.HEADER: signing.sign("payments", body)},
    )

    assert response.status_code == 400
    assert response.json() == {"detail": NUL_REFUSED}
    assert not WebhookEvent.objects.exists()


# --- In a form field --------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["multipart", "urlencoded"])
def test_a_nul_in_any_field_refuses_the_whole_admin_action(admin_client, encoding):
    lead = LeadFactory()
    data = action("mark_contacted", lead, note="see\x00attached")
    if encoding == "multipart":
        response = admin_client.post(changelist(Lead), data)
    else:
        response = admin_client.post(
            changelist(Lead),
            urlencode(data, doseq=True),
            content_type="application/x-www-form-urlencoded",
        )

    assert_refused_as_a_page(response)
    lead.refresh_from_db()
    assert lead.status == LeadStatus.NEW
    assert lead.history.count() == 1


def test_a_nul_in_an_order_cancel_refuses_it(admin_client):
    order = OrderFactory()

    response = admin_client.post(
        changelist(Order),
        action("cancel", order, **{APPLY_FIELD: "yes", "reason": "Asked", "note": "\x00"}),
    )

    assert_refused_as_a_page(response)
    order.refresh_from_db()
    assert order.status == OrderStatus.DRAFT


def test_a_nul_in_a_merchant_admin_action_is_a_400(admin_client):
    merchant = MerchantFactory()

    response = admin_client.post(
        changelist(Merchant),
        action("kyb_approve", merchant, **{APPLY_FIELD: "yes", "reason": "Checked\x00"}),
    )

    assert_refused_as_a_page(response)
    assert merchant.history.count() == 1


def test_a_nul_in_a_webhook_events_admin_form_is_a_400(admin_client):
    event = WebhookEventFactory()

    response = admin_client.post(changelist(WebhookEvent), action("", event, q="\x00"))

    assert_refused_as_a_page(response)
    assert event.history.count() == 1


def test_a_nul_in_a_compliance_decision_refuses_it(client, journey_steps, compliance_user):
    seeded_queues()
    merchant = under_review()
    client.force_login(compliance_user)

    response = client.post(
        reverse("compliance:kyb_decide", args=[merchant.pk]),
        {"decision": CheckStatus.APPROVED, "notes": "Lease checked", "page": "2\x00"},
    )

    assert_refused_as_a_page(response)
    merchant.refresh_from_db()
    assert merchant.kyb_status == CheckStatus.REVIEW_REQUIRED


# --- What is not looked at --------------------------------------------------------------------


def test_an_uploaded_file_may_hold_nul_bytes(rf):
    """File contents are the view's business (a CSV import refuses them itself)."""
    request = rf.post(
        "/data-import/",
        {"kind": "products", "file": SimpleUploadedFile("items.csv", b"sku\x00,name\n")},
    )
    middleware = RefuseNulMiddleware(lambda request: HttpResponse("the view ran"))

    def view(request):  # not CSRF-exempt: its form fields are read
        return HttpResponse()

    assert middleware.process_view(request, view, (), {}) is None
    assert middleware(request).content == b"the view ran"


def test_a_multipart_body_still_reaches_the_webhook_unread(client):
    """The webhook is CSRF-exempt and verifies its raw body: the middleware must not read
    (and so consume) a multipart form sent to it, or the view could no longer read it."""
    response = client.post(
        reverse("integrations_api:webhook_receive", args=["payments"]),
        {"id": "evt_form", "type": "test.form"},
    )

    assert response.status_code == 401
    assert WebhookEvent.objects.filter(signature_valid=True).count() == 0
