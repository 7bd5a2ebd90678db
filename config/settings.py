"""Settings, all read from the environment (django-environ).

Defaults give the embedded development setup: SQLite shared by the web server and
the django-q2 worker, sandbox providers. Production sets DJANGO_DEBUG=False,
DJANGO_SECRET_KEY, DATABASE_URL and DJANGO_ALLOWED_HOSTS (see .env.example).
"""

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)

if DEBUG:
    SECRET_KEY = env("DJANGO_SECRET_KEY", default="dev-only-insecure-key-never-use-in-production")
else:
    # No default: a production process without its secret must not start.
    SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
    if not SECRET_KEY:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off.")
# Old keys stay here while PII encrypted under them is re-encrypted (key rotation).
SECRET_KEY_FALLBACKS = env.list("DJANGO_SECRET_KEY_FALLBACKS", default=[])
# Salt for the field-encryption key derivation (django-fernet-encrypted-fields).
SALT_KEY = env.list("FIELD_ENCRYPTION_SALT", default=["onboarding-pii-v1"])
# Key of the HMAC kept beside encrypted values that must stay unique (EIN).
PII_HASH_KEY = env("PII_HASH_KEY", default=SECRET_KEY)

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "simple_history",
    "django_q",
    "csp",
    # Before the project's apps: its permissions must exist when the roles are synced
    # after the last app migrated (apps/accounts/roles.py).
    "axes",
    "apps.core",
    "apps.accounts",
    "apps.leads",
    "apps.routing",
    "apps.merchants",
    "apps.orders",
    "apps.progress",
    "apps.integrations",
    "apps.compliance",
    "apps.demo",
    "apps.staff",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Staff see times in their own zone (User.time_zone).
    "apps.accounts.middleware.StaffTimeZoneMiddleware",
    # After authentication, so that its 400 page shows the signed-in navigation.
    "apps.core.middleware.RefuseNulMiddleware",
    "apps.core.middleware.SecurityHeadersMiddleware",
    "apps.core.middleware.FailureAnswersMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes requires: it turns a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.core.context_processors.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
# SQLite is the embedded default. The web server and the django-q2 worker (ORM broker)
# write to it at once, so writers take the lock at BEGIN (IMMEDIATE), readers never block
# writers (WAL) and a busy writer is waited for instead of failing with "database is locked".
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A covering index's INCLUDE columns (routing assignment_open_counts) are a PostgreSQL
    # speed-up; SQLite builds the index on its key columns, as intended.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # No JIT: our statements are short, and at 100k rows the planner's estimates made
    # PostgreSQL spend seconds compiling sweep queries that run in under one (issue 12).
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
# django-axes first: it refuses a locked-out sign-in before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:home"
LOGOUT_REDIRECT_URL = "accounts:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files (whitenoise) --------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Security (production) -------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True

# Content-Security-Policy (django-csp): scripts and styles come from our own static files
# only; no inline script, style attribute or eval (htmx runs with allowEval off, see
# base.html). A <style> element is allowed only with the request's nonce (the ops
# dashboard's charts, apps/core/templatetags/csp_svg.py); the nonce is sent only on pages
# that use it. data: images are Pico's icons. The API docs relax it for themselves
# (config/urls.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "object-src": [NONE],
    }
}
# Browser features no page of the portal uses (apps/core/middleware.py sends it).
PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=(), hid=(), midi=(), "
    "magnetometer=(), gyroscope=(), accelerometer=(), display-capture=(), browsing-topics=()"
)

# --- Sign-in lockout (django-axes) -------------------------------------------------------
# After LOGIN_FAILURE_LIMIT wrong passwords for one email from one client address, that
# email is locked out from that address for LOGIN_LOCKOUT_MINUTES (each further try
# restarts the wait). The same happens for an email that has no account, so the lockout
# tells nothing about which accounts exist. Ops unlock in the admin (Access attempts).
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_LOCKOUT_MINUTES = env.int("LOGIN_LOCKOUT_MINUTES", default=15)
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# Both login forms (ours and the admin's) post the email as "username".
AXES_USERNAME_FORM_FIELD = "username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "apps.accounts.views.lockout"
# Every failure is kept (Access failures in the admin), with the one that locked marked.
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_CLIENT_IP_CALLABLE = "apps.core.client_ip.client_ip"
# The client's address is REMOTE_ADDR unless DJANGO_CLIENT_IP_HEADER names the header that
# the proxies in front write (e.g. X-Forwarded-For); DJANGO_CLIENT_IP_PROXY_COUNT says how
# many of them append to it (apps/core/client_ip.py).
CLIENT_IP_HEADER = env("DJANGO_CLIENT_IP_HEADER", default="")
CLIENT_IP_PROXY_COUNT = env.int("DJANGO_CLIENT_IP_PROXY_COUNT", default=1)

