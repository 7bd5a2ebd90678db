"""POST /api/v1/webhooks/<provider>/: the signature is the authentication, each event is
stored once and processed once by its task, and no input gets a 500."""

import json
import time

import pytest
from django.conf import settings
from django.urls import reverse

from apps.integrations import inbox, signing
from apps.integrations.apis import BODY_TOO_LARGE, MAX_BODY_BYTES, UNKNOWN_PROVIDER
from apps.integrations.models import WebhookEvent, WebhookStatus

pytestmark = pytest.mark.django_db

PROVIDER = "payments"
EVENT_TYPE = "test.webhook_api"


def url(provider: str = PROVIDER) -> str:
    return reverse("integrations_api:webhook_receive", args=[provider])


def body_of(payload) -> bytes:
    return json.dumps(payload).encode()


def post(client, body: bytes, *, provider: str = PROVIDER, signature: str | None = "sign"):
    """POST `body` raw; signature="sign" signs it correctly now, None sends no header."""
    headers = {}
    if signature == "sign":
        signature = signing.sign(provider, body)
    if signature is not None:
        headers[signing.HEADER] = signature
    return client.post(url(provider), data=body, content_type="application/json", headers=headers)


@pytest.fixture
def handled():
    """A handler for the test event type, recording the ids it processed; removed after."""
    calls = []

    @inbox.handles_webhook(PROVIDER, EVENT_TYPE)
    def record(event):
        calls.append(event.external_id)

    yield calls
    inbox._webhook_handlers.pop((PROVIDER, EVENT_TYPE), None)


@pytest.fixture
def broken_handler():
    @inbox.handles_webhook(PROVIDER, EVENT_TYPE)
    def explode(event):
        raise RuntimeError("the handler has a bug")

    yield
    inbox._webhook_handlers.pop((PROVIDER, EVENT_TYPE), None)


def event(external_id: str = "evt_1", **extra) -> bytes:
    return body_of({"id": external_id, "type": EVENT_TYPE, **extra})


def test_a_signed_webhook_is_stored_and_processed_once(
    client, handled, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, event("evt_1", decision="approved"))

    assert response.status_code == 202
    stored = WebhookEvent.objects.get()
    assert response.json() == {"status": "accepted", "id": str(stored.pk)}
    assert stored.signature_valid is True
    assert stored.status == WebhookStatus.PROCESSED
    assert stored.payload["decision"] == "approved"
    assert stored.headers[signing.HEADER].startswith("t=")
    assert handled == ["evt_1"]


def test_the_same_webhook_again_is_a_duplicate_handled_once(
    client, handled, django_capture_on_commit_callbacks
):
    body = event("evt_1")
    with django_capture_on_commit_callbacks(execute=True):
        first = post(client, body)
    with django_capture_on_commit_callbacks(execute=True):
        again = post(client, body)

    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json() == {"status": "duplicate", "id": first.json()["id"]}
    assert WebhookEvent.objects.count() == 1
    assert handled == ["evt_1"]


def test_a_missing_signature_is_refused_and_the_rejected_row_kept(client, handled):
    response = post(client, event("evt_1"), signature=None)

    assert response.status_code == 401
    assert response.json() == {"detail": "Missing signature header."}
    rejected = WebhookEvent.objects.get()
    assert rejected.status == WebhookStatus.REJECTED
    assert rejected.signature_valid is False
    assert rejected.external_id == "evt_1"
    assert handled == []


def test_a_signature_made_with_another_secret_is_refused(client, settings):
    body = event("evt_1")
    settings.WEBHOOK_SECRETS = {**settings.WEBHOOK_SECRETS, PROVIDER: "not-the-real-secret"}
    forged = signing.sign(PROVIDER, body)
    settings.WEBHOOK_SECRETS = {**settings.WEBHOOK_SECRETS, PROVIDER: "the-real-secret"}

    response = post(client, body, signature=forged)

    assert response.status_code == 401
    assert response.json() == {"detail": "Signature does not match."}
    assert WebhookEvent.objects.get().status == WebhookStatus.REJECTED


