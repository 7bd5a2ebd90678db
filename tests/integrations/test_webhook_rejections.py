"""Unauthenticated traffic at the webhook endpoint: a refused request leaves a small record of
who sent what (never its body), and one source cannot fill the table."""

import hashlib
import json
import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.integrations import signing
from apps.integrations.models import WebhookEvent, WebhookStatus

pytestmark = pytest.mark.django_db

PROVIDER = "payments"
ATTACKER_IP = "203.0.113.7"


def forged_body(external_id: str = "evt_forged", padding: int = 0) -> bytes:
    payload = {"id": external_id, "type": "kyb.decision", "decision": "approved"}
    if padding:
        payload["padding"] = "x" * padding
    return json.dumps(payload).encode()


def post(client, body: bytes, *, signature: str = "forge", ip: str = ATTACKER_IP):
    """POST `body` from `ip`; "forge" signs it now with a wrong digest, "sign" correctly."""
    if signature == "forge":
        signature = f"t={int(time.time())},v1={'0' * 64}"
    elif signature == "sign":
        signature = signing.sign(PROVIDER, body)
    return client.post(
        reverse("integrations_api:webhook_receive", args=[PROVIDER]),
        data=body,
        content_type="application/json",
        headers={signing.HEADER: signature},
        REMOTE_ADDR=ip,
    )


def rejected_rows():
    return WebhookEvent.objects.filter(status=WebhookStatus.REJECTED)


def test_a_rejected_webhook_keeps_who_sent_it_and_what_it_claimed_not_its_body(client):
    body = forged_body(padding=8_000)

    response = post(client, body)

    assert response.status_code == 401
    row = rejected_rows().get()
    assert (row.provider, row.external_id, row.event_type) == (
        PROVIDER,
        "evt_forged",
        "kyb.decision",
    )
    assert row.source_ip == ATTACKER_IP
    assert row.body_size == len(body)
    assert row.body_sha256 == hashlib.sha256(body).hexdigest()
    assert row.error == "Signature does not match."
    assert row.payload == {}
    assert "approved" not in json.dumps(row.payload) + json.dumps(row.headers)
    # Nothing ever changes a rejected row: a history row would only repeat it.
    assert not WebhookEvent.history.exists()


def test_a_genuine_webhook_records_its_source_size_and_hash_too(client):
    body = forged_body("evt_genuine")

    assert post(client, body, signature="sign", ip="198.51.100.1").status_code == 202

    stored = WebhookEvent.objects.get()
    assert stored.source_ip == "198.51.100.1"
    assert (stored.body_size, stored.body_sha256) == (len(body), hashlib.sha256(body).hexdigest())
    assert stored.payload["decision"] == "approved"


def test_past_the_cap_a_source_is_refused_without_a_row(client, settings):
    settings.WEBHOOK_REJECTED_PER_MINUTE = 3

    answers = [post(client, forged_body(f"evt_{n}")).status_code for n in range(5)]

    assert answers == [401] * 5
    assert rejected_rows().count() == 3


def test_the_cap_never_blocks_a_genuine_webhook_from_the_same_source(client, settings):
    settings.WEBHOOK_REJECTED_PER_MINUTE = 2
    for n in range(3):
        post(client, forged_body(f"evt_{n}"))

    genuine = post(client, forged_body("evt_real"), signature="sign")

    assert genuine.status_code == 202
    assert WebhookEvent.objects.filter(external_id="evt_real", signature_valid=True).exists()


def test_each_source_has_its_own_cap(client, settings):
    settings.WEBHOOK_REJECTED_PER_MINUTE = 2
    for n in range(3):
        post(client, forged_body(f"evt_{n}"))

    post(client, forged_body("evt_other"), ip="192.0.2.9")

    assert rejected_rows().filter(source_ip="192.0.2.9").count() == 1
    assert rejected_rows().filter(source_ip=ATTACKER_IP).count() == 2


def test_a_capped_source_is_recorded_again_a_minute_later(client, settings):
    settings.WEBHOOK_REJECTED_PER_MINUTE = 2
    for n in range(2):
        post(client, forged_body(f"evt_{n}"))
    rejected_rows().update(received_at=timezone.now() - timedelta(seconds=61))

    post(client, forged_body("evt_later"))

    assert rejected_rows().filter(external_id="evt_later").exists()