# --- History (django-simple-history) --------------------------------------------------------
# Change reasons carry reviewer notes and refusal reasons: a text column, not 100 characters.
SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True
SIMPLE_HISTORY_REVERT_DISABLED = True

# --- DRF ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON only, with a nesting limit and no NUL characters (apps/core/parsers.py).
    "DEFAULT_PARSER_CLASSES": ["apps.core.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "apps.core.apis.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Merchant onboarding API",
    "VERSION": "1.0.0",
    # Rules of every JSON body, enforced by the API's parser (apps/core/parsers.py).
    "DESCRIPTION": (
        "Bodies are JSON. No string in a body may contain a NUL character (\\u0000), and a "
        "body nested deeper than 32 levels is refused: both answer 400 with a `detail`."
    ),
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and Redoc served from our static files (drf-spectacular-sidecar), not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {"WebhookAnswerEnum": "apps.integrations.apis.WEBHOOK_ANSWERS"},
}

# --- Background work (django-q2) -------------------------------------------------------
# timeout < retry, or a slow task is handed to a second worker while the first still runs.
# max_attempts > 0: a task that keeps failing stops after 5 tries instead of forever.
# ack_failures: a failed task is acknowledged and kept in the Failure table (visible in the
# admin) rather than redelivered by the broker; our own retries live in ExternalSystemSync.
Q_BROKER = env("Q_BROKER", default="orm")  # "orm" or "redis"
# The queue's name on the broker: clusters of one deployment share it. Another deployment
# (or a test run) on the same Redis sets its own. It is django-q2's site `name` too: its
# scheduler runs the periodic jobs (Schedule rows without a cluster) only in a cluster whose
# cluster_name equals the name, so with a Q_CLUSTER_NAME of its own and the name left at
# "onboarding" no sweep ever ran (found by bin/fault-run).
Q_CLUSTER_NAME = env("Q_CLUSTER_NAME", default="onboarding")
Q_CLUSTER = {
    "name": Q_CLUSTER_NAME,
    "cluster_name": Q_CLUSTER_NAME,
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": env.int("Q_TIMEOUT", default=60),
    "retry": env.int("Q_RETRY", default=90),
    "max_attempts": 5,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 1000,
    "queue_limit": 50,
    "label": "Background tasks",
    "sync": env.bool("Q_SYNC", default=False),
    # ORM broker only: seconds an idle cluster waits between looks at the queue (one SELECT
    # each). django-q2's 0.2 s costs ~5 transactions a second per idle cluster; the Redis
    # broker blocks on the list instead and does not poll.
    "poll": env.float("Q_POLL", default=1.0),
}
if Q_BROKER == "redis":
    REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
    Q_CLUSTER["redis"] = REDIS_URL
    # Shared by every process: the outbox's "one dispatch request at a time" key lives here
    # (apps/integrations/dispatch.py). With the ORM broker each process keeps its own.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # Two deployments (or a test run) on one Redis keep their keys apart.
            "KEY_PREFIX": Q_CLUSTER["cluster_name"],
        }
    }
else:
    Q_CLUSTER["orm"] = "default"

# --- Integrations ---------------------------------------------------------------------
# "sandbox" (deterministic, no network) or "http" (real providers, configured below).
INTEGRATIONS_MODE = env("INTEGRATIONS_MODE", default="sandbox")

# Inbound webhooks: one shared secret per provider, and how old a signed request may be.
WEBHOOK_PROVIDERS = ("crm", "payments", "hardware", "billing", "x_series")


def dev_webhook_secret(provider: str) -> str:
    return f"dev-{provider}-webhook-secret"


def webhook_secret_missing(name: str) -> str:
    return f"{name} must be set when DJANGO_DEBUG is off (the development default is public)."


def _webhook_secret(provider: str) -> str:
    # Whatever the integrations mode: with a known secret anyone can sign a webhook that
    # decides a KYB, and sandbox providers act on webhooks as real ones do.
    name = f"WEBHOOK_SECRET_{provider.upper()}"
    if DEBUG:
        return env(name, default=dev_webhook_secret(provider))
    value = env(name, default="")
    if not value or value == dev_webhook_secret(provider):
        raise ImproperlyConfigured(webhook_secret_missing(name))
    return value


