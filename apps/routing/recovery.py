"""Routing's background work the recovery sweeps cover (apps/core/recovery.py): items waiting
in an auto-assign queue whose auto-assign task was lost. Registered by RoutingConfig.ready."""

from apps.core.recovery import Stuck, StuckKind, stuck_kind_register
from apps.routing.services.auto_assign import (
    AUTO_ASSIGN_GRACE,
    assignments_auto_assign_sweep,
    waiting_for_auto_assign_stuck,
)

AUTO_ASSIGN = "auto-assign"


def auto_assign_stuck() -> Stuck:
    return Stuck(**waiting_for_auto_assign_stuck())


def auto_assign_sweep(*, force: bool = False) -> int:
    return assignments_auto_assign_sweep(force=force)


stuck_kind_register(
    StuckKind(
        key=AUTO_ASSIGN,
        label="Queue items waiting for auto-assign",
        stuck="apps.routing.recovery.auto_assign_stuck",
        sweep="apps.routing.recovery.auto_assign_sweep",
        job="auto-assign-sweep",
        explains="Offers each item waiting over "
        f"{int(AUTO_ASSIGN_GRACE.total_seconds() // 60)} minutes to an agent with room "
        "(items stay queued while every agent is full).",
    )
)
