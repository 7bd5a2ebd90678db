"""Middleware of the ground: requests refused before any view runs, and response headers
that django-csp and Django's SecurityMiddleware do not send.

- RefuseNulMiddleware: a NUL character anywhere in a request is a 400 that says why.
- Permissions-Policy (settings.PERMISSIONS_POLICY) on every response: the portal uses no
  camera, microphone, location, payment or other powerful browser feature, so a script that
  got in could not either.
- `Cache-Control: private, no-store` on every response to a signed-in user, so merchant and
  staff data stay out of shared caches and of the browser's disk cache (the back button on a
  shared computer after sign-out). A view that set its own Cache-Control keeps it.
"""

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render

NUL_REFUSED = (
    "The request contains a NUL character (%00), which no address or field accepts: "
    "remove it and try again."
)
BAD_REQUEST_TEMPLATE = "core/bad_request.html"


def is_api_request(request) -> bool:
    return request.path_info.startswith("/api/")


def bad_request(request, message: str):
    """A 400 that says why: JSON `{"detail": ...}` under /api/, a page elsewhere."""
    if is_api_request(request):
        return JsonResponse({"detail": message}, status=400)
    return render(request, BAD_REQUEST_TEMPLATE, {"message": message}, status=400)


def _has_nul(query_dict) -> bool:
    return any(
        "\x00" in key or any("\x00" in value for value in values)
        for key, values in query_dict.lists()
    )


class RefuseNulMiddleware:
    """Refuses (400) a request with a NUL character in its path, its query string (raw
    `%00` or a decoded one) or its form fields. PostgreSQL can neither store text holding a
    NUL nor compare with it: a search box, an admin filter or a form field passing one to a
    query fails with a 500 wherever it is used, so it is refused once, here.

    Form fields are read where Django reads them anyway: views protected by CSRF, whose
    middleware reads the POST before the view. CSRF-exempt views (the DRF API, the signed
    webhooks) read their body themselves: reading a multipart form here would consume it
    before them. The API's JSON parser (apps.core.parsers) refuses NUL characters in its
    bodies. Uploaded files are not looked at: a file may hold any bytes."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path_info or _has_nul(request.GET):
            return bad_request(request, NUL_REFUSED)
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if getattr(view_func, "csrf_exempt", False):
            return None
        if request.method == "POST" and _has_nul(request.POST):
            return bad_request(request, NUL_REFUSED)
        return None


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
