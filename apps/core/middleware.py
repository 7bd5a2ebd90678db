"""Middleware of the ground: requests refused before any view runs, and response headers
that django-csp and Django's SecurityMiddleware do not send.

- RefuseNulMiddleware: a NUL character anywhere in a request is a 400 that says why.
- FailureAnswersMiddleware: a state-machine row changed by someone else in the meantime is a
  409 that says so; the database briefly away is a 503 with Retry-After, never a 500.
- Permissions-Policy (settings.PERMISSIONS_POLICY) on every response: the portal uses no
  camera, microphone, location, payment or other powerful browser feature, so a script that
  got in could not either.
- `Cache-Control: private, no-store` on every response to a signed-in user, so merchant and
  staff data stay out of shared caches and of the browser's disk cache (the back button on a
  shared computer after sign-out). A view that set its own Cache-Control keeps it.
"""

import logging

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django_fsm import ConcurrentTransition

from apps.core.fsm import CHANGED_MEANWHILE

logger = logging.getLogger(__name__)

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


DATABASE_AWAY = "The service is briefly unavailable. Please try again in a few seconds."
RETRY_AFTER_SECONDS = 5


class FailureAnswersMiddleware:
    """Failures a client can act on, answered as such instead of a 500: a save from a stale
    copy of a state-machine row (two clicks, two people) is a 409 saying to reload; the
    database unreachable or a deadlock victim is a 503 with Retry-After. The 503 is built
    without the database (no session, no context processors)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, ConcurrentTransition):
            message = CHANGED_MEANWHILE.format(noun="record")
            if is_api_request(request):
                return JsonResponse({"detail": message}, status=409)
            return render(request, BAD_REQUEST_TEMPLATE, {"message": message}, status=409)
        if isinstance(exception, (OperationalError, InterfaceError)):
            logger.warning("Answered 503: %s: %s", type(exception).__name__, exception)
            if is_api_request(request):
                response = JsonResponse({"detail": DATABASE_AWAY}, status=503)
            else:
                body = render_to_string("core/unavailable.html", {"message": DATABASE_AWAY})
                response = HttpResponse(body, status=503)
            response["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return response
        return None
