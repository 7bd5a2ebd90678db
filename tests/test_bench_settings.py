"""bin/bench's settings and URLs: the benchmark adds its hello-world view through its own
urlconf; the product never serves it. No gunicorn is started here."""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.test import override_settings
from django.urls import Resolver404, resolve

HELLO = "/__bench__/hello/"


@pytest.mark.django_db
@override_settings(ROOT_URLCONF="config.urls_bench")
def test_bench_urlconf_serves_hello_world_and_the_product(client):
    for method in (client.get, client.post):
        response = method(HELLO)
        assert response.status_code == 200
        assert response.content == b"ok"
    # The product's pages are there too, with their own behaviour.
    assert client.get("/accounts/login/").status_code == 200
    assert client.get("/staff/leads/").status_code == 302  # to the login page
    assert client.post("/api/v1/leads", {}, content_type="application/json").status_code == 401


@pytest.mark.django_db
def test_product_has_no_bench_url(client):
    assert settings.ROOT_URLCONF == "config.urls"
    with pytest.raises(Resolver404):
        resolve(HELLO, urlconf="config.urls")
    assert client.get(HELLO).status_code == 404


def test_bench_settings_run_with_debug_off_and_the_bench_urlconf():
    """Imported in a fresh process, with the secrets bin/bench puts in its environment."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    env["DJANGO_SECRET_KEY"] = "bench-test-secret"
    for provider in settings.WEBHOOK_PROVIDERS:
        env[f"WEBHOOK_SECRET_{provider.upper()}"] = f"bench-test-{provider}"
    code = (
        "import json; from config import settings_bench as s; "
        "print(json.dumps([s.DEBUG, s.ROOT_URLCONF, s.ALLOWED_HOSTS, s.SECURE_SSL_REDIRECT]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(out.strip().splitlines()[-1]) == [
        False,
        "config.urls_bench",
        ["127.0.0.1"],
        False,
    ]