WEBHOOK_SECRETS = {provider: _webhook_secret(provider) for provider in WEBHOOK_PROVIDERS}
WEBHOOK_TOLERANCE_SECONDS = env.int("WEBHOOK_TOLERANCE_SECONDS", default=300)
# Requests refused for their signature are recorded (without their body) up to this many
# per source IP a minute; past it they are still refused, but leave no row.
WEBHOOK_REJECTED_PER_MINUTE = env.int("WEBHOOK_REJECTED_PER_MINUTE", default=20)

# --- Provider settings ------------------------------------------------------------------
# One client per external system (apps/integrations/providers). INTEGRATIONS_MODE_<SYSTEM>
# (e.g. INTEGRATIONS_MODE_CRM=http) sends one system to its real provider while the others
# follow INTEGRATIONS_MODE.
PROVIDER_SYSTEMS = ("crm", "x_series", "payments", "hardware", "billing", "email")
INTEGRATIONS_MODE_OVERRIDES = {
    system: env(f"INTEGRATIONS_MODE_{system.upper()}")
    for system in PROVIDER_SYSTEMS
    if env(f"INTEGRATIONS_MODE_{system.upper()}", default="")
}
# http mode: <SYSTEM>_API_URL and <SYSTEM>_API_TOKEN. An empty URL is refused when the
# provider is first used, so sandbox-only processes need none of them.
PROVIDER_API = {
    system: {
        "url": env(f"{system.upper()}_API_URL", default=""),
        "token": env(f"{system.upper()}_API_TOKEN", default=""),
    }
    for system in PROVIDER_SYSTEMS
}
# Connect and read timeout of every provider call; a timeout is retried later by the outbox.
PROVIDER_TIMEOUT_SECONDS = env.float("PROVIDER_TIMEOUT_SECONDS", default=10.0)
# Sandbox mode: latency added to every call, and how long after the call its asynchronous
# outcome (KYB decision, shipment tracking...) arrives as a webhook (0: right after commit).
SANDBOX_LATENCY_MS = env.int("SANDBOX_LATENCY_MS", default=0)
SANDBOX_WEBHOOK_DELAY_SECONDS = env.int("SANDBOX_WEBHOOK_DELAY_SECONDS", default=0)

# Root of links in emails sent without a request (tasks, sweeps): the public portal URL.
# Compliance (README "Compliance"): reveal alerts and retention periods.
# REVEAL_ALERT_COUNT reveals of personal data by one user within REVEAL_ALERT_WINDOW_MINUTES
# raise a data access alert for ops.
REVEAL_ALERT_COUNT = env.int("REVEAL_ALERT_COUNT", default=10)
REVEAL_ALERT_WINDOW_MINUTES = env.int("REVEAL_ALERT_WINDOW_MINUTES", default=15)
# Days after which the retention job (daily) acts on each kind of data.
RETENTION_CLOSED_LEAD_DAYS = env.int("RETENTION_CLOSED_LEAD_DAYS", default=365)
RETENTION_ABANDONED_MERCHANT_DAYS = env.int("RETENTION_ABANDONED_MERCHANT_DAYS", default=365)
RETENTION_AUDIT_DAYS = env.int("RETENTION_AUDIT_DAYS", default=7 * 365)
RETENTION_OUTBOX_DAYS = env.int("RETENTION_OUTBOX_DAYS", default=90)
RETENTION_WEBHOOK_DAYS = env.int("RETENTION_WEBHOOK_DAYS", default=90)

PORTAL_BASE_URL = env("PORTAL_BASE_URL", default="")
# How long the links in emails to merchants (back into a step) stay valid, in days.
STEP_LINK_MAX_AGE_DAYS = env.float("STEP_LINK_MAX_AGE_DAYS", default=7)

# Step 8 (data import): the largest CSV a merchant may upload, in bytes and in rows.
DATA_IMPORT_MAX_BYTES = env.int("DATA_IMPORT_MAX_BYTES", default=2 * 1024 * 1024)
DATA_IMPORT_MAX_ROWS = env.int("DATA_IMPORT_MAX_ROWS", default=5000)

EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="onboarding@example.com")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    # django-axes says INFO for every sign-in (the Access logs table keeps them); lockouts and
    # failed sign-ins are WARNING and still logged.
    "loggers": {"axes": {"level": "WARNING"}},
}
