"""The severity of a stall alert: `severity_for(days=..., policy=...)`, from the whole days
without activity (apps/progress/sweeps/stall.py) and the cohort's StallPolicy thresholds. The
stall sweep raises open alerts along the same table (`_severity_steps`).

Severity (thresholds from the policy):

    days < stalled_after_days * 2                      low
    stalled_after_days * 2 <= days < high              medium
    high_severity_after_days (7) <= days < critical    high
    days >= critical_severity_after_days (10)          critical

    error_threshold alerts are at least medium; managed merchants are one level higher
    (low -> medium -> high -> critical). Self-serve: 3-5 d low, 6 d medium, 7-9 d high, 10+ d
    critical; assisted: 2-3 d low, 4-6 d medium; managed: 1 d medium, 2-6 d high, 7+ d
    critical. The sweep raises the severity of open stalled and abandoned alerts as the days
    add up, never lowers it (a person may have raised it by hand).
"""

from apps.leads.models import Cohort
from apps.progress.models import SEVERITY_RANK, AlertType, Severity, StallPolicy

_LEVEL_UP = {
    Severity.LOW: Severity.MEDIUM,
    Severity.MEDIUM: Severity.HIGH,
    Severity.HIGH: Severity.CRITICAL,
    Severity.CRITICAL: Severity.CRITICAL,
}
_BY_RANK = {rank: severity for severity, rank in SEVERITY_RANK.items()}


def _severity_steps(policy: StallPolicy, *, shifted: bool = True) -> list[tuple[int, str]]:
    """(minimum days, severity), highest severity first; `shifted` applies the managed
    cohort's one level up."""
    steps = [
        (policy.critical_severity_after_days, Severity.CRITICAL),
        (policy.high_severity_after_days, Severity.HIGH),
        (policy.stalled_after_days * 2, Severity.MEDIUM),
        (0, Severity.LOW),
    ]
    if shifted and policy.cohort == Cohort.MANAGED:
        steps = [(days, _LEVEL_UP[severity]) for days, severity in steps]
    return steps


def severity_for(*, days: int, policy: StallPolicy, alert_type: str = AlertType.STALLED) -> str:
    """The severity table of the module docstring."""
    severity = next(s for minimum, s in _severity_steps(policy, shifted=False) if days >= minimum)
    if alert_type == AlertType.ERROR_THRESHOLD and SEVERITY_RANK[severity] < 2:
        severity = Severity.MEDIUM
    return _LEVEL_UP[severity] if policy.cohort == Cohort.MANAGED else severity
