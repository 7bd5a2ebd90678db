"""django-q2 entry points of the compliance app (listed in apps/core/jobs.py)."""

from apps.compliance.retention import retention_run as _retention_run


def retention_run():
    """The daily retention job: anonymise, delete and clear what is past its period."""
    run = _retention_run(triggered_by="schedule")
    return run.counts
