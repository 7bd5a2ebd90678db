"""Test settings: the suite runs on PostgreSQL (DATABASE_URL overrides the default)."""

import os

os.environ.setdefault("DJANGO_DEBUG", "True")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/onboarding")
os.environ["Q_SYNC"] = "True"
os.environ["INTEGRATIONS_MODE"] = "sandbox"

from config.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405

# One test database per pytest process, so several runs (or xdist workers) never collide.
DATABASES["default"]["TEST"] = {  # noqa: F405
    "NAME": os.environ.get("TEST_DATABASE_NAME", f"test_onboarding_{os.getpid()}")
}
