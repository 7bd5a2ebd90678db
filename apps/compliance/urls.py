from django.urls import path

from apps.compliance import views

app_name = "compliance"

# Pages of this app (mounted at /staff/compliance/ in config/urls.py).
urlpatterns = [
    path("", views.review_list, name="review"),
    path("cases/<slug:kind>/<uuid:subject_id>/", views.case_detail, name="case"),
    path("cases/<slug:kind>/<uuid:subject_id>/decide/", views.case_decide, name="case_decide"),
    path("merchants/<uuid:merchant_id>/kyb/decide/", views.kyb_decide, name="kyb_decide"),
    path("merchants/<uuid:merchant_id>/audit/", views.merchant_audit, name="merchant_audit"),
    path("merchants/<uuid:merchant_id>/as-of/", views.merchant_as_of, name="merchant_as_of"),
    path("reveal/<slug:kind>/<uuid:subject_id>/", views.pii_reveal, name="reveal"),
    path("access-log/", views.access_log, name="access_log"),
    path("decisions/", views.decision_export, name="decisions"),
    path("operations/", views.operations, name="operations"),
]

# DRF endpoints under /api/v1/ (mounted in config/urls.py).
api_urlpatterns: list = []
