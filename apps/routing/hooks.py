"""Callbacks an upper app registers to react to routing, so routing never imports it.

Routing is the lower app (leads -> routing -> progress). An upper app registers its callbacks
once, in its AppConfig.ready(); routing calls them synchronously, in the order registered,
inside its own transaction: a callback that raises rolls back what routing was doing.
No signals: a reader finds every subscriber by grepping the registering function's name.
"""

_sla_breach_callbacks: list = []


def on_sla_breach(callback):
    """Register `callback(*, assignment)`, run once for each item the SLA sweep marks breached,
    in the transaction that marks it (the item is locked, saved as breached, its queue loaded).
    Registering a callback again keeps one. Returns the callback, so it works as a decorator."""
    if callback not in _sla_breach_callbacks:
        _sla_breach_callbacks.append(callback)
    return callback


def sla_breach_notify(*, assignment) -> None:
    """Run the SLA-breach callbacks for `assignment` (called by the SLA sweep)."""
    for callback in _sla_breach_callbacks:
        callback(assignment=assignment)
