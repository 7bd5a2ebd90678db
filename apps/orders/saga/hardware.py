"""The hardware step, after provisioning: one supplier order per ship-to (a location, or the
registered address), one HardwareShipment row per shipment the supplier announces; tracking
that arrived before the rows existed is applied afterwards."""

from apps.core.fsm import save_tracked
from apps.orders.models.catalog import ItemType
from apps.orders.models.order import Order, OrderStatus
from apps.orders.models.shipment import HardwareShipment
from apps.orders.saga.payloads import _location_address, _provider, _registered_address
from apps.orders.saga.steps import HARDWARE, StepDefinition, step_key
from apps.orders.services.shipments import order_fulfillment_refresh, shipment_tracking_replay
from apps.orders.services.transitions import order_mark_hardware_ordered


def _ship_to(order: Order, location) -> dict:
    merchant = order.merchant
    if location is not None:
        return {
            "name": location.location_name or merchant.legal_business_name,
            "phone": location.phone,
            **_location_address(location),
        }
    return {"name": merchant.legal_business_name, "phone": "", **_registered_address(merchant)}


def _hardware_groups(order: Order) -> dict[str, tuple]:
    groups: dict[str, tuple] = {}
    items = order.items.filter(item_type=ItemType.HARDWARE).select_related("location")
    for item in items.order_by("created_at", "product_name"):
        key = str(item.location_id) if item.location_id else "registered"
        groups.setdefault(key, (item.location, []))[1].append(item)
    return groups


def _hardware_call(order: Order) -> dict:
    groups = _hardware_groups(order)
    hardware = _provider("hardware")
    placed = []
    for key, (location, items) in groups.items():
        ship_to = _ship_to(order, location)
        result = hardware.create_order(
            idempotency_key=step_key(order, HARDWARE, key),
            order={
                "order_id": str(order.pk),
                "order_number": order.order_number,
                "items": [{"sku": item.product_sku, "quantity": item.quantity} for item in items],
                "ship_to": ship_to,
            },
        )
        placed.append(
            {
                "ship_to_key": key,
                "location_id": str(location.pk) if location else None,
                "ship_to": ship_to,
                "hardware_order_id": result["hardware_order_id"],
                "shipments": result["shipments"],
            }
        )
    return {"hardware_orders": placed}


def _hardware_apply(order: Order, result: dict) -> None:

    placed = result.get("hardware_orders", [])
    if not placed:
        return
    order = Order.objects.select_for_update().get(pk=order.pk)
    for hardware_order in placed:
        location_id = hardware_order["location_id"]
        items = order.items.filter(item_type=ItemType.HARDWARE, location_id=location_id)
        for item in items:
            if item.hardware_order_item_id != hardware_order["hardware_order_id"]:
                item.hardware_order_item_id = hardware_order["hardware_order_id"]
                save_tracked(item, actor=None, reason="saga hardware_order: supplier order id")
        ship_to = hardware_order["ship_to"]
        for announced in hardware_order["shipments"]:
            if HardwareShipment.objects.filter(
                shipping_provider_id=announced["shipment_ref"]
            ).exists():
                continue
            shipment = HardwareShipment(
                order=order,
                merchant_id=order.merchant_id,
                location_id=location_id,
                shipping_provider_id=announced["shipment_ref"],
                tracking_number=announced.get("tracking_number") or "",
                shipping_carrier=announced.get("carrier") or "",
                shipping_method="standard",
                ship_to_name=ship_to["name"],
                ship_to_address_line1=ship_to["line1"],
                ship_to_address_line2=ship_to.get("line2") or "",
                ship_to_city=ship_to["city"],
                ship_to_state=ship_to["state"],
                ship_to_postal_code=ship_to["postal_code"],
                ship_to_country=ship_to.get("country") or "US",
                ship_to_phone=ship_to.get("phone") or "",
            )
            save_tracked(shipment, actor=None, reason="saga hardware_order: shipment announced")
    if order.status == OrderStatus.PAID:
        order_mark_hardware_ordered(order=order)


def _hardware_after(order: Order, result: dict) -> None:
    """Tracking that arrived before the shipment rows existed is applied now."""
    for shipment in HardwareShipment.objects.filter(order=order).order_by("created_at"):
        shipment_tracking_replay(shipment=shipment)
    order_fulfillment_refresh(order=order)


STEPS = {
    HARDWARE: StepDefinition(_hardware_call, _hardware_apply, _hardware_after),
}
