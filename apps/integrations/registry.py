"""Which handlers an event type is delivered to. Handlers must be idempotent: delivery is at
least once (a redelivery after a worker crash calls them again with the same event)."""

from collections import defaultdict
from collections.abc import Callable

_handlers: dict[str, list[Callable]] = defaultdict(list)


def handles(event_type: str):
    def register(handler: Callable) -> Callable:
        if handler not in _handlers[event_type]:
            _handlers[event_type].append(handler)
        return handler

    return register


def handlers_for(event_type: str) -> list[Callable]:
    return list(_handlers.get(event_type, ()))
