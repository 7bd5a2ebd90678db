"""Integration routes. `urlpatterns` are the ops pages (mounted under /staff/ops/integrations/);
`api_urlpatterns` are the inbound webhook API (mounted under /api/v1/)."""

from django.urls import path

from apps.integrations import apis, views

app_name = "integrations"

urlpatterns = [
    path("", views.ops_console, name="ops_console"),
    path("syncs/<uuid:sync_id>/retry/", views.sync_retry, name="sync_retry"),
    path("stuck/<slug:kind>/retry/", views.stuck_retry, name="stuck_retry"),
]

api_urlpatterns = [
    path(
        "webhooks/<str:provider>/",
        apis.WebhookReceiveApi.as_view(),
        name="webhook_receive",
    ),
]
