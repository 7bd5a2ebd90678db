"""Order routes, mounted at the site root: the merchant's buying pages (steps 4-6 and their
orders) and the AE order pages under staff/orders/."""

from django.urls import path, register_converter

from apps.orders import views


class OrderNumberConverter:
    """Order numbers are letters, digits and dashes (ORD-2026-000123): anything else in the
    URL is a 404 before any query runs."""

    regex = r"[A-Za-z0-9][A-Za-z0-9-]{0,49}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(OrderNumberConverter, "order_number")

app_name = "orders"

urlpatterns = [
    # Merchant pages.
    path("quote/", views.quote, name="quote"),
    path("quote/preview/", views.quote_preview, name="quote_preview"),
    path("quote/<order_number:order_number>/accept/", views.quote_accept, name="quote_accept"),
    path("checkout/<order_number:order_number>/", views.checkout, name="checkout"),
    path("orders/", views.order_list, name="order_list"),
    path("orders/<order_number:order_number>/", views.order_detail, name="order_detail"),
    # AE pages.
    path("staff/orders/", views.staff_order_list, name="staff_order_list"),
    path(
        "staff/orders/new/<uuid:merchant_id>/", views.staff_quote_new, name="staff_quote_new"
    ),
    path(
        "staff/orders/new/<uuid:merchant_id>/preview/",
        views.staff_quote_preview,
        name="staff_quote_preview",
    ),
    path(
        "staff/orders/<order_number:order_number>/",
        views.staff_order_detail,
        name="staff_order_detail",
    ),
]

# DRF endpoints under /api/v1/ (mounted in config/urls.py).
api_urlpatterns: list = []
