"""Step 8 as the data import page shows it: the latest imports and what they brought in."""

from apps.merchants.models import DataImport, Merchant

DATA_IMPORT_LIST_LIMIT = 20


def data_import_list(*, merchant: Merchant, limit: int = DATA_IMPORT_LIST_LIMIT):
    """The merchant's latest imports, newest first (one query)."""
    return list(
        DataImport.objects.filter(merchant=merchant).order_by("-created_at", "-pk")[:limit]
    )


def data_import_counts(*, merchant: Merchant) -> dict[str, int]:
    return {
        "products": merchant.imported_products.count(),
        "customers": merchant.imported_customers.count(),
    }
