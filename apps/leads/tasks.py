"""django-q2 entry points: thin wrappers over services, safe to run twice."""

from datetime import datetime

from django.utils.dateparse import parse_datetime

from apps.leads import services


def leads_reprofile(since: str | datetime | None = None) -> dict[str, int]:
    """The daily re-profiling of open leads (schedule "leads-reprofile"): queues one
    `leads_reprofile_chunk` task per 1,000 leads, so none nears the task timeout. `since` (an
    ISO datetime) limits it to leads changed since then and those never profiled. Overridden
    cohorts are kept; unchanged leads are left alone, so a second run writes nothing."""
    if isinstance(since, str):
        parsed = parse_datetime(since)
        if parsed is None:
            raise ValueError(f"since is not an ISO datetime: {since!r}")
        since = parsed
    return services.leads_reprofile_enqueue(since=since)


def leads_reprofile_chunk(lead_ids: list[str]) -> dict[str, int]:
    """Re-profile these leads (a chunk queued by leads_reprofile); returns the counts."""
    return services.leads_reprofile(lead_ids=lead_ids)
