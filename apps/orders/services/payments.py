"""Payment transitions (authorize, capture, fail, refund): each also mirrors the payment's
status on its order, in the same transaction. The billing provider is called by checkout and
the saga, never here."""

from django.db import transaction

from apps.integrations.outbox import transition_perform
from apps.orders.models.order import Order, OrderPaymentStatus
from apps.orders.models.payment import Payment


def _mirror_payment(order: Order, status: str) -> None:
    if order.payment_status != status:
        transition_perform(
            order,
            "mirror_payment_status",
            actor=None,
            reason=f"order payment status: {status}",
            params={"value": status},
        )


def _payment(payment: Payment, transition: str, *, actor, mirror: str, params=None, note=""):
    with transaction.atomic():
        transition_perform(
            payment,
            transition,
            actor=actor,
            reason=f"payment_{transition}" + (f": {note}" if note else ""),
            event_type=f"payment.{transition}",
            payload={"order_id": str(payment.order_id), "amount": str(payment.amount)},
            params=params,
        )
        _mirror_payment(payment.order, mirror)
    return payment


def payment_authorize(*, payment: Payment, actor=None, reference: str = "") -> Payment:
    return _payment(
        payment,
        "authorize",
        actor=actor,
        mirror=OrderPaymentStatus.AUTHORIZED,
        params={"reference": reference},
    )


def payment_capture(*, payment: Payment, actor=None) -> Payment:
    return _payment(payment, "capture", actor=actor, mirror=OrderPaymentStatus.CAPTURED)


def payment_fail(*, payment: Payment, reason: str, actor=None) -> Payment:
    return _payment(
        payment,
        "fail",
        actor=actor,
        mirror=OrderPaymentStatus.FAILED,
        params={"reason": reason},
        note=reason,
    )


def payment_refund(*, payment: Payment, actor=None, reference: str = "") -> Payment:
    return _payment(
        payment,
        "refund",
        actor=actor,
        mirror=OrderPaymentStatus.REFUNDED,
        params={"reference": reference},
    )
