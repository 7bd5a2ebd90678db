"""Times as staff read them (issue 14, item 7), in the zone activated for the request
(apps.accounts.middleware: the staff member's own, else the portal's):

- `{{ value|when }}`: `<time datetime="…">2026-12-04 21:48 CET</time>`, to the minute, with
  the zone's name so a time is never ambiguous;
- `{{ value|ago }}`: a relative age, "3 h ago", "25 min ago", "in 2 d", "just now";
- `{{ value|when_ago }}`: both, "2026-12-04 21:48 CET (3 h ago)";
- `{{ value|ago_titled }}`: the age in a `<time>` whose title is the full time, for a column
  of ages; `{{ value|ago_titled:words }}` shows the page's own words for the age instead
  ("25 min" where the column says "Waiting for");
- `{{ value|when_text }}`: the bare text of `when`, for a `title` attribute or `<title>`.

None or an empty value shows an em dash (`when_text`: nothing). The machine-readable
`datetime` attribute is UTC.
"""

import math
from datetime import UTC, datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html

register = template.Library()

EMPTY = "—"


def _aware(value) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    if timezone.is_naive(value):
        value = timezone.make_aware(value, UTC)
    return value


@register.filter
def when_text(value) -> str:
    """'2026-12-04 21:48 CET' in the current zone, or '' when not a datetime."""
    value = _aware(value)
    if value is None:
        return ""
    local = timezone.localtime(value)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or ''}".strip()


def age_text(value, now: datetime | None = None) -> str:
    """'3 h ago', '25 min ago', '2 d 4 h ago', 'in 40 min', 'just now'."""
    value = _aware(value)
    if value is None:
        return ""
    now = now or timezone.now()
    seconds = (now - value).total_seconds()
    minutes = math.floor(abs(seconds) / 60)
    if minutes < 1:
        return "just now"
    if minutes < 60:
        span = f"{minutes} min"
    elif minutes < 48 * 60:
        hours, rest = divmod(minutes, 60)
        span = f"{hours} h {rest} min" if rest and hours < 10 else f"{hours} h"
    else:
        days, hours = divmod(minutes // 60, 24)
        span = f"{days} d {hours} h" if hours else f"{days} d"
    return f"{span} ago" if seconds > 0 else f"in {span}"


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds")


@register.filter
def when(value):
    text = when_text(value)
    if not text:
        return EMPTY
    return format_html('<time datetime="{}">{}</time>', _iso(_aware(value)), text)


@register.filter
def ago(value):
    return age_text(value) or EMPTY


@register.filter
def when_ago(value):
    text = when_text(value)
    if not text:
        return EMPTY
    return format_html(
        '<time datetime="{}">{}</time> <small>({})</small>',
        _iso(_aware(value)),
        text,
        age_text(value),
    )


@register.filter
def ago_titled(value, words=None):
    text = when_text(value)
    if not text:
        return EMPTY
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        _iso(_aware(value)),
        text,
        age_text(value) if words is None else words,
    )
