"""Absolute links for emails, which are read away from any request.

They are rooted at the PORTAL_BASE_URL setting when it is set, so a forged Host header can
never point an emailed link (account, verification, reset) elsewhere; else at the address
the visitor used (`base_url`, from request_base_url); else at the development address."""

from django.conf import settings

DEFAULT_BASE_URL = "http://localhost:8000"


def absolute_url(path: str, *, base_url: str = "") -> str:
    base = (settings.PORTAL_BASE_URL or base_url or DEFAULT_BASE_URL).rstrip("/")
    return base + path


def request_base_url(request) -> str:
    """This site's address as the visitor reached it."""
    return request.build_absolute_uri("/").rstrip("/")
