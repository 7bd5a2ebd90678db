"""Settings of bin/bench: the product's settings as production runs them (DEBUG off), plus a
hello-world view to compare each page with.

bin/bench sets the secrets (DJANGO_SECRET_KEY, WEBHOOK_SECRET_<PROVIDER>) in the benchmark
process's environment, with throwaway values; config/settings.py refuses to start without
them. Nothing here may be used to serve real traffic.
"""

import os
import warnings

# DEBUG off whatever the developer's .env says: debug mode records every query and would make
# every page look slower than it is in production.
os.environ["DJANGO_DEBUG"] = "False"

from config.settings import *  # noqa: F403

ROOT_URLCONF = "config.urls_bench"
ALLOWED_HOSTS = ["127.0.0.1"]
# Plain http on the loopback: no redirect to https. The session and CSRF cookies keep their
# Secure flag; bin/bench sends them back itself.
SECURE_SSL_REDIRECT = False
# collectstatic is not run for a benchmark: without a manifest, the manifest storage would
# refuse every {% static %}. Its lookup is an in-memory dict once loaded, so the pages cost
# the same to within noise.
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
# Whitenoise warns, in every worker, that STATIC_ROOT does not exist (no collectstatic).
warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
