"""What the orders app does with inbound webhooks and outbox events. Imported at startup
(OrdersConfig.ready); every handler is idempotent (delivery is at least once)."""

import logging

from apps.integrations import registry
from apps.integrations.inbox import handles_webhook

logger = logging.getLogger(__name__)


@handles_webhook("hardware", "shipment.status")
def shipment_status_received(webhook) -> None:
    """The supplier's tracking for one shipment: applied once, stale or repeated reports
    ignored (apps.orders.services.shipments.shipment_tracking_apply)."""
    from apps.orders.services.shipments import shipment_tracking_apply

    data = webhook.payload.get("data") if isinstance(webhook.payload, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("shipment_ref"), str):
        logger.warning("shipment.status %s without a shipment_ref: ignored.", webhook.external_id)
        return
    shipment_tracking_apply(
        shipment_ref=data["shipment_ref"],
        status=str(data.get("status") or ""),
        reason=str(data.get("reason") or ""),
        tracking_number=str(data.get("tracking_number") or ""),
        carrier=str(data.get("carrier") or ""),
    )


@registry.handles("order.quote_generated")
def quote_sent_by_ae(event) -> None:
    """An AE's quote goes to the merchant by email, with the link to review and accept it
    (the event id is the idempotency key: a redelivery sends nothing new)."""
    from apps.orders.services.quotes import order_quote_notify

    order_quote_notify(order_id=event.aggregate_id, idempotency_key=str(event.pk))


@registry.handles("shipment.ship")
def hardware_shipped_email(event) -> None:
    """The merchant hears that the hardware shipped, with the tracking number and a step
    link to the hardware setup (once per event)."""
    from apps.merchants.emails import HARDWARE_SHIPPED_OUTCOME, merchant_outcome_email_send
    from apps.orders.models import HardwareShipment

    shipment = HardwareShipment.objects.select_related("merchant").filter(pk=event.aggregate_id)
    shipment = shipment.first()
    if shipment is None:
        return
    carrier = shipment.shipping_carrier or "the carrier"
    tracking = (
        f" Tracking number ({carrier}): {shipment.tracking_number}."
        if shipment.tracking_number
        else ""
    )
    merchant_outcome_email_send(
        merchant=shipment.merchant,
        outcome=HARDWARE_SHIPPED_OUTCOME,
        idempotency_key=f"{event.pk}:{HARDWARE_SHIPPED_OUTCOME}",
        tracking=tracking,
    )
