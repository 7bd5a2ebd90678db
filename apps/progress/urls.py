"""Staff pages of the progress app (mounted at /staff/, namespace "progress")."""

from django.urls import path

from apps.progress import views

app_name = "progress"

urlpatterns = [
    path("alerts/", views.alert_inbox, name="alert_inbox"),
    path("alerts/<uuid:alert_id>/claim/", views.alert_claim_view, name="alert_claim"),
    path("alerts/<uuid:alert_id>/note/", views.alert_note_view, name="alert_note"),
    path("alerts/<uuid:alert_id>/resolve/", views.alert_resolve_view, name="alert_resolve"),
    path("alerts/<uuid:alert_id>/dismiss/", views.alert_dismiss_view, name="alert_dismiss"),
    path("ops/", views.ops_dashboard, name="ops_dashboard"),
]

# DRF endpoints under /api/v1/ (mounted in config/urls.py).
api_urlpatterns: list = []
