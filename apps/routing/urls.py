"""Queue screens (mounted under /staff/ in config/urls.py)."""

from django.urls import path

from apps.routing import views

app_name = "routing"

urlpatterns = [
    path("queues/", views.queue_index, name="queue_index"),
    path("queues/<slug:code>/", views.queue_detail, name="queue_detail"),
    path("queues/<slug:code>/claim-next/", views.queue_claim_next, name="claim_next"),
    path(
        "queues/<slug:code>/items/<uuid:assignment_id>/",
        views.item_detail,
        name="item_detail",
    ),
    path(
        "queues/<slug:code>/items/<uuid:assignment_id>/<slug:action>/",
        views.assignment_action,
        name="assignment_action",
    ),
]

# DRF endpoints under /api/v1/ (mounted in config/urls.py).
api_urlpatterns: list = []
