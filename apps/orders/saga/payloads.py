"""What the saga's steps send to the providers: the provider itself, the merchant and its
addresses, the merchant's email. Shared by the provisioning, hardware, completion and
compensation steps."""

from apps.orders.models.order import Order


def _provider(system: str):
    from apps.integrations.providers import get_provider

    return get_provider(system)


def _merchant_payload(merchant) -> dict:
    return {
        "merchant_id": str(merchant.pk),
        "legal_name": merchant.legal_business_name,
        "structure": merchant.business_structure,
        "address": _registered_address(merchant),
    }


def _registered_address(merchant) -> dict:
    return {
        "line1": merchant.registered_address_line1,
        "line2": merchant.registered_address_line2,
        "city": merchant.registered_city,
        "state": merchant.registered_state,
        "postal_code": merchant.registered_postal_code,
        "country": merchant.registered_country or "US",
    }


def _location_address(location) -> dict:
    return {
        "line1": location.address_line1,
        "line2": location.address_line2,
        "city": location.city,
        "state": location.state,
        "postal_code": location.postal_code,
        "country": location.country or "US",
    }


def _merchant_email(order: Order) -> str:
    merchant = order.merchant
    user = merchant.user if merchant.user_id else None
    return user.email if user else merchant.lead.email
