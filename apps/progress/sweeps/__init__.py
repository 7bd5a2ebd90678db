"""The stall sweep (DESIGN.md rule 8) and what follows from it; nothing is re-exported.

- `stall`: the sweep itself (`stall_sweep`, run by `apps.progress.tasks.stall_sweep` every 15
  minutes): finds stalls, abandonments, repeated errors and lost leads, raises the alerts and
  their outbox events in bulk, raises severities, and resolves the alerts whose merchant moved
  on (`alerts_resolve_moved_on`, also run at once when a step completes).
- `severity`: the severity table of stall alerts (`severity_for`), per cohort policy.
- `follow_ups`: what each new alert or lost lead leads to, one merchant at a time, run by the
  outbox handlers (apps/progress/handlers.py): nudge email, IC intervention, abandonment, lost lead.
"""
