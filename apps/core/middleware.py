"""Response headers that django-csp and Django's SecurityMiddleware do not send.

- Permissions-Policy (settings.PERMISSIONS_POLICY) on every response: the portal uses no
  camera, microphone, location, payment or other powerful browser feature, so a script that
  got in could not either.
- `Cache-Control: private, no-store` on every response to a signed-in user, so merchant and
  staff data stay out of shared caches and of the browser's disk cache (the back button on a
  shared computer after sign-out). A view that set its own Cache-Control keeps it.
"""

from django.conf import settings

PERMISSIONS_POLICY_HEADER = "Permissions-Policy"
SIGNED_IN_CACHE_CONTROL = "private, no-store"


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault(PERMISSIONS_POLICY_HEADER, settings.PERMISSIONS_POLICY)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            response.headers.setdefault("Cache-Control", SIGNED_IN_CACHE_CONTROL)
        return response
