"""Which handlers an event type is delivered to. Handlers must be idempotent: delivery is at
least once (a redelivery after a worker crash calls them again with the same event).

A handler registered with `latest_only=True` acts on the aggregate's current state, not on
what the event says (a push of the whole lead to the CRM): when a dispatcher's batch holds
several events of one aggregate for it, it runs for the newest only, and the older ones count
as delivered to it (their effect is included)."""

from collections import defaultdict
from collections.abc import Callable

_handlers: dict[str, list[Callable]] = defaultdict(list)
_latest_only: set[Callable] = set()


def handles(event_type: str, *, latest_only: bool = False):
    def register(handler: Callable) -> Callable:
        if handler not in _handlers[event_type]:
            _handlers[event_type].append(handler)
        if latest_only:
            _latest_only.add(handler)
        return handler

    return register


def handlers_for(event_type: str) -> list[Callable]:
    return list(_handlers.get(event_type, ()))


def is_latest_only(handler: Callable) -> bool:
    return handler in _latest_only
