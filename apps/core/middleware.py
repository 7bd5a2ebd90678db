"""Requests refused before any view runs."""

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
