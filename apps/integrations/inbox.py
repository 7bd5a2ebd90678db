"""The webhook inbox: verify, store once, acknowledge, process later in a task.

`webhook_receive` is what the HTTP endpoint calls with the raw request, and what the
sandbox providers call to deliver their asynchronous outcomes, so both take the same path.
Handlers for (provider, event type) register with `@handles_webhook`; they run in a task,
once per stored event, and must be idempotent.
"""

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
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
    *,
    provider: str,
    body: bytes,
    signature: str | None,
    headers: dict | None = None,
    source_ip: str | None = None,
) -> tuple[WebhookEvent, bool]:
    """Store one inbound webhook. Returns (event, queued): queued is True when the event will
    be processed, i.e. it is new, or a re-send (same provider and id) of one not processed
    yet; False for a duplicate of a processed event, which is acknowledged and ignored. A
    bad signature raises SignatureError after keeping a `rejected` row for review (see
    `_keep_rejected`); a malformed body raises MalformedWebhook. Processing is enqueued
    after commit."""
    received = _Received(body=body, headers=headers or {}, source_ip=source_ip)
    try:
        signing.verify(provider, body, signature)
    except signing.SignatureError as exc:
        _keep_rejected(provider, received, str(exc))
        raise
    payload = _parse(body)
    try:
        with transaction.atomic():
            event = WebhookEvent(
                provider=provider,
                external_id=payload["id"],
                event_type=payload["type"],
                payload=payload,
                signature_valid=True,
                **received.columns(),
            )
            save_tracked(event, actor=None, reason="webhook_receive")
    except IntegrityError:
        event = WebhookEvent.objects.get(
            provider=provider, external_id=payload["id"], status__in=_ACCEPTED
        )
        if event.status not in _UNPROCESSED:
            return event, False
        # The provider sends again an event we stored but have not processed (its task was
        # lost, or its handler failed): process it now rather than answer "duplicate".
    webhook_enqueue_processing(event.pk)
    return event, True


_ACCEPTED = [s for s in WebhookStatus.values if s != WebhookStatus.REJECTED]
# Stored and not processed yet (or processing failed): a provider's re-send processes it.
_UNPROCESSED = (WebhookStatus.RECEIVED, WebhookStatus.FAILED)


def webhook_enqueue_processing(webhook_id) -> None:
    """Queue the processing of one stored webhook once the caller's transaction commits. A
    failed enqueue (broker away) loses nothing: the webhook stays received and the webhook
    sweep (apps/integrations/recovery.py) queues it again."""
    transaction.on_commit(lambda: async_task(PROCESS_TASK, str(webhook_id)), robust=True)


@dataclass(frozen=True)
class _Received:
    """What any request leaves on its row, accepted or not."""

    body: bytes
    headers: dict
    source_ip: str | None

    def columns(self) -> dict:
        return {
            "headers": self.headers,
            "source_ip": self.source_ip,
            "body_size": len(self.body),
            "body_sha256": hashlib.sha256(self.body).hexdigest(),
        }


def rejected_recently_count(source_ip: str | None, *, limit: int) -> int:
    """Rejected rows from this source in the last minute, counted up to `limit` (an index
    scan of at most `limit` rows: webhook_rejected_by_source)."""
    since = timezone.now() - timedelta(minutes=1)
    recent = WebhookEvent.objects.filter(
        status=WebhookStatus.REJECTED, source_ip=source_ip, received_at__gte=since
    )
    return recent[:limit].count()


def _keep_rejected(provider: str, received: _Received, error: str) -> None:
    """Keep a small record of a forged or broken request for review: who sent it, when, how
    big its body was and its hash, the id and type it claimed, and why it was refused; never
    the body (its sender was not authenticated). A source gets at most
    WEBHOOK_REJECTED_PER_MINUTE rows a minute, counted in the database because several
    processes answer; past that nothing is written (the sender still gets its 401)."""
    limit = settings.WEBHOOK_REJECTED_PER_MINUTE
    if rejected_recently_count(received.source_ip, limit=limit) >= limit:
        return
    claimed = _claimed(received.body[:10_000])
    event = WebhookEvent(
        provider=provider[:50],
        external_id=claimed.get("id", "")[:255],
        event_type=claimed.get("type", "")[:100],
        payload={},
        signature_valid=False,
        status=WebhookStatus.REJECTED,
        error=error,
        **received.columns(),
    )
    # The row is final when written: a history row would only repeat it, doubling the writes
    # an unauthenticated sender causes.
    event.skip_history_when_saving = True
    event.save()


def _claimed(head: bytes) -> dict[str, str]:
    """The "id" and "type" a body claims, where they are readable strings."""
    try:
        payload = _load_json(head)
    except MalformedWebhook:
        return {}
    if not isinstance(payload, dict):
        return {}
    return {key: payload[key] for key in ("id", "type") if isinstance(payload.get(key), str)}


class WebhookIgnored(Exception):
    """Raised by a handler that, on purpose, changes nothing for this webhook: what it
    already changed is rolled back and the row is kept as processed, ignored, with the
    message as the reason."""


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
        ignored = ""
        try:
            with transaction.atomic():
                for handler in webhook_handlers_for(event.provider, event.event_type):
                    handler(event)
        except WebhookIgnored as exc:
            ignored = str(exc)
        except Exception as exc:  # a handler bug must not lose the event: keep it as failed
            webhook_mark_failed(webhook=event, error=f"{type(exc).__name__}: {exc}"[:2000])
            return event
        webhook_mark_processed(webhook=event, ignored_reason=ignored)
    return event
