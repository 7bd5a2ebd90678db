"""Absolute links for emails, which are read away from any request: rooted at the address
the visitor used when there was a request (`base_url`), else at the PORTAL_BASE_URL setting."""

from django.conf import settings

DEFAULT_BASE_URL = "http://127.0.0.1:8000"


def absolute_url(path: str, *, base_url: str = "") -> str:
    base = (base_url or settings.PORTAL_BASE_URL or DEFAULT_BASE_URL).rstrip("/")
    return base + path


def request_base_url(request) -> str:
    """This site's address as the visitor reached it."""
    return request.build_absolute_uri("/").rstrip("/")
