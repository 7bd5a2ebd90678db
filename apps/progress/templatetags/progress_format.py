from datetime import timedelta

from django import template

register = template.Library()


@register.filter
def duration(value) -> str:
    """Seconds or a timedelta as a short human duration: "2 d 3 h", "3 h 20 min", "45 s";
    an em dash for None."""
    if value is None or value == "":
        return "—"
    seconds = int(value.total_seconds() if isinstance(value, timedelta) else value)
    days, rest = divmod(max(0, seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


@register.filter
def percent(value) -> str:
    return "—" if value is None else f"{value:g} %"


@register.filter
def cohort_label(value) -> str:
    from apps.progress.selectors import COHORT_LABELS

    return COHORT_LABELS.get(value, value) if value else "—"


@register.filter
def isodate(value):
    """An ISO 8601 string (as kept in JSON) back to a datetime, for the date filter."""
    from datetime import datetime

    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
