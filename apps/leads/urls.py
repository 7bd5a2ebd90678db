"""Lead routes. `urlpatterns` are pages (mounted at the site root): the public Get started
form and the staff lead pages under /staff/leads/. `api_urlpatterns` are the lead API
(mounted under /api/v1/)."""

from django.urls import path

from apps.leads import apis, views

app_name = "leads"

urlpatterns = [
    path("get-started/", views.get_started, name="get_started"),
    path("get-started/thanks/", views.get_started_thanks, name="get_started_thanks"),
    path("staff/leads/", views.staff_lead_list, name="staff_lead_list"),
    path("staff/leads/<uuid:lead_id>/", views.staff_lead_detail, name="staff_lead_detail"),
    path(
        "staff/leads/<uuid:lead_id>/cohort/",
        views.staff_lead_cohort_override,
        name="staff_lead_cohort_override",
    ),
]

api_urlpatterns = [
    path("leads", apis.LeadCaptureApi.as_view(), name="lead_capture"),
    path("leads/profile", apis.LeadProfileApi.as_view(), name="lead_profile"),
    path("leads/<uuid:lead_id>/cohort", apis.LeadCohortApi.as_view(), name="lead_cohort"),
]
