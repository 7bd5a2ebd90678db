"""The ops dashboard's figures, kept instead of recomputed per view.

`/staff/ops/` used to aggregate whole tables on every view: at 100k leads / 50k merchants the
funnel (every lead joined to its merchant, with an orders check) and the step medians (over
every completed progress row) took seconds. The figures are now computed by the periodic job
`ops-figures` (apps/core/jobs.py; each figure one grouped query, set-based, in the database)
and kept in one OpsFigures row with the charts already drawn; the page and its CSV exports
read that row ("figures as of <time>"). A page that finds no row yet computes it once.

The figures themselves and their definitions are apps.progress.selectors' (tested there).
"""

import time
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from apps.progress import charts, selectors
from apps.progress.models import OpsFigures

DASHBOARD = "ops_dashboard"
REFRESH_MINUTES = 5
# Older than this, the page says the job has not been running.
STALE_AFTER = timedelta(minutes=3 * REFRESH_MINUTES)

# name in the row -> function computing it (each a fixed number of grouped queries)
FIGURES = {
    "funnel": selectors.funnel_by_cohort,
    "dropoff": selectors.dropoff_by_step,
    "step_times": selectors.step_median_times,
    "journeys": selectors.journey_median_durations,
    "sla": selectors.queue_sla_stats,
    "alerts": selectors.open_alerts_by_severity,
    "integrations": selectors.failed_integrations_by_system,
}
_DURATIONS = ("completed_median", "open_median")  # journeys: timedeltas, kept as seconds


def _to_json(name: str, rows: list[dict]) -> list[dict]:
    if name != "journeys":
        return rows
    return [
        {
            **row,
            **{
                key: None if row[key] is None else round(row[key].total_seconds())
                for key in _DURATIONS
            },
        }
        for row in rows
    ]


def _from_json(name: str, rows: list[dict]) -> list[dict]:
    if name != "journeys":
        return rows
    return [
        {
            **row,
            **{
                key: None if row[key] is None else timedelta(seconds=row[key]) for key in _DURATIONS
            },
        }
        for row in rows
    ]


def ops_figures_refresh() -> OpsFigures:
    """Compute every figure of the ops dashboard now and keep them (one row, rewritten)."""
    started = time.perf_counter()
    computed_at = timezone.now()
    with transaction.atomic():
        figures = {name: compute() for name, compute in FIGURES.items()}
    drawn = {
        "funnel": charts.funnel_chart(figures["funnel"]),
        "dropoff": charts.dropoff_chart(figures["dropoff"]),
        "step_times": charts.step_time_chart(figures["step_times"]),
        "alerts": charts.alerts_chart(figures["alerts"]),
    }
    row = OpsFigures(
        name=DASHBOARD,
        figures={name: _to_json(name, rows) for name, rows in figures.items()},
        charts={name: str(svg) for name, svg in drawn.items()},
        computed_at=computed_at,
        duration_ms=round((time.perf_counter() - started) * 1000),
    )
    # An upsert: two refreshes at once both succeed, the last one written wins.
    OpsFigures.objects.bulk_create(
        [row],
        update_conflicts=True,
        unique_fields=["name"],
        update_fields=["figures", "charts", "computed_at", "duration_ms"],
    )
    return row


class Snapshot:
    """What the page reads: `figures[name]` as the selectors return them, `charts[name]` as
    safe SVG, `computed_at`, and `stale` when the job has not refreshed it for a while."""

    def __init__(self, row: OpsFigures, *, now=None):
        from django.utils.safestring import mark_safe

        self.computed_at = row.computed_at
        self.duration_ms = row.duration_ms
        self.figures = {name: _from_json(name, rows) for name, rows in row.figures.items()}
        # Our own pygal output, scripts and comments removed when it was drawn.
        self.charts = {name: mark_safe(svg) for name, svg in row.charts.items()}
        self.stale = (now or timezone.now()) - row.computed_at > STALE_AFTER


def ops_figures_get() -> Snapshot:
    """The kept figures (one query); computed now if the job has never run."""
    row = OpsFigures.objects.filter(name=DASHBOARD).first()
    if row is None or set(FIGURES) - set(row.figures):
        row = ops_figures_refresh()
    return Snapshot(row)
