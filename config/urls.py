from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from apps.core.apis import NotFoundApi
from apps.integrations.urls import api_urlpatterns as integrations_api
from apps.leads.urls import api_urlpatterns as leads_api
from apps.orders.urls import api_urlpatterns as orders_api

# Swagger UI and Redoc write <style> elements and style attributes themselves, and Redoc runs
# its search in a worker made from a blob: their pages alone allow that. Scripts stay 'self'
# only: the split Swagger view serves its start-up script as a file instead of inline.
api_docs_csp = csp_update({"style-src": [SELF, UNSAFE_INLINE], "worker-src": [SELF, "blob:"]})

urlpatterns = [
    path("admin/", admin.site.urls),
    # API (DRF) with its OpenAPI schema and docs, served without any CDN.
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "api/v1/docs/",
        api_docs_csp(SpectacularSwaggerSplitView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
    path(
        "api/v1/redoc/",
        api_docs_csp(
            SpectacularRedocView.as_view(url_name="api-schema", template_name="api/redoc.html")
        ),
        name="api-redoc",
    ),
    path("api/v1/", include((integrations_api, "integrations_api"))),
    path("api/v1/", include((leads_api, "leads_api"))),
    path("api/v1/", include((orders_api, "orders_api"))),
    re_path(r"^api/", NotFoundApi.as_view(), name="api-not-found"),
    # Staff pages.
    path("staff/ops/integrations/", include("apps.integrations.urls")),
    path("staff/compliance/", include("apps.compliance.urls")),
    path("staff/", include("apps.staff.urls")),
    path("staff/", include("apps.routing.urls")),
    path("staff/", include("apps.progress.urls")),
    # Merchant pages.
    path("", include("apps.leads.urls")),
    path("", include("apps.merchants.urls")),
    path("", include("apps.orders.urls")),
    path("", include("apps.accounts.urls")),
]
