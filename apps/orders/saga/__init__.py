"""The purchase-and-provision saga (DESIGN.md "Integrations", spec "Purchase and Provision").

    in the checkout request            django-q2 tasks, after the charge commits
    ──────────────────────────         ─────────────────────────────────────────────────────
    kyb_check ─► charge ─┬─► provision_x_series ──┐   (two tasks, in parallel)
                         └─► provision_payments ──┴─► hardware_order ─► confirmation_email
                                                                      ─► progress_update
    Compensation
    charge refused at capture ─────────► payment failed, order cancelled (reason on its page)
    provision_x_series, provision_payments or hardware_order failed for good (a permanent
    error, or MAX_ATTEMPTS retryable ones) ─► cancel_hardware ─► refund_payment ─► notify_failure
        cancel_hardware: the hardware orders placed are cancelled, shipments not yet sent too
        refund_payment:  the charge is refunded (billing), the order refunded
        notify_failure:  the merchant gets an email saying what happened and what next

Every step is a SagaStep row (pending → running → done | failed → running ... | compensated),
with its attempts, timings, error and result. A done step never runs again: the entry point
`saga_run` (task `saga_start`) can be called at any time — after a worker crash, by a
redelivered task — and resumes from the first step that is not done. Each step calls its
provider with keys derived from the order id and the step's name (`step_key`), so a step that
ran remotely but crashed before it was recorded makes no second remote effect when it runs
again. Provider calls happen outside database transactions; each step's result is then
applied and the step marked done in one transaction.

Events (outbox): workflow.started (first payment attempt), workflow.completed (progress
updated), workflow.failed and workflow.compensation_triggered.

Where it lives:
    steps         the steps' names, order and labels; the SagaStep rows (planned, moved,
                  read: provisioning_done, compensating); what a step definition is
    charge        the charge, run in the checkout request (apps.orders.services.checkout)
    runner        running it: saga_enqueue / saga_run (task saga_start), one step at a time
                  with retries, saga_compensate, the sweep that resumes stalled sagas, and
                  STEPS, the definition of every step run by a task
    provisioning  X-Series account, locations and licences; Lightspeed Payments account
    hardware      the hardware orders and the shipments they announce
    completion    the confirmation email and the onboarding progress update
    compensation  the undo steps: cancel the hardware, refund, tell the merchant
    payloads      what the steps send to the providers (merchant, addresses, email)
"""
