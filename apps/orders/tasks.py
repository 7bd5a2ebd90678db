"""django-q2 entry points of the purchase saga: take ids, call one function, safe to run
twice (delivery is at least once; a done saga step is never repeated)."""

from apps.orders.saga import runner


def saga_start(order_id: str):
    """Run, or resume, the saga of one paid order (also what a redelivered task does)."""
    order = runner.saga_run(order_id=order_id)
    return order.status if order else None


def saga_step_run(order_id: str, name: str):
    """One saga step: the parallel provisioning steps and every scheduled retry."""
    step = runner.saga_step_run(order_id=order_id, name=name)
    return step.status if step else None


def saga_sweep():
    """Scheduled "saga-sweep": resume the sagas nothing moves any more (a crashed worker, a
    lost start or retry task): apps/orders/saga/recovery.py."""
    from apps.core.recovery import recovery_run

    return recovery_run(key="sagas").recovered
