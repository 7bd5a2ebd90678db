"""django-q2 entry points of the progress app: thin, idempotent, ids in and out."""

from apps.progress.sweeps import stall


def stall_sweep() -> dict:
    """Scheduled every 15 minutes ("stall-sweep", seeded by seed_rules)."""
    return stall.stall_sweep().as_dict()


def events_deliver(event_ids: list[str]) -> int:
    """Tasks queued before the sweeps used apps.integrations.tasks.events_deliver: the same."""
    from apps.integrations.tasks import events_deliver as deliver

    return deliver(event_ids)


def ops_figures_refresh() -> dict:
    """Scheduled every 5 minutes ("ops-figures", seeded by seed_rules): recompute the ops
    dashboard's figures."""
    from apps.progress.ops_figures import ops_figures_refresh as refresh

    row = refresh()
    return {"computed_at": row.computed_at.isoformat(), "duration_ms": row.duration_ms}
