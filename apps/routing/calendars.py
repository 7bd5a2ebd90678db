"""Business-hours arithmetic for SLA clocks (issue 14 item 6): pure functions over a time zone,
working hours per weekday and holidays; no database (apps.routing.models.BusinessCalendar
loads its rows and calls these).

A queue that follows a business calendar counts its SLA in working time only: a lead queued
Friday 17:55 in a queue open 09:00-18:00 on weekdays, with a 60-minute SLA, has 5 minutes on
Friday and is due Monday 09:55 (Tuesday 09:55 when Monday is a holiday). Working hours are wall
times in the calendar's time zone, so they follow daylight saving time: 09:00 is 09:00 local on
both sides of a change, and an interval that spans the change is as long as the clocks say
(01:00-05:00 on a spring-forward night is three real hours). All arithmetic is done in UTC.

Boundaries: a deadline that falls exactly at closing time stays on that day; an item queued
outside working hours starts its clock at the next opening. A closing time of 00:00 means
midnight at the end of the day.
"""

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.core.exceptions import ValidationError

# How far ahead a deadline is looked for before the calendar is judged to have no working time.
MAX_DAYS = 3 * 366
MIDNIGHT = time(0, 0)
WARN_FRACTION = 0.75  # "due soon" from 75% of the SLA

Hours = Mapping[int, Iterable[tuple[time, time]]]  # weekday (Monday 0) -> (opens, closes)


class NoWorkingTime(ValueError):
    """The calendar has no working time within MAX_DAYS of the start."""


def validate_time_zone(value: str) -> None:
    if value not in available_timezones():
        raise ValidationError(f"“{value}” is not a time zone name (e.g. America/New_York).")


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise NoWorkingTime(f"unknown time zone {name!r}") from exc


def _intervals(day: date, hours: Hours, holidays, zone: ZoneInfo):
    """The working intervals of `day` as UTC (start, end) pairs, in order."""
    if day in holidays:
        return []
    spans = []
    for opens, closes in sorted(hours.get(day.weekday(), ())):
        start = datetime.combine(day, opens, tzinfo=zone).astimezone(UTC)
        end_day = day + timedelta(days=1) if closes == MIDNIGHT else day
        end = datetime.combine(end_day, closes, tzinfo=zone).astimezone(UTC)
        if end > start:
            spans.append((start, end))
    return spans


def working_time_add(
    start: datetime, duration: timedelta, *, time_zone: str, hours: Hours, holidays=()
) -> datetime:
    """The instant at which `duration` of working time has passed since `start` (aware).
    Raises NoWorkingTime when the calendar has none within MAX_DAYS."""
    zone = _zone(time_zone)
    holidays = set(holidays)
    start = start.astimezone(UTC)
    remaining = duration
    day = start.astimezone(zone).date() - timedelta(days=1)  # an interval may cross midnight
    for _ in range(MAX_DAYS):
        for opens, closes in _intervals(day, hours, holidays, zone):
            begin = max(opens, start)
            if closes <= begin:
                continue
            if begin + remaining <= closes:
                return begin + remaining
            remaining -= closes - begin
        day += timedelta(days=1)
    raise NoWorkingTime(f"no working time within {MAX_DAYS} days of {start.isoformat()}")


def working_time_between(
    start: datetime, end: datetime, *, time_zone: str, hours: Hours, holidays=()
) -> timedelta:
    """Working time from `start` to `end` (negative when `end` is earlier): what is left of a
    business-hours SLA, or how late it is, in the calendar's hours."""
    if end < start:
        return -working_time_between(
            end, start, time_zone=time_zone, hours=hours, holidays=holidays
        )
    zone = _zone(time_zone)
    holidays = set(holidays)
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    total = timedelta(0)
    day = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date()
    while day <= last:
        for opens, closes in _intervals(day, hours, holidays, zone):
            overlap = min(closes, end) - max(opens, start)
            if overlap > timedelta(0):
                total += overlap
        day += timedelta(days=1)
    return total


def sla_deadlines(
    start: datetime,
    minutes: int,
    *,
    time_zone: str | None = None,
    hours: Hours | None = None,
    holidays=(),
) -> tuple[datetime, datetime]:
    """(warn_at, due_at) of an SLA of `minutes` started at `start`: due after `minutes` of
    working time, "due soon" from 75% of it. Without a calendar (`time_zone` None), or with
    one that has no working time at all, the clock runs 24/7."""
    duration = timedelta(minutes=minutes)
    if time_zone is not None and hours:
        try:
            due = working_time_add(
                start, duration, time_zone=time_zone, hours=hours, holidays=holidays
            )
            warn = working_time_add(
                start,
                duration * WARN_FRACTION,
                time_zone=time_zone,
                hours=hours,
                holidays=holidays,
            )
            return warn, due
        except NoWorkingTime:
            pass
    return start + duration * WARN_FRACTION, start + duration
