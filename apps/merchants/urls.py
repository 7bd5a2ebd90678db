from apps.merchants.urls_onboarding import urlpatterns as onboarding
from apps.merchants.urls_setup import urlpatterns as setup

app_name = "merchants"

# Steps 2-3 and the account (urls_onboarding), steps 7-10 (urls_setup).
urlpatterns = [*onboarding, *setup]

api_urlpatterns: list = []
