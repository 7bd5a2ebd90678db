"""Asynchronous sandbox outcomes arrive as signed webhooks through the real inbox path."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import Schedule

from apps.integrations.models import WebhookEvent, WebhookStatus
from apps.integrations.providers import get_provider, sandbox
from tests.integrations.providers.test_sandbox_outcomes import business

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_webhook_handlers")]


def test_a_kyb_decision_reaches_the_inbox_signed_and_processed(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        check = get_provider("payments").submit_kyb(
            idempotency_key="evt-1", business=business("12-3459999")
        )
    event = WebhookEvent.objects.get()
    assert (event.provider, event.event_type) == ("payments", "kyb.decision")
    assert event.external_id == f"evt_{check['check_id']}_decision"
    assert event.signature_valid is True
    assert event.headers["X-Signature"].startswith("t=")
    assert event.status == WebhookStatus.PROCESSED
    assert event.payload["data"]["decision"] == "review_required"
    assert event.payload["data"]["reason"] == sandbox.REVIEW_REASON


def test_nothing_is_sent_when_the_callers_transaction_rolls_back(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        get_provider("payments").submit_kyb(idempotency_key="evt-1", business=business("1"))
    assert len(callbacks) == 1  # the webhook waits for the commit
    assert not WebhookEvent.objects.exists()


def _tracking(postal_code: str, capture) -> list[str]:
    order = {"order_id": "o1", "items": [{"sku": "IPAD", "quantity": 1}]}
    order["ship_to"] = {"line1": "1 Main St", "postal_code": postal_code}
    with capture(execute=True):
        result = get_provider("hardware").create_order(idempotency_key="evt-1", order=order)
    shipment = result["shipments"][0]
    events = WebhookEvent.objects.filter(event_type="shipment.status").order_by("received_at")
    assert len({event.external_id for event in events}) == len(events)
    assert {event.payload["data"]["shipment_ref"] for event in events} == {shipment["shipment_ref"]}
    return [event.payload["data"]["status"] for event in events]


def test_a_shipment_is_tracked_to_delivery(django_capture_on_commit_callbacks):
    statuses = _tracking("94107", django_capture_on_commit_callbacks)
    assert statuses == ["pending", "processing", "shipped", "in_transit", "delivered"]


def test_a_shipment_to_postal_code_00000_ends_in_failed_delivery(
    django_capture_on_commit_callbacks,
):
    statuses = _tracking("00000", django_capture_on_commit_callbacks)
    assert statuses == ["pending", "processing", "shipped", "in_transit", "failed_delivery"]
    failed = WebhookEvent.objects.get(payload__data__status="failed_delivery")
    assert failed.payload["data"]["reason"] == sandbox.DELIVERY_FAILED_REASON


def test_with_a_delay_the_webhooks_are_scheduled_in_order_instead_of_sent(
    settings, django_capture_on_commit_callbacks
):
    settings.SANDBOX_WEBHOOK_DELAY_SECONDS = 60
    order = {"order_id": "o1", "items": [], "ship_to": {"postal_code": "94107"}}
    with django_capture_on_commit_callbacks(execute=True):
        get_provider("hardware").create_order(idempotency_key="evt-1", order=order)
    assert not WebhookEvent.objects.exists()
    runs = list(
        Schedule.objects.filter(func=sandbox.WEBHOOK_TASK)
        .order_by("next_run")
        .values_list("next_run", flat=True)
    )
    assert len(runs) == 5
    assert runs[0] > timezone.now() + timedelta(seconds=50)
    assert runs[-1] - runs[0] == timedelta(seconds=240)


def test_a_provider_in_http_mode_gets_no_sandbox_webhook_signed(settings):
    # The task signs with the provider's secret: queued for a real provider (a tampered
    # schedule row, a resubmitted task), it would forge that provider's webhooks.
    from apps.integrations.tasks import SANDBOX_WEBHOOK_REFUSED, sandbox_webhook_send

    settings.INTEGRATIONS_MODE_OVERRIDES = {"payments": "http"}
    body = '{"id": "evt_forged", "type": "kyb.decision", "data": {"decision": "approved"}}'

    with pytest.raises(PermissionError, match=SANDBOX_WEBHOOK_REFUSED.format(provider="payments")):
        sandbox_webhook_send("payments", body)

    assert not WebhookEvent.objects.exists()
