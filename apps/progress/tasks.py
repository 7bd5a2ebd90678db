"""django-q2 entry points of the progress app: thin, idempotent, ids in and out."""

from apps.progress.sweeps import stall


def stall_sweep() -> dict:
    """Scheduled every 15 minutes ("stall-sweep", seeded by seed_rules)."""
    return stall.stall_sweep().as_dict()


def events_deliver(event_ids: list[str]) -> int:
    """Deliver a chunk of the stall sweep's outbox events (each in its own transaction; an
    event whose handler fails stays unpublished for the outbox sweep). Returns how many were
    published."""
    from apps.integrations.services import event_deliver

    published = 0
    for event_id in event_ids:
        event = event_deliver(event_id=event_id)
        published += bool(event is not None and event.published)
    return published
