"""django-q2 entry points: take ids, call one service, safe to run twice."""

from apps.integrations import services


def event_deliver(event_id: str):
    event = services.event_deliver(event_id=event_id)
    return bool(event and event.published)


def events_sweep():
    return services.events_sweep_unpublished()


def retention_purge():
    return services.events_purge_published()


def webhook_process(webhook_id: str):
    from apps.integrations.inbox import webhook_process as process

    event = process(webhook_id=webhook_id)
    return event.status if event else None
