"""Steps 2-3 and the dashboard (mounted at the site root, namespace "merchants")."""

from django.urls import path

from apps.merchants.views import dashboard, kyb, onboarding, step_links

urlpatterns = [
    path("account/create/", onboarding.account_create, name="account_create"),
    path(
        "account/verification/resend/",
        onboarding.account_verify_resend,
        name="account_verify_resend",
    ),
    path("account/verify/<str:token>/", onboarding.account_verify, name="account_verify"),
    path("dashboard/", dashboard.dashboard, name="dashboard"),
    path("dashboard/call/", dashboard.call_request, name="call_request"),
    path("kyb/", kyb.kyb, name="kyb"),
    # The link in every email to a merchant, back into a step (apps.core.links).
    path("continue/<str:token>/", step_links.step_link, name="step_link"),
]