def test_a_replayed_signature_older_than_the_tolerance_is_refused(client):
    body = event("evt_1")
    too_old = int(time.time()) - settings.WEBHOOK_TOLERANCE_SECONDS - 60
    response = post(client, body, signature=signing.sign(PROVIDER, body, timestamp=too_old))

    assert response.status_code == 401
    assert response.json() == {"detail": "Signature timestamp outside the allowed window."}
    assert not WebhookEvent.objects.exclude(status=WebhookStatus.REJECTED).exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "The body is not valid JSON."),
        (b"\xff\xfe", "The body is not valid JSON."),
        (b'[{"id": "evt_1", "type": "x"}]', "The body must be a JSON object."),
        (
            body_of({"type": EVENT_TYPE}),
            '"id" must be a non-empty string of at most 255 characters.',
        ),
        (body_of({"id": 12, "type": EVENT_TYPE}), '"id" must be a non-empty string'),
        (body_of({"id": "evt_1"}), '"type" must be a non-empty string'),
        (body_of({"id": "x" * 256, "type": EVENT_TYPE}), '"id" must be a non-empty string'),
    ],
)
def test_a_signed_but_malformed_body_is_a_400_with_the_reason(client, body, message):
    response = post(client, body)

    assert response.status_code == 400
    assert response.json()["detail"].startswith(message)
    assert not WebhookEvent.objects.exists()


def test_an_unknown_provider_is_a_404(client):
    response = post(client, event(), provider="nobody", signature="t=1,v1=00")

    assert response.status_code == 404
    assert response.json() == {"detail": UNKNOWN_PROVIDER}
    assert not WebhookEvent.objects.exists()


def test_a_body_over_one_mib_is_refused_before_anything_is_stored(client):
    body = event("evt_big", padding="x" * MAX_BODY_BYTES)

    response = post(client, body)

    assert response.status_code == 413
    assert response.json() == {"detail": BODY_TOO_LARGE}
    assert not WebhookEvent.objects.exists()


def test_a_forged_event_does_not_block_the_genuine_one_with_the_same_id(
    client, handled, django_capture_on_commit_callbacks
):
    body = event("evt_1")
    assert post(client, body, signature="t=1,v1=forged").status_code == 401

    with django_capture_on_commit_callbacks(execute=True):
        genuine = post(client, body)

    assert genuine.status_code == 202
    statuses = set(WebhookEvent.objects.values_list("status", flat=True))
    assert statuses == {WebhookStatus.REJECTED, WebhookStatus.PROCESSED}
    assert handled == ["evt_1"]


def test_a_failing_handler_leaves_the_event_failed_but_the_sender_got_202(
    client, broken_handler, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, event("evt_1"))

    assert response.status_code == 202
    stored = WebhookEvent.objects.get()
    assert stored.status == WebhookStatus.FAILED
    assert stored.error == "RuntimeError: the handler has a bug"


def test_the_endpoint_needs_no_csrf_token_nor_session(handled):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert post(strict, event("evt_1")).status_code == 202


def test_get_is_not_allowed(client):
    assert client.get(url()).status_code == 405


@pytest.mark.parametrize(
    "body",
    [
        body_of({"id": "evt_nul", "type": EVENT_TYPE, "note": "a\u0000b"}),
        b'{"id": "evt_nan", "type": "' + EVENT_TYPE.encode() + b'", "x": NaN}',
        b'{"id": "evt_big_int", "type": "t", "n": ' + b"9" * 5000 + b"}",
        b"[" * 50_000,
    ],
    ids=["nul-character", "nan", "5000-digit-number", "deep-nesting"],
)
@pytest.mark.parametrize("signed", [True, False], ids=["signed", "unsigned"])
def test_a_body_the_database_or_parser_refuses_is_a_client_error_not_a_500(client, body, signed):
    response = post(client, body, signature="sign" if signed else None)

    assert response.status_code == (400 if signed else 401)
    assert not WebhookEvent.objects.exclude(status=WebhookStatus.REJECTED).exists()


def test_a_signature_timestamp_too_large_for_the_clock_is_a_401(client):
    response = post(client, event(), signature="t=" + "9" * 400 + ",v1=00")

    assert response.status_code == 401


def test_the_openapi_schema_documents_the_webhook_endpoint(client):
    response = client.get(reverse("api-schema"), {"format": "json"})

    assert response.status_code == 200
    operation = response.json()["paths"]["/api/v1/webhooks/{provider}/"]["post"]
    assert {"200", "202", "400", "401", "404", "413"} <= set(operation["responses"])
    assert any(p["name"] == signing.HEADER for p in operation["parameters"])


def test_the_api_docs_page_serves_swagger_ui_locally(client):
    response = client.get(reverse("api-docs"))

    assert response.status_code == 200
    assert "drf_spectacular_sidecar/swagger-ui-dist" in response.text
    assert "cdn.jsdelivr.net" not in response.text
