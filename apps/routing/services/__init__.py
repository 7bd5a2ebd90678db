"""Routing use cases (DESIGN.md rules 6-7), one module per use case; nothing is re-exported.

- `routing`: which queue a lead or merchant goes to (`lead_route`, `merchant_route_to_ic`) and
  `assignment_enqueue`, the one way an item enters a queue.
- `claims`: an agent takes an item (`assignment_assign`, `assignment_claim_next`).
- `auto_assign`: the auto-assign policy (`eligible_agent`, `assignment_auto_assign`,
  `queue_fill_freed_slot`) and the tasks that run it after commit.
- `assignments`: what the holder does with an item: contact, start, resolve, release,
  reassign, escalate, withdraw.
- `notes`: notes on an item (`assignment_add_note`).
- `sla`: the SLA sweep (`assignments_sla_sweep`) and marking a breach; other apps react to a
  breach through `apps.routing.hooks`.
- `checks`: the refusals the use cases share (role, holder, capacity, reason) and their messages.

The status vocabulary (`HELD_STATUSES`), the queue-type-to-role table (`QUEUE_ROLE`) and the
SLA deadline rule (`sla_is_breached`) live in `apps.routing.models`, read by selectors too.
"""
