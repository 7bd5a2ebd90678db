"""django-q2 entry points: take ids, call one service, safe to run twice."""

from apps.integrations import services


def event_deliver(event_id: str):
    event = services.event_deliver(event_id=event_id)
    return bool(event and event.published)


def events_sweep():
    return services.events_sweep_unpublished()


def retention_purge():
    return services.events_purge_published()
