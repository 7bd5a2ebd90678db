from django.urls import path  # noqa: F401

app_name = "orders"

# Pages of this app (mounted in config/urls.py).
urlpatterns: list = []

# DRF endpoints under /api/v1/ (mounted in config/urls.py).
api_urlpatterns: list = []
