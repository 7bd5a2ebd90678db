"""The ops dashboard's charts: static SVG rendered on the server by pygal, inlined in the page.
No JavaScript: pygal's tooltip script is not referenced (js=[]) and its inline config script is
removed, so each chart is a picture; the table beside it carries the exact figures."""

import re

import pygal
from django.utils.safestring import SafeString, mark_safe
from pygal.style import Style

from apps.progress.selectors import COHORT_LABELS, FUNNEL_STAGES

_STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground="#373c44",
    foreground_strong="#373c44",
    foreground_subtle="#8891a4",
    colors=("#0172ad", "#d93526", "#2e7d32", "#9c6500", "#6e40c9"),
    font_family="system-ui, sans-serif",
)
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def _config(**extra) -> dict:
    return {
        "js": [],
        "disable_xml_declaration": True,
        "style": _STYLE,
        "height": 320,
        "width": 800,
        "legend_at_bottom": True,
        "print_values": False,
        "show_y_guides": True,
        **extra,
    }


def _svg(chart, title: str) -> SafeString:
    svg = chart.render(is_unicode=True)
    svg = _COMMENT.sub("", _SCRIPT.sub("", svg))
    # An accessible name for the picture; the table next to it has the numbers.
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{_attr(title)}" ', 1)
    # pygal escapes every label it writes; the scripts and comments are gone.
    return mark_safe(svg)


def _attr(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def funnel_chart(funnel: list[dict]) -> SafeString:
    chart = pygal.Bar(**_config(title="Funnel by cohort"))
    chart.x_labels = [label for _, label in FUNNEL_STAGES]
    for row in funnel:
        if row["cohort"] == "all":
            continue
        chart.add(COHORT_LABELS[row["cohort"]], [row[stage] for stage, _ in FUNNEL_STAGES])
    return _svg(chart, "Funnel by cohort: leads, accounts, KYB approved, paid, active")


def dropoff_chart(dropoff: list[dict]) -> SafeString:
    chart = pygal.StackedBar(**_config(title="Drop-off by step"))
    chart.x_labels = [str(row["step"]) for row in dropoff]
    chart.add("Stalled", [row["stalled"] for row in dropoff])
    chart.add("Abandoned", [row["abandoned"] for row in dropoff])
    return _svg(chart, "Merchants stalled and abandoned at each step")


def step_time_chart(step_times: list[dict]) -> SafeString:
    chart = pygal.Bar(**_config(title="Median time in each step (hours)", show_legend=False))
    chart.x_labels = [str(row["step"]) for row in step_times]
    chart.add(
        "Median hours",
        [
            round(row["median_seconds"] / 3600, 1) if row["median_seconds"] is not None else None
            for row in step_times
        ],
    )
    return _svg(chart, "Median time in each step, in hours")


def alerts_chart(alerts: list[dict]) -> SafeString:
    chart = pygal.HorizontalBar(
        **_config(title="Open alerts by severity", show_legend=False, height=240)
    )
    rows = list(reversed(alerts))  # pygal draws the first label at the bottom
    chart.x_labels = [row["severity_label"] for row in rows]
    chart.add("Open alerts", [row["total"] for row in rows])
    return _svg(chart, "Open alerts by severity")
