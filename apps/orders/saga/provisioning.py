"""The provisioning steps, run in parallel after the charge: the Lightspeed X-Series account
(one location per business location, the licences) and the Lightspeed Payments account.
Each call is keyed by step_key, so a step run again makes no second remote effect."""

from apps.integrations.providers.base import PermanentError
from apps.orders.models.catalog import ItemType
from apps.orders.models.order import ItemFulfillmentStatus, Order
from apps.orders.saga.payloads import (
    _location_address,
    _merchant_payload,
    _provider,
    _registered_address,
)
from apps.orders.saga.steps import PAYMENTS_ACCOUNT, X_SERIES, StepDefinition, step_key
from apps.orders.services.transitions import order_item_fulfill

# X-Series: account, one location per business location, licences.


def _x_series_call(order: Order) -> dict:
    from apps.merchants.choices import CheckStatus

    merchant = order.merchant
    merchant.refresh_from_db()
    if merchant.kyb_status != CheckStatus.APPROVED:
        raise PermanentError("business verification (KYB) is not approved", code="kyb_required")
    x_series = _provider("x_series")
    account_id = (
        merchant.x_series_account_id
        or x_series.create_account(
            idempotency_key=step_key(order, X_SERIES, "account"),
            merchant=_merchant_payload(merchant),
        )["account_id"]
    )
    targets = [
        (str(location.pk), {"name": str(location), **_location_address(location)})
        for location in merchant.locations.order_by("location_number")
    ] or [("registered", {"name": merchant.legal_business_name, **_registered_address(merchant)})]
    location_ids = {
        key: x_series.create_location(
            idempotency_key=step_key(order, X_SERIES, "location", key),
            account_id=account_id,
            location=payload,
        )["location_id"]
        for key, payload in targets
    }
    licensed = list(
        order.items.filter(item_type__in=[ItemType.SOFTWARE_LICENSE, ItemType.ADD_ON]).order_by(
            "created_at", "product_name"
        )
    )
    licence_ids = x_series.allocate_licences(
        idempotency_key=step_key(order, X_SERIES, "licences"),
        account_id=account_id,
        licences=[
            {"sku": item.product_sku, "quantity": item.quantity, "location_id": None}
            for item in licensed
        ],
    )["licence_ids"]
    return {"account_id": account_id, "location_ids": location_ids, "licence_ids": licence_ids}


def _x_series_apply(order: Order, result: dict) -> None:
    from apps.merchants.services.external_ids import merchant_external_ids_set

    merchant_external_ids_set(merchant=order.merchant, x_series_account_id=result["account_id"])
    licence_ids = iter(result.get("licence_ids", []))
    items = order.items.filter(item_type__in=[ItemType.SOFTWARE_LICENSE, ItemType.ADD_ON]).order_by(
        "created_at", "product_name"
    )
    for item in items:
        first = next(licence_ids, "")
        for _ in range(item.quantity - 1):
            next(licence_ids, "")
        if item.fulfillment_status == ItemFulfillmentStatus.PENDING:
            item.x_series_license_id = first
            order_item_fulfill(item=item)


# Payments account.


def _payments_call(order: Order) -> dict:
    merchant = order.merchant
    merchant.refresh_from_db()
    account_id = (
        merchant.payments_account_id
        or _provider("payments").create_account(
            idempotency_key=step_key(order, PAYMENTS_ACCOUNT, "account"),
            merchant=_merchant_payload(merchant),
        )["account_id"]
    )
    return {"account_id": account_id}


def _payments_apply(order: Order, result: dict) -> None:
    from apps.merchants.services.external_ids import merchant_external_ids_set

    merchant_external_ids_set(merchant=order.merchant, payments_account_id=result["account_id"])


STEPS = {
    X_SERIES: StepDefinition(_x_series_call, _x_series_apply),
    PAYMENTS_ACCOUNT: StepDefinition(_payments_call, _payments_apply),
}
