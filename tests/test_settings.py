"""Production settings: what a deployment gets from its environment alone.

Each test starts `manage.py` in a fresh process, because settings are read once at import.
Values in the process environment win over the repository's `.env` (read with
overwrite=False), so every variable a developer's `.env` could set and that would change
the outcome is passed explicitly. No database is touched.
"""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from config.settings import dev_webhook_secret, webhook_secret_missing

MANAGE_PY = Path(settings.BASE_DIR) / "manage.py"

# Read by config/settings.py or set by config/settings_test.py in this process; none of
# them may reach the child from here.
_INHERITED = (
    "DJANGO_SETTINGS_MODULE",
    "DJANGO_DEBUG",
    "DJANGO_SECRET_KEY",
    "DJANGO_SECRET_KEY_FALLBACKS",
    "DJANGO_ALLOWED_HOSTS",
    "DJANGO_CSRF_TRUSTED_ORIGINS",
    "DJANGO_SECURE_SSL_REDIRECT",
    "DJANGO_SECURE_HSTS_SECONDS",
    "DATABASE_URL",
    "Q_SYNC",
    "Q_BROKER",
    "Q_CLUSTER_NAME",
    "INTEGRATIONS_MODE",
    *(f"INTEGRATIONS_MODE_{provider.upper()}" for provider in settings.WEBHOOK_PROVIDERS),
    *(f"WEBHOOK_SECRET_{provider.upper()}" for provider in settings.WEBHOOK_PROVIDERS),
    "EMAIL_BACKEND",
    # Set by the browser tests' conftest; a deployment must not have it (async.W001).
    "DJANGO_ALLOW_ASYNC_UNSAFE",
)


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    child_env = {key: value for key, value in os.environ.items() if key not in _INHERITED}
    child_env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    child_env.update(env)
    return subprocess.run(
        [sys.executable, str(MANAGE_PY), *args],
        cwd=MANAGE_PY.parent,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _webhook_secrets(**overrides: str) -> dict[str, str]:
    """A random secret per provider, as a deployment sets them."""
    secrets_by_name = {
        f"WEBHOOK_SECRET_{provider.upper()}": secrets.token_urlsafe(32)
        for provider in settings.WEBHOOK_PROVIDERS
    }
    return {**secrets_by_name, **overrides}


def test_production_settings_pass_the_deploy_checks(tmp_path):
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env={
            "DJANGO_DEBUG": "False",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            # Empty: a weak fallback key in a developer's .env would fail security.W025.
            "DJANGO_SECRET_KEY_FALLBACKS": "",
            "DJANGO_ALLOWED_HOSTS": "portal.example.com",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy-check.sqlite3'}",
            **_webhook_secrets(),
        },
    )

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = _manage(
        "check",
        env={
            "DJANGO_DEBUG": "False",
            # Set but empty rather than absent, so a DJANGO_SECRET_KEY in .env cannot fill
            # it in; the settings treat both the same way.
            "DJANGO_SECRET_KEY": "",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'no-secret.sqlite3'}",
        },
    )

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


@pytest.mark.parametrize("mode", ["sandbox", "http"])
def test_production_refuses_to_start_without_each_webhook_secret(tmp_path, mode):
    # Sandbox providers too: the dev default is public, and with it anyone can sign a
    # webhook that approves a KYB under review.
    result = _manage(
        "check",
        env={
            "DJANGO_DEBUG": "False",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'no-webhook-secret.sqlite3'}",
            "INTEGRATIONS_MODE": mode,
            # Empty rather than absent, so a value in .env cannot fill it in.
            **_webhook_secrets(WEBHOOK_SECRET_PAYMENTS=""),
        },
    )

    assert result.returncode != 0
    assert webhook_secret_missing("WEBHOOK_SECRET_PAYMENTS") in result.stderr


def test_production_refuses_the_public_development_webhook_secret(tmp_path):
    result = _manage(
        "check",
        env={
            "DJANGO_DEBUG": "False",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'dev-webhook-secret.sqlite3'}",
            **_webhook_secrets(WEBHOOK_SECRET_CRM=dev_webhook_secret("crm")),
        },
    )

    assert result.returncode != 0
    assert webhook_secret_missing("WEBHOOK_SECRET_CRM") in result.stderr


@pytest.mark.parametrize("cluster_name", [None, "fault-run-1a2b3c"])
def test_the_periodic_jobs_run_whatever_the_queue_name(tmp_path, cluster_name):
    # django-q2's scheduler runs the seeded Schedule rows (no cluster of their own) only in a
    # cluster whose name is the site's name: a deployment with a queue of its own must still
    # run its sweeps.
    env = {
        "DJANGO_DEBUG": "True",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'queue-name.sqlite3'}",
    }
    if cluster_name:
        env["Q_CLUSTER_NAME"] = cluster_name
    result = _manage(
        "shell",
        "-c",
        "from django_q.conf import Conf; print(Conf.CLUSTER_NAME, Conf.PREFIX)",
        env=env,
    )

    assert result.returncode == 0, result.stderr
    expected = cluster_name or "onboarding"
    assert result.stdout.splitlines()[-1].split() == [expected, expected]
