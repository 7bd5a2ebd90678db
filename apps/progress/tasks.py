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


def ops_figures_refresh() -> dict:
    """Scheduled every 5 minutes ("ops-figures", seeded by seed_rules): recompute the ops
    dashboard's figures."""
    from apps.progress.ops_figures import ops_figures_refresh as refresh

    row = refresh()
    return {"computed_at": row.computed_at.isoformat(), "duration_ms": row.duration_ms}
