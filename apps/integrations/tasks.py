"""django-q2 entry points: take ids, call one service, safe to run twice."""

from apps.integrations import services

SANDBOX_WEBHOOK_REFUSED = "{provider} is not a sandbox provider: no sandbox webhook is signed."


def event_deliver(event_id: str):
    event = services.event_deliver(event_id=event_id)
    return bool(event and event.published)


def events_deliver(event_ids: list[str]) -> int:
    """Deliver a chunk of events recorded together (apps.integrations.outbox.events_emit),
    each in its own transaction: one whose handler fails stays unpublished for the outbox
    sweep. Returns how many were published."""
    published = 0
    for event_id in event_ids:
        event = services.event_deliver(event_id=event_id)
        published += bool(event is not None and event.published)
    return published


def events_dispatch():
    """Deliver due outbox events in batches (apps/integrations/dispatch.py)."""
    from apps.integrations.dispatch import events_dispatch as dispatch

    return dispatch()


def events_sweep():
    return services.events_sweep_unpublished()


def webhook_process(webhook_id: str):
    from apps.integrations.inbox import webhook_process as process

    event = process(webhook_id=webhook_id)
    return event.status if event else None


def sync_retry_due():
    from apps.integrations.delivery import syncs_retry_due

    return syncs_retry_due()


def sync_push_now(sync_id: str):
    from apps.integrations.delivery import sync_push_pending

    sync = sync_push_pending(sync_id=sync_id)
    return sync.sync_status if sync else None


def sandbox_webhook_send(provider: str, payload_json: str):
    """Deliver one sandbox provider outcome the way the real provider does: signed, through
    the inbox's `webhook_receive` (what the webhook endpoint calls). Safe to run twice: the
    inbox stores each event id once. Refused for a provider in http mode: it would sign
    whatever it is given with that provider's real secret."""
    from apps.integrations import signing
    from apps.integrations.inbox import webhook_receive
    from apps.integrations.providers import provider_mode

    if provider_mode(provider) != "sandbox":
        raise PermissionError(SANDBOX_WEBHOOK_REFUSED.format(provider=provider))

    body = payload_json.encode()
    signature = signing.sign(provider, body)
    headers = {
        signing.HEADER: signature,
        "Content-Type": "application/json",
        "User-Agent": "onboarding-sandbox",
    }
    event, _created = webhook_receive(
        provider=provider, body=body, signature=signature, headers=headers
    )
    return str(event.pk)


def webhooks_sweep():
    """Scheduled "webhooks-sweep": webhooks whose processing task was lost (recovery.py)."""
    from apps.core.recovery import recovery_run

    return recovery_run(key="webhooks").recovered


def syncs_pending_sweep():
    """Scheduled "syncs-pending-sweep": syncs sent again whose push task was lost."""
    from apps.core.recovery import recovery_run

    return recovery_run(key="syncs-pending").recovered
