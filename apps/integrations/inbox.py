"""The webhook inbox: verify, store once, acknowledge, process later in a task.

`webhook_receive` is what the HTTP endpoint calls with the raw request, and what the
sandbox providers call to deliver their asynchronous outcomes, so both take the same path.
Handlers for (provider, event type) register with `@handles_webhook`; they run in a task,
once per stored event, and must be idempotent.
"""

import json
from collections import defaultdict
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django_q.tasks import async_task

from apps.core.fsm import save_tracked
from apps.core.parsers import contains_nul
from apps.integrations import signing
from apps.integrations.models import WebhookEvent, WebhookStatus

PROCESS_TASK = "apps.integrations.tasks.webhook_process"

_webhook_handlers: dict[tuple[str, str], list[Callable]] = defaultdict(list)


class MalformedWebhook(Exception):
    """The body is not a JSON object with a string "id" and "type" (answered with 400)."""


def handles_webhook(provider: str, event_type: str):
    def register(handler: Callable) -> Callable:
        if handler not in _webhook_handlers[(provider, event_type)]:
            _webhook_handlers[(provider, event_type)].append(handler)
        return handler

    return register


def webhook_handlers_for(provider: str, event_type: str) -> list[Callable]:
    return list(_webhook_handlers.get((provider, event_type), ()))


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _load_json(body: bytes):
    """Parse a body we are willing to store: valid UTF-8 JSON that PostgreSQL's jsonb can
    hold (no NUL character, no lone surrogate, no NaN/Infinity)."""
    try:
        text = body.decode("utf-8")
        payload = json.loads(text, parse_constant=_reject_constant)
        json.dumps(payload, ensure_ascii=False).encode("utf-8")
    except (UnicodeError, ValueError, RecursionError) as exc:
        raise MalformedWebhook("The body is not valid JSON.") from exc
    if contains_nul(payload):
        raise MalformedWebhook("The body contains a NUL character.")
    return payload


def _parse(body: bytes) -> dict:
    payload = _load_json(body)
    if not isinstance(payload, dict):
        raise MalformedWebhook("The body must be a JSON object.")
    for key, limit in (("id", 255), ("type", 100)):
        value = payload.get(key)
        if not isinstance(value, str) or not value.strip() or len(value) > limit:
            raise MalformedWebhook(
                f'"{key}" must be a non-empty string of at most {limit} characters.'
            )
    return payload


def webhook_receive(
    *, provider: str, body: bytes, signature: str | None, headers: dict | None = None
) -> tuple[WebhookEvent, bool]:
    """Store one inbound webhook. Returns (event, created); created is False for a duplicate
    (same provider and id), which is acknowledged and ignored. A bad signature raises
    SignatureError after keeping a `rejected` row for review; a malformed body raises
    MalformedWebhook. Processing is enqueued after commit."""
    try:
        signing.verify(provider, body, signature)
    except signing.SignatureError as exc:
        _keep_rejected(provider, body, headers, str(exc))
        raise
    payload = _parse(body)
    try:
        with transaction.atomic():
            event = WebhookEvent(
                provider=provider,
                external_id=payload["id"],
                event_type=payload["type"],
                payload=payload,
                headers=headers or {},
                signature_valid=True,
            )
            save_tracked(event, actor=None, reason="webhook_receive")
    except IntegrityError:
        return WebhookEvent.objects.get(
            provider=provider, external_id=payload["id"], status__in=_ACCEPTED
        ), False
    transaction.on_commit(lambda: async_task(PROCESS_TASK, str(event.pk)))
    return event, True


_ACCEPTED = [s for s in WebhookStatus.values if s != WebhookStatus.REJECTED]


def _keep_rejected(provider: str, body: bytes, headers: dict | None, error: str) -> None:
    """Keep what a forged or broken request sent, for review, in a form the database can
    store whatever the bytes were."""
    try:
        payload = _load_json(body[:10_000])
    except MalformedWebhook:
        payload = None
    if not isinstance(payload, dict):
        text = body[:10_000].decode("utf-8", errors="replace").replace("\x00", "\ufffd")
        payload = {"raw": text}
    external_id = payload.get("id") if isinstance(payload.get("id"), str) else ""
    event_type = payload.get("type") if isinstance(payload.get("type"), str) else ""
    event = WebhookEvent(
        provider=provider[:50],
        external_id=external_id[:255],
        event_type=event_type[:100],
        payload=payload,
        headers=headers or {},
        signature_valid=False,
        status=WebhookStatus.REJECTED,
        error=error,
    )
    save_tracked(event, actor=None, reason=f"webhook_receive: rejected: {error}")


def webhook_process(*, webhook_id) -> WebhookEvent | None:
    """Run the handlers of one stored webhook, once. Safe to call twice (a redelivered
    task): the row is locked and only a received or failed event is processed."""
    from apps.integrations.services import (
        webhook_mark_failed,
        webhook_mark_processed,
        webhook_start_processing,
    )

    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().filter(pk=webhook_id).first()
        if event is None or event.status not in (WebhookStatus.RECEIVED, WebhookStatus.FAILED):
            return event
        webhook_start_processing(webhook=event)
        try:
            with transaction.atomic():
                for handler in webhook_handlers_for(event.provider, event.event_type):
                    handler(event)
        except Exception as exc:  # a handler bug must not lose the event: keep it as failed
            webhook_mark_failed(webhook=event, error=f"{type(exc).__name__}: {exc}"[:2000])
            return event
        webhook_mark_processed(webhook=event)
    return event
