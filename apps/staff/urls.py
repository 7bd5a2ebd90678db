"""Staff workspace pages (mounted at /staff/ in config/urls.py, namespace "staff")."""

from django.urls import path

from apps.staff import views

app_name = "staff"

urlpatterns = [
    path("", views.home, name="home"),
    path("merchants/<uuid:merchant_id>/", views.merchant_detail, name="merchant"),
    path(
        "merchants/<uuid:merchant_id>/actions/<slug:action>/",
        views.merchant_action,
        name="merchant_action",
    ),
]
