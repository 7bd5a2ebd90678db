"""Table-driven checks that every transition is allowed from exactly its source states.

Each Case names a service call and the states it may start from. For every source state the
service must move the row to the target, write a history row with the service's reason and
record its outbox event; from every other state it must raise TransitionRefused and change
nothing (no new history row, state as before).
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from apps.core.errors import TransitionRefused
from apps.integrations.models import IntegrationEvent


@dataclass
class Case:
    id: str
    make: Callable  # make(state) -> a saved row in that state, every guard satisfied
    field: str
    sources: list
    target: str
    perform: Callable  # perform(row) calls the service
    states: list
    reason: str  # expected in the history row's change reason
    event: str | None = None
    not_refused: list = field(default_factory=list)  # states neither allowed nor tested


def allowed(cases):
    return [
        pytest.param(case, source, id=f"{case.id}-from-{source}")
        for case in cases
        for source in case.sources
    ]


def refused(cases):
    return [
        pytest.param(case, state, id=f"{case.id}-refused-from-{state}")
        for case in cases
        for state in case.states
        if state not in case.sources and state not in case.not_refused
    ]


def check_allowed(case: Case, source: str) -> None:
    row = case.make(source)
    case.perform(row)
    row.refresh_from_db()
    assert getattr(row, case.field) == case.target
    latest = row.history.first()
    assert getattr(latest, case.field) == case.target
    assert case.reason in (latest.history_change_reason or "")
    if case.event:
        assert IntegrationEvent.objects.filter(
            event_type=case.event, aggregate_id=row.pk
        ).exists(), f"no {case.event} event recorded"


def check_refused(case: Case, state: str) -> None:
    row = case.make(state)
    history_before = row.history.count()
    events_before = IntegrationEvent.objects.count()
    with pytest.raises(TransitionRefused) as refusal:
        case.perform(row)
    assert refusal.value.message
    row.refresh_from_db()
    assert getattr(row, case.field) == state
    assert row.history.count() == history_before
    assert IntegrationEvent.objects.count() == events_before
