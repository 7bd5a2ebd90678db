"""Security headers read from real responses: Content-Security-Policy (django-csp),
Permissions-Policy, and no caching of what signed-in users see."""

import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from apps.core.middleware import SIGNED_IN_CACHE_CONTROL
from tests.accounts.factories import AeUserFactory, MerchantUserFactory, OpsUserFactory

pytestmark = pytest.mark.django_db


def policy(response) -> dict[str, list[str]]:
    directives = {}
    for directive in response["Content-Security-Policy"].split(";"):
        name, *values = directive.split()
        directives[name] = values
    return directives


def test_pages_forbid_inline_script_inline_style_and_eval(client):
    csp = policy(client.get(reverse("accounts:login")))

    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["form-action"] == ["'self'"]


def test_the_ops_dashboard_charts_keep_their_styles_through_the_nonce(client):
    client.force_login(OpsUserFactory())

    response = client.get(reverse("progress:ops_dashboard"))

    csp = policy(response)
    assert csp["script-src"] == ["'self'"]
    (nonce,) = [value[7:-1] for value in csp["style-src"] if value.startswith("'nonce-")]
    styles = re.findall(r"<style([^>]*)>", response.text)
    assert len(styles) == 4
    assert all(f'nonce="{nonce}"' in attributes for attributes in styles)
    assert " style=" not in response.text


def test_htmx_is_configured_without_eval_or_injected_styles(client):
    page = client.get(reverse("accounts:login")).text

    meta = re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", page)
    assert json.loads(meta.group(1)) == {"allowEval": False, "includeIndicatorStyles": False}
    # The config must be in the page before htmx reads it.
    assert page.index('name="htmx-config"') < page.index("htmx-2.min.js")


def test_every_response_turns_off_browser_features_nobody_uses(client):
    anonymous = client.get(reverse("accounts:login"))
    client.force_login(MerchantUserFactory())
    signed_in = client.get(reverse("accounts:home"), follow=True)

    for response in (anonymous, signed_in):
        features = response["Permissions-Policy"]
        for feature in ("camera=()", "microphone=()", "geolocation=()", "payment=()"):
            assert feature in features


def test_what_a_signed_in_user_sees_is_never_cached(client):
    client.force_login(AeUserFactory())

    response = client.get(reverse("leads:staff_lead_list"))

    assert response.status_code == 200
    assert response["Cache-Control"] == SIGNED_IN_CACHE_CONTROL


def test_a_view_that_sets_its_own_cache_control_keeps_it(client):
    client.force_login(OpsUserFactory())

    response = client.get(reverse("admin:index"))

    # The admin's never_cache, untouched.
    assert "must-revalidate" in response["Cache-Control"]
    assert "no-store" in response["Cache-Control"]


def test_the_api_docs_allow_their_own_styles_but_still_no_inline_script(client):
    response = client.get(reverse("api-docs"))

    csp = policy(response)
    assert csp["script-src"] == ["'self'"]
    assert "'unsafe-inline'" in csp["style-src"]
    scripts = re.findall(r"<script([^>]*)>", response.text)
    assert scripts
    assert all("src=" in attributes for attributes in scripts)
    start_up = client.get(reverse("api-docs") + "?script=")
    assert start_up["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in start_up.text


INLINE = {
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    "style element": re.compile(r"<style\b", re.IGNORECASE),
    "style attribute": re.compile(r"\sstyle=", re.IGNORECASE),
    "event handler attribute": re.compile(r"\son[a-z]+=", re.IGNORECASE),
    "hx-on (needs eval)": re.compile(r"\bhx-on"),
    "hx-trigger filter (needs eval)": re.compile(r"hx-trigger=\"[^\"]*\["),
}


def test_no_template_relies_on_what_the_policy_forbids():
    found = []
    for path in sorted(Path(settings.BASE_DIR, "templates").rglob("*.html")):
        text = path.read_text()
        found += [
            f"{path.name}: {what}" for what, pattern in INLINE.items() if pattern.search(text)
        ]

    assert found == []
