"""Hardware shipments: their transitions, the carrier's tracking applied to them (idempotent,
tolerant of reports out of order), and the order's fulfilment, which follows its shipments
(order_fulfillment_refresh, also called by the saga once provisioning is done)."""

import logging

from django.db import transaction

from apps.integrations.outbox import transition_perform
from apps.orders import selectors
from apps.orders.models.catalog import ItemType
from apps.orders.models.order import ItemFulfillmentStatus, Order, OrderStatus
from apps.orders.models.shipment import HardwareShipment, ShipmentStatus
from apps.orders.saga.steps import provisioning_done
from apps.orders.services.transitions import (
    order_activate,
    order_item_fulfill,
    order_mark_delivered,
    order_mark_shipped,
)

logger = logging.getLogger(__name__)


def _shipment(shipment: HardwareShipment, transition: str, *, actor, params=None, note=""):
    return transition_perform(
        shipment,
        transition,
        actor=actor,
        reason=f"shipment_{transition}" + (f": {note}" if note else ""),
        event_type=f"shipment.{transition}",
        payload={"order_id": str(shipment.order_id), "tracking": shipment.tracking_number},
        params=params,
    )


def shipment_process(*, shipment: HardwareShipment, actor=None) -> HardwareShipment:
    return _shipment(shipment, "process", actor=actor)


def shipment_ship(
    *, shipment: HardwareShipment, tracking_number: str = "", carrier: str = "", actor=None
) -> HardwareShipment:
    return _shipment(
        shipment,
        "ship",
        actor=actor,
        params={"tracking_number": tracking_number, "carrier": carrier},
    )


def shipment_mark_in_transit(*, shipment: HardwareShipment, actor=None) -> HardwareShipment:
    return _shipment(shipment, "mark_in_transit", actor=actor)


def shipment_deliver(*, shipment: HardwareShipment, actor=None) -> HardwareShipment:
    return _shipment(shipment, "deliver", actor=actor)


def shipment_fail_delivery(
    *, shipment: HardwareShipment, reason: str, actor=None
) -> HardwareShipment:
    return _shipment(shipment, "fail_delivery", actor=actor, params={"reason": reason}, note=reason)


def shipment_mark_returned(*, shipment: HardwareShipment, actor=None) -> HardwareShipment:
    return _shipment(shipment, "mark_returned", actor=actor)


def shipment_cancel(*, shipment: HardwareShipment, actor=None) -> HardwareShipment:
    return _shipment(shipment, "cancel", actor=actor)


# --- Shipment tracking ------------------------------------------------------------------------

S = ShipmentStatus
# The carrier's normal path; a status further along implies the ones before it.
_TRACKING_PATH = [S.PENDING, S.PROCESSING, S.SHIPPED, S.IN_TRANSIT]
_TRACKING_TRANSITION = {
    S.PROCESSING: "process",
    S.SHIPPED: "ship",
    S.IN_TRANSIT: "mark_in_transit",
    S.DELIVERED: "deliver",
    S.FAILED_DELIVERY: "fail_delivery",
    S.RETURNED: "mark_returned",
    S.CANCELLED: "cancel",
}
# Replaying stored tracking in this order gives the furthest state whatever order it came in.
TRACKING_RANK = {
    S.PENDING: 0,
    S.PROCESSING: 1,
    S.SHIPPED: 2,
    S.IN_TRANSIT: 3,
    S.FAILED_DELIVERY: 4,
    S.DELIVERED: 5,
    S.RETURNED: 6,
    S.CANCELLED: 7,
}


def tracking_path(current: str, target: str) -> list[str] | None:
    """The states a shipment passes through to get from `current` to the reported `target`:
    [] when it is already there (a duplicate), None when the report is stale or impossible
    (ignored). Tracking may skip states ("delivered" before "in transit" arrived): the states
    in between are filled in, since the carrier cannot deliver what it never shipped."""
    if target == current:
        return []
    if target in _TRACKING_PATH:
        if current not in _TRACKING_PATH:
            return None
        start, end = _TRACKING_PATH.index(current), _TRACKING_PATH.index(target)
        return _TRACKING_PATH[start + 1 : end + 1] if start < end else None
    if target in (S.DELIVERED, S.FAILED_DELIVERY):
        if current in (S.PENDING, S.PROCESSING):
            return [*tracking_path(current, S.SHIPPED), target]
        if current in (S.SHIPPED, S.IN_TRANSIT):
            return [target]
        if current == S.FAILED_DELIVERY and target == S.DELIVERED:
            return [S.IN_TRANSIT, S.DELIVERED]  # delivered at a second attempt
        return None
    if target == S.RETURNED:
        return [S.RETURNED] if current in (S.FAILED_DELIVERY, S.DELIVERED) else None
    if target == S.CANCELLED:
        return [S.CANCELLED] if current in (S.PENDING, S.PROCESSING) else None
    return None


