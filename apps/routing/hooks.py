"""Callbacks an upper app registers to react to routing, so routing never imports it.

Routing is the lower app (leads -> routing -> progress). An upper app registers its callbacks
once, in its AppConfig.ready(); routing calls them synchronously, in the order registered,
inside its own transaction: a callback that raises rolls back what routing was doing.
No signals: a reader finds every subscriber by grepping the registering function's name.
"""

_sla_breach_callbacks: list = []


def on_sla_breach(callback):
    """Register `callback(*, assignments)`, run once per SLA sweep with the list of items it
    marked breached (never empty), in the transaction that marks them: the rows are locked,
    saved as breached, each with its queue loaded. A callback works on the whole set in a
    fixed number of queries. Registering a callback again keeps one. Returns the callback,
    so it works as a decorator."""
    if callback not in _sla_breach_callbacks:
        _sla_breach_callbacks.append(callback)
    return callback


def sla_breaches_notify(*, assignments: list) -> None:
    """Run the SLA-breach callbacks once with the items just marked (called by the sweep)."""
    if not assignments:
        return
    for callback in _sla_breach_callbacks:
        callback(assignments=assignments)
