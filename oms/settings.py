"""Settings, all from the environment (django-environ), with safe embedded defaults.

Embedded mode (no environment): SQLite file under var/ in WAL mode, kombu's filesystem
broker under var/celery (real worker and beat processes, no server), a file cache under
var/cache, a SECRET_KEY generated into var/secret_key on first run.
Production: set DATABASE_URL, REDIS_URL, SECRET_KEY, ALLOWED_HOSTS, DEBUG=0.
"""

import secrets
from datetime import timedelta
from pathlib import Path

import environ
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False) if (BASE_DIR / ".env").exists() else None

VAR_DIR = Path(env("OMS_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    key = env("SECRET_KEY", default="")
    if key:
        return key
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env.bool("DEBUG", default=True)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_filters",
    "import_export",
    "django_celery_beat",
    "axes",
    "oms",
    "inventory",
    "orders",
    "channels",
    "logistics",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "oms.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "oms.middleware.TenantMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # last, as django-axes asks: turns a locked-out login into the lockout page
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "oms.urls"
WSGI_APPLICATION = "oms.wsgi.application"

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
                "django.template.context_processors.i18n",
                "oms.context_processors.tenant",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'oms.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # WAL lets the web server, the worker and beat read while one writes;
            # IMMEDIATE takes the write lock at BEGIN so writers queue instead of failing.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
else:
    # server-side binding: psycopg sends parameters separately instead of quoting them into the
    # SQL text in Python -- bulk inserts (Django's UNNEST arrays of JSON payloads) get ~10x cheaper.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "server_side_binding", env.bool("DB_SERVER_SIDE_BINDING", default=True))
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
# Row-level security (docs/rls.md): DATABASE_URL is the application's role, which cannot bypass
# RLS; `manage.py migrate` connects as the tables' owner given here (its user and password; host
# and port if given). Unset: DATABASE_URL's role does both, as before.
DATABASE_OWNER = env.db("DATABASE_OWNER_URL") if env("DATABASE_OWNER_URL", default="") else None
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
ATOMIC_REQUESTS = False

# --- Redis / Celery / cache -----------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
CELERY_DIR = VAR_DIR / "celery"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    for sub in ("out", "processed", "results", "control"):
        (CELERY_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_DIR / "out"),
        "data_folder_out": str(CELERY_DIR / "out"),
        "processed_folder": str(CELERY_DIR / "processed"),
        "store_processed": False,
        "control_folder": str(CELERY_DIR / "control"),
    }
    CELERY_RESULT_BACKEND = f"file://{CELERY_DIR / 'results'}"
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "Asia/Shanghai"
CELERY_TASK_TIME_LIMIT = 600
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_IMPORTS = ["orders.resources"]  # the background import task (ImportJob) lives with the import resources
CELERY_BEAT_SCHEDULE = {
    "dispatch-due-pulls": {"task": "channels.tasks.dispatch_due_pulls", "schedule": 60.0},
    "reconcile-stock-ledger": {"task": "inventory.tasks.reconcile_stock", "schedule": 3600.0},
    "suggest-stock-transfers": {"task": "inventory.tasks.suggest_transfers", "schedule": 3600.0},
    "resend-due-notifications": {"task": "notifications.tasks.resend_due_notifications", "schedule": 60.0},
    "dispatch-tracking-polls": {"task": "logistics.tasks.dispatch_tracking_polls", "schedule": 60.0},
    "release-timed-holds": {"task": "orders.tasks.release_timed_holds", "schedule": 60.0},
    "dispatch-allocation": {"task": "orders.tasks.dispatch_allocation", "schedule": 60.0},
    # fault recovery (docs/faults.md): runs and jobs left "running" by a dead worker
    "reap-stale-pulls": {"task": "channels.tasks.reap_stale_pulls", "schedule": 300.0},
    "reap-stale-bulk-jobs": {"task": "logistics.tasks.reap_stale_bulk_jobs", "schedule": 300.0},
}

# --- auth -----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "admin:login"
LOGIN_REDIRECT_URL = "/admin/"

# Login throttling (django-axes): the staff login (console and admin share admin:login) locks a
# username from one IP address after OMS_LOGIN_FAILURE_LIMIT failures for OMS_LOGIN_COOLOFF_MINUTES;
# other users and the same user from elsewhere are unaffected, and a success clears the count.
# Attempts and lockouts are rows in the admin (superusers) and WARNING lines of `oms.security`.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("OMS_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("OMS_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "oms.security.lockout_response"  # templates/registration/locked_out.html
AXES_HTTP_RESPONSE_CODE = 429
AXES_CLIENT_IP_CALLABLE = "oms.security.client_ip"
AXES_SENSITIVE_PARAMETERS = ["password"]
# behind N reverse proxies that append to X-Forwarded-For, the client is the N-th address from the
# right; 0 (default) takes REMOTE_ADDR, so a forged header cannot pick the IP being throttled
OMS_TRUSTED_PROXY_COUNT = env.int("OMS_TRUSTED_PROXY_COUNT", default=0)

# --- i18n -----------------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
DEFAULT_CURRENCY = "CNY"

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "media/"

# --- credentials at rest -------------------------------------------------------------------
# A Fernet key (urlsafe base64, 32 bytes). Derived from SECRET_KEY when not given; in production
# give it explicitly so rotating SECRET_KEY does not make stored credentials unreadable.
OMS_CREDENTIALS_KEY = env("OMS_CREDENTIALS_KEY", default="")

# --- e-mail and notifications ----------------------------------------------------------------
# Embedded default: every e-mail is written as a file under var/mail; production sets
# EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend and the EMAIL_* below.
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="OMS <noreply@localhost>")
# the public address of this installation, for links in buyer messages (tracking page)
OMS_PUBLIC_BASE_URL = env("OMS_PUBLIC_BASE_URL", default="http://127.0.0.1:8000")
# seconds the worklist tab counts are kept per tenant (they are shown on every page)
OMS_TAB_COUNT_SECONDS = env.int("OMS_TAB_COUNT_SECONDS", default=15)
# minutes before the first tracking poll of a parcel, and the base of the back-off (2x per quiet poll)
OMS_TRACKING_POLL_MINUTES = env.int("OMS_TRACKING_POLL_MINUTES", default=120)
# Tests that need PostgreSQL/Redis: skipped without them, unless this is set (then they fail).
OMS_REQUIRE_SERVICES = env.bool("OMS_REQUIRE_SERVICES", default=False)

if not DEBUG:
    # production: HTTPS only (behind a TLS-terminating proxy that sets X-Forwarded-Proto);
    # `manage.py check --deploy` is clean with these defaults (tests/oms/test_deployment_files.py)
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=30 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