def _shipment_move(shipment: HardwareShipment, target: str, *, reason: str, tracking, carrier):
    if target == S.SHIPPED:
        return shipment_ship(shipment=shipment, tracking_number=tracking, carrier=carrier)
    if target == S.FAILED_DELIVERY:
        return shipment_fail_delivery(
            shipment=shipment, reason=reason or "The carrier could not deliver."
        )
    return _shipment(shipment, _TRACKING_TRANSITION[target], actor=None)


def shipment_tracking_apply(
    *,
    shipment_ref: str,
    status: str,
    reason: str = "",
    tracking_number: str = "",
    carrier: str = "",
) -> HardwareShipment | None:
    """Apply one tracking report from the hardware provider. Idempotent and tolerant of
    reports arriving twice or out of order: a duplicate or stale report changes nothing (a
    log line says so). A failed delivery raises a delivery_failed alert for the IC queue;
    the order's status follows its shipments."""
    from apps.progress.services import alert_raise_delivery_failed

    if status not in TRACKING_RANK:
        logger.warning("Shipment %s: unknown tracking status %r ignored.", shipment_ref, status)
        return None
    with transaction.atomic():
        shipment = (
            HardwareShipment.objects.select_for_update()
            .select_related("merchant", "merchant__lead")
            .filter(shipping_provider_id=shipment_ref)
            .first()
            if shipment_ref
            else None
        )
        if shipment is None:
            # Tracking can outrun the hardware order's own bookkeeping: the report stays in
            # the webhook inbox and is replayed once the shipment is recorded.
            logger.info("Tracking %r for unknown shipment %s: kept.", status, shipment_ref)
            return None
        path = tracking_path(shipment.shipment_status, status)
        if not path:
            logger.info(
                "Shipment %s is %s: tracking %r ignored (%s).",
                shipment_ref,
                shipment.shipment_status,
                status,
                "duplicate" if path == [] else "stale or impossible",
            )
            return shipment
        for target in path:
            _shipment_move(
                shipment,
                target,
                reason=reason,
                tracking=tracking_number,
                carrier=carrier,
            )
        if shipment.shipment_status == S.FAILED_DELIVERY:
            alert_raise_delivery_failed(shipment=shipment)
        if shipment.shipment_status == S.DELIVERED:
            _hardware_items_fulfill(shipment)
        order_fulfillment_refresh(order=shipment.order)
    return shipment


def _hardware_items_fulfill(shipment: HardwareShipment) -> None:
    items = shipment.order.items.filter(
        item_type=ItemType.HARDWARE,
        location_id=shipment.location_id,
        fulfillment_status=ItemFulfillmentStatus.PENDING,
    )
    for item in items:
        order_item_fulfill(item=item)


def shipment_tracking_replay(*, shipment: HardwareShipment) -> HardwareShipment:
    """Apply every tracking report stored for this shipment, furthest last (after the
    shipment row is created, for reports that arrived before it)."""
    reports = selectors.tracking_reports(shipment_ref=shipment.shipping_provider_id)
    for report in sorted(reports, key=lambda data: TRACKING_RANK.get(data.get("status"), -1)):
        shipment_tracking_apply(
            shipment_ref=shipment.shipping_provider_id,
            status=report.get("status"),
            reason=report.get("reason") or "",
            tracking_number=report.get("tracking_number") or "",
            carrier=report.get("carrier") or "",
        )
    shipment.refresh_from_db()
    return shipment


def order_fulfillment_refresh(*, order: Order) -> Order:
    """The order follows its shipments (hardware ordered → shipped → delivered) and is
    activated once delivered (or paid, without hardware) and provisioned."""
    with transaction.atomic():
        order = Order.objects.select_for_update().select_related("merchant").get(pk=order.pk)
        statuses = [
            status
            for status in order.shipments.values_list("shipment_status", flat=True)
            if status != S.CANCELLED
        ]
        if order.status == OrderStatus.HARDWARE_ORDERED and any(
            TRACKING_RANK[status] >= TRACKING_RANK[S.SHIPPED] for status in statuses
        ):
            order_mark_shipped(order=order)
        if (
            order.status == OrderStatus.SHIPPED
            and statuses
            and all(status == S.DELIVERED for status in statuses)
        ):
            order_mark_delivered(order=order)
        ready = order.status == OrderStatus.DELIVERED or (
            order.status == OrderStatus.PAID and not order.has_hardware()
        )
        if ready and provisioning_done(order=order):
            order_activate(order=order)
    return order
