"""Django settings for Agrega.

Everything that differs between a laptop demo and production comes from the
environment: ``DATABASE_URL`` (SQLite file by default), ``AGREGA_SECRET_KEY``,
``AGREGA_CREDENTIALS_KEY`` (encrypts platform credentials), ``AGREGA_DEBUG``.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("AGREGA_VAR_DIR", BASE_DIR / "var"))

DEBUG = os.environ.get("AGREGA_DEBUG", "0") == "1"
# Without DEBUG, Agrega refuses to start on the development key or without a credentials
# key of its own (core/keys.py; `agrega generate-keys` makes both).
SECRET_KEY = os.environ.get("AGREGA_SECRET_KEY", "agrega-insecure-development-key-change-me")
# Key for the platform credentials at rest (Fernet); with DEBUG on, empty falls back to one
# derived from SECRET_KEY.
CREDENTIALS_KEY = os.environ.get("AGREGA_CREDENTIALS_KEY", "")
# Secrets of the payment webhook, one per provider ("banco1:secret1,gateway:secret2"); the
# secret that verifies a delivery names its provider (docs/payments.md). The single
# AGREGA_PAYMENT_WEBHOOK_SECRET still works, as provider "webhook". None set: webhook off.
PAYMENT_WEBHOOK_SECRET = os.environ.get("AGREGA_PAYMENT_WEBHOOK_SECRET", "")
PAYMENT_WEBHOOK_SECRETS = os.environ.get("AGREGA_PAYMENT_WEBHOOK_SECRETS", "")
# Seconds a signed delivery's timestamp may be away from now (replays are refused after).
PAYMENT_WEBHOOK_TOLERANCE = int(os.environ.get("AGREGA_PAYMENT_WEBHOOK_TOLERANCE", "300"))
# A webhook payment above the título's open balance by more than this (BRL) is held for an operator.
PAYMENT_HOLD_MARGIN = os.environ.get("AGREGA_PAYMENT_HOLD_MARGIN", "20.00")
# /metrics answers clients on INTERNAL_NETWORKS; others must send `Authorization: Bearer
# <token>` (no token set: refused).
METRICS_TOKEN = os.environ.get("AGREGA_METRICS_TOKEN", "")
# Egress policy (agrega/core/egress.py, docs/operations.md): calls to platforms never go to
# loopback/private/link-local/reserved addresses unless listed here (CIDR, address,
# address:port or host:port, comma-separated). Empty (the default) is strict.
AGREGA_EGRESS_ALLOW = [e.strip() for e in os.environ.get("AGREGA_EGRESS_ALLOW", "").split(",") if e.strip()]
# Largest file an upload may carry (CSV imports, payment files), enforced while the body
# streams in (agrega/core/uploads.py); payment files have their own, smaller limit.
AGREGA_UPLOAD_MAX_BYTES = int(float(os.environ.get("AGREGA_UPLOAD_MAX_MB", "32")) * 1024 * 1024)
ALLOWED_HOSTS = os.environ.get("AGREGA_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",  # serves Swagger UI from its own static files, not a CDN
    "django_tasks",  # the backport of Django 6's django.tasks (docs/decisions/0008-task-framework.md)
    "django_tasks_db",  # its database backend: the queue is a table of our database
    "agrega.core",
    "agrega.customers",
    "agrega.integrations",
    "agrega.catalog",
    "agrega.plans",
    "agrega.contracts",
    "agrega.consent",
    "agrega.billing",
    "agrega.fiscal",
    "agrega.dunning",
    "agrega.pix",
    "agrega.sva",
    "agrega.notices",
    "agrega.imports",
    "agrega.campaigns",
    "agrega.ops",
    "agrega.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Bounds multipart bodies before anything reads them (idempotency's digest, CSRF, views).
    "agrega.core.uploads.UploadLimitMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "agrega.ops.middleware.SecurityHeadersMiddleware",
    "agrega.core.middleware.InputLimitsMiddleware",  # 413 for the API, no control chars in pages' queries
    "agrega.core.idempotency.IdempotencyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
# The chain of an API request that a token authenticates and no cookie could
# (``Authorization: Bearer``, no ``Cookie``; agrega/core/handlers.py, decision 0015): MIDDLEWARE
# without what serves a browser session (whitenoise's files, sessions, CSRF, the session's
# user, messages, htmx). Whatever acts on such a request must be in both lists, in the same
# order (tests/api/test_token_chain.py checks that this one is MIDDLEWARE minus those).
API_TOKEN_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",  # the Host check, APPEND_SLASH, Content-Length
    "agrega.core.handlers.AnonymousUntilAuthenticatedMiddleware",  # request.user until the token sets it
    "agrega.core.uploads.UploadLimitMiddleware",
    "agrega.ops.middleware.SecurityHeadersMiddleware",
    "agrega.core.middleware.InputLimitsMiddleware",
    "agrega.core.idempotency.IdempotencyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "agrega.urls"
WSGI_APPLICATION = "agrega.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        # web.context_processors.navigation: menu + role of the signed-in user.
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "agrega.web.context_processors.navigation",
            ],
        },
    },
]

VAR_DIR.mkdir(parents=True, exist_ok=True)


def _conn_max_age(raw: str) -> int | None:
    """``AGREGA_DB_CONN_MAX_AGE``: "persistent" (the default) keeps a process's connection
    for as long as it works; N seconds renews it after N seconds; 0 closes it after each
    request. Renewing is not free: a new connection's backend starts with cold caches, and
    a web worker's first queries on it stalled the requests queued behind (~30–130 ms every
    60 s under load: docs/decisions/0017-persistent-connections.md)."""
    raw = raw.strip().lower()
    if raw in ("", "persistent", "none"):
        return None
    if not raw.isdigit():
        raise ImproperlyConfigured(f"AGREGA_DB_CONN_MAX_AGE: seconds or \"persistent\", not {raw!r}")
    return int(raw)


DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'agrega.sqlite3'}",
        conn_max_age=_conn_max_age(os.environ.get("AGREGA_DB_CONN_MAX_AGE", "persistent")),
    )
}
# A kept connection is checked when its thread comes back from this many seconds without a
# request, and opened again if the database or the network dropped it meanwhile (a restart,
# an idle timeout on the way): core/connections.py. 0 checks before every request.
DB_IDLE_CHECK_SECONDS = float(os.environ.get("AGREGA_DB_IDLE_CHECK_SECONDS", "10"))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + a busy timeout let the web process and the worker share one file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Tests use a file (one per test process) so that a real `agrega worker` subprocess
    # can share the test database.
    DATABASES["default"].setdefault("TEST", {})["NAME"] = os.environ.get(
        "AGREGA_TEST_SQLITE", str(VAR_DIR / f"test-{os.getpid()}.sqlite3")
    )
elif os.environ.get("AGREGA_DB_PREPARE_THRESHOLD"):
    # psycopg's own prepared statements (decision 0009): off unless asked for; measured by
    # bench/api_load.py --prepared-variant.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        server_side_binding=True, prepare_threshold=int(os.environ["AGREGA_DB_PREPARE_THRESHOLD"]))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Seconds an API token's user and role are kept per process (agrega/core/api.py); 0: read
# on every request. A revocation, deactivation or role change applies at once in the
# process that made it, within this time in the others (bench/README.md, "api_load").
API_TOKEN_CACHE_SECONDS = max(0.0, float(os.environ.get("AGREGA_API_TOKEN_CACHE_SECONDS", "10")))

# Password logins go through the throttled backend (agrega/core/throttle.py).
AUTHENTICATION_BACKENDS = ["agrega.core.throttle.ThrottledModelBackend"]
# Failures count per (username, address): after PER_USERNAME the pair waits LOCK_SECONDS,
# doubling per further failure up to MAX_LOCK_SECONDS; one address may fail PER_IP times
# in WINDOW_SECONDS across usernames.
LOGIN_THROTTLE = {
    "PER_USERNAME": int(os.environ.get("AGREGA_LOGIN_MAX_FAILURES", "5")),
    "PER_IP": int(os.environ.get("AGREGA_LOGIN_MAX_FAILURES_PER_IP", "20")),
    "WINDOW_SECONDS": int(os.environ.get("AGREGA_LOGIN_WINDOW_SECONDS", "900")),
    "LOCK_SECONDS": int(os.environ.get("AGREGA_LOGIN_LOCK_SECONDS", "30")),
    "MAX_LOCK_SECONDS": int(os.environ.get("AGREGA_LOGIN_MAX_LOCK_SECONDS", "3600")),
}
# The client's address (login throttling, /metrics): REMOTE_ADDR, or — only when that is
# one of these proxies (IPs or CIDRs, comma-separated) — read from their header.
TRUSTED_PROXIES = os.environ.get("AGREGA_TRUSTED_PROXIES", "")
TRUSTED_PROXY_HEADER = os.environ.get("AGREGA_TRUSTED_PROXY_HEADER", "X-Forwarded-For")
# Clients that may read /metrics without its token (core/net.py).
INTERNAL_NETWORKS = os.environ.get("AGREGA_INTERNAL_NETWORKS", "127.0.0.0/8,::1/128")
IDEMPOTENCY_TTL_HOURS = int(os.environ.get("AGREGA_IDEMPOTENCY_TTL_HOURS", "24"))

# Security headers. Behind HTTPS (production) set AGREGA_HTTPS=1: secure cookies, HSTS,
# redirect to https, and trust X-Forwarded-Proto from the proxy in front.
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
if os.environ.get("AGREGA_HTTPS") == "1":
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = 31536000
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Checked wherever a person chooses a password (validate_password); the demo's seed sets
# its logins' password (agrega-demo) directly.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "pt-br"
TIME_ZONE = "America/Sao_Paulo"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("AGREGA_STATIC_ROOT", VAR_DIR / "static"))
try:  # WhiteNoise serves from the finders in development; it only wants the folder to exist.
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
except OSError:
    pass
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
# Front-end packages from the npm registry (package.json), served by the app itself.
NODE_MODULES = BASE_DIR / "node_modules"
STATICFILES_DIRS = [
    ("vendor/bootstrap", NODE_MODULES / "bootstrap" / "dist"),
    ("vendor/bootstrap-icons", NODE_MODULES / "bootstrap-icons" / "font"),
    ("vendor/htmx", NODE_MODULES / "htmx.org" / "dist"),
]

LOGIN_URL = "/entrar/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/entrar/"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "agrega.ops.logging.RedactPersonalData"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "agrega.ops.logging.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["redact"],
                             "formatter": os.environ.get("AGREGA_LOG_FORMAT", "plain")}},
    "root": {"handlers": ["console"], "level": os.environ.get("AGREGA_LOG_LEVEL", "INFO")},
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}

# Periodic jobs (agrega/core/jobs.py): enqueued as tasks when due by the task workers of
# `agrega worker` (one run per due time across machines). daily_at is local time (TIME_ZONE).
PERIODIC_JOBS = {
    "billing.run_current_period": {"call": "agrega.billing.jobs.run_current_period",
                                   "daily_at": os.environ.get("AGREGA_BILLING_AT", "01:00")},
    "dunning.sweep": {"call": "agrega.dunning.jobs.daily_sweep",
                      "daily_at": os.environ.get("AGREGA_DUNNING_AT", "06:00")},
    "dunning.expire_trust_releases": {"call": "agrega.dunning.jobs.expire_trust_releases", "every_seconds": 300},
    "core.purge": {"call": "agrega.core.jobs.purge_expired_records", "every_seconds": 3600},
    "notices.run": {"call": "agrega.notices.jobs.run", "every_seconds": 60},
    # campaigns and imports started from the interface run as tasks (campaigns/tasks.py,
    # imports/tasks.py); these jobs take over one left behind without a task
    "campaigns.run": {"call": "agrega.campaigns.services.run_due_campaigns", "every_seconds": 30},
    "imports.run": {"call": "agrega.imports.services.run_due_imports", "every_seconds": 60},
    "sva.reconcile": {"call": "agrega.sva.reconcile.services.reconcile_job",
                      "every_seconds": int(os.environ.get("AGREGA_RECONCILE_EVERY", "3600"))},
    # SVA users of cancelled contracts are removed after the retention period (sva/retention.py)
    "sva.remove_cancelled": {"call": "agrega.sva.retention.remove_cancelled_job", "every_seconds": 3600},
    # NFCom waiting for SEFAZ (out of service, unknown outcome, cancelled título) go on (agrega/fiscal)
    "fiscal.send_pending": {"call": "agrega.fiscal.jobs.send_pending", "every_seconds": 60},
}
# PIX (agrega/pix): the reconciliation pulls GET /pix every few minutes so a lost
# webhook is caught; AGREGA_PUBLIC_URL is the address the PSP calls back (webhook).
PERIODIC_JOBS["pix.reconcile"] = {"call": "agrega.pix.services.reconcile_job",
                                  "every_seconds": int(os.environ.get("AGREGA_PIX_RECONCILE_EVERY", "180"))}
PERIODIC_JOBS["pix.schedule_cobr"] = {"call": "agrega.pix.recurrence.schedule_due_job", "every_seconds": 3600}
# Pix Automático (agrega/pix/automatico.py): the webhookrec/webhookcobr notices a failing PSP
# left due, the POST /rec whose answer was lost, and GET /rec + GET /cobr for what a lost
# webhook missed
PERIODIC_JOBS["pix.reconcile_automatico"] = {
    "call": "agrega.pix.automatico.reconcile_job",
    "every_seconds": int(os.environ.get("AGREGA_PIX_AUTO_RECONCILE_EVERY", "300"))}
AGREGA_PUBLIC_URL = os.environ.get("AGREGA_PUBLIC_URL", "")
# The /pix callbacks' inbox (agrega/pix/inbox.py): the consumer in `agrega worker` wakes on
# NOTIFY (PostgreSQL) or polls (SQLite) every POLL_SECONDS; confirms CONFIRM_THREADS at once.
PIX_INBOX = {
    "POLL_SECONDS": float(os.environ.get("AGREGA_PIX_INBOX_POLL", "0.05")),
    "CONFIRM_THREADS": int(os.environ.get("AGREGA_PIX_CONFIRM_THREADS", "8")),
    "RETRY_BASE_SECONDS": float(os.environ.get("AGREGA_PIX_INBOX_RETRY_BASE", "2")),
}
JOBS_POLL_SECONDS = float(os.environ.get("AGREGA_JOBS_POLL", "15"))

# Background work (imports, campaigns, billing runs, the periodic jobs above, …) runs as
# tasks of django-tasks, queued in our own database (django-tasks-db) on SQLite and
# PostgreSQL alike, and run by `agrega worker`'s task process (docs/decisions/0008-task-framework.md).
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default"],
    },
}
# A task worker writes a heartbeat every AGREGA_TASK_HEARTBEAT seconds; a task RUNNING
# under a worker silent for AGREGA_TASK_LEASE seconds (killed, machine lost) is queued
# again, at most AGREGA_TASK_MAX_ATTEMPTS times in all (agrega/core/tasks.py).
TASK_HEARTBEAT_SECONDS = float(os.environ.get("AGREGA_TASK_HEARTBEAT", "5"))
TASK_LEASE_SECONDS = float(os.environ.get("AGREGA_TASK_LEASE", "30"))
TASK_MAX_ATTEMPTS = int(os.environ.get("AGREGA_TASK_MAX_ATTEMPTS", "5"))
TASK_POLL_SECONDS = float(os.environ.get("AGREGA_TASK_POLL", "1"))
# A contract's first título (and one issued after its period ended, e.g. by the daily run's
# catch-up) is due at least this many days after it is issued (billing.services; 0: off).
BILLING_FIRST_DUE_MIN_DAYS = max(0, int(os.environ.get("AGREGA_FIRST_DUE_MIN_DAYS", "5")))
# Contracts per transaction of a billing run enqueued by the pages or the API (billing/tasks.py).
BILLING_RUN_CHUNK = max(1, int(os.environ.get("AGREGA_BILLING_RUN_CHUNK", "5000")))

# Customer notices (agrega/notices) go out through Django's e-mail backends.
# AGREGA_EMAIL_BACKEND: "file" (default: one .log file per message in var/emails), "console",
# "smtp" (AGREGA_EMAIL_HOST/PORT/USER/PASSWORD/USE_TLS) or a dotted backend path.
_EMAIL_BACKENDS = {
    "file": "django.core.mail.backends.filebased.EmailBackend",
    "console": "django.core.mail.backends.console.EmailBackend",
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
}
EMAIL_BACKEND = _EMAIL_BACKENDS.get(os.environ.get("AGREGA_EMAIL_BACKEND", "file"),
                                    os.environ.get("AGREGA_EMAIL_BACKEND", ""))
EMAIL_FILE_PATH = os.environ.get("AGREGA_EMAIL_FILE_PATH", str(VAR_DIR / "emails"))
EMAIL_HOST = os.environ.get("AGREGA_EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("AGREGA_EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("AGREGA_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("AGREGA_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = os.environ.get("AGREGA_EMAIL_USE_TLS", "0").lower() in ("1", "true", "sim", "yes")
EMAIL_USE_SSL = os.environ.get("AGREGA_EMAIL_USE_SSL", "0").lower() in ("1", "true", "sim", "yes")
EMAIL_TIMEOUT = float(os.environ.get("AGREGA_EMAIL_TIMEOUT", "10"))
DEFAULT_FROM_EMAIL = os.environ.get("AGREGA_DEFAULT_FROM_EMAIL", "Agrega <nao-responda@localhost>")
# The régua's debt notices are e-mailed once they are this old (seconds): the sweep writes
# them from parallel transactions, so a lower id may commit after a higher one; the
# notices job reads by id and must not pass an id still uncommitted (agrega/notices/services.py).
DEBT_NOTICE_SETTLE_SECONDS = max(0, int(os.environ.get("AGREGA_DEBT_NOTICE_SETTLE_SECONDS", "600")))

# The SVA controller (worker). See docs/decisions/0002-convergence.md.
SVA_WORKER = {
    "CONCURRENCY": int(os.environ.get("AGREGA_SVA_CONCURRENCY", "16")),
    "BATCH_SIZE": int(os.environ.get("AGREGA_SVA_BATCH", "64")),
    "QUEUE_FACTOR": int(os.environ.get("AGREGA_SVA_QUEUE_FACTOR", "8")),
    "LEASE_SECONDS": int(os.environ.get("AGREGA_SVA_LEASE_SECONDS", "120")),
    "IDLE_POLL_SECONDS": float(os.environ.get("AGREGA_SVA_IDLE_POLL", "0.5")),
    "BACKOFF_BASE_SECONDS": float(os.environ.get("AGREGA_SVA_BACKOFF_BASE", "2")),
    "BACKOFF_MAX_SECONDS": float(os.environ.get("AGREGA_SVA_BACKOFF_MAX", "900")),
    "CIRCUIT_FAILURE_THRESHOLD": int(os.environ.get("AGREGA_SVA_CIRCUIT_THRESHOLD", "5")),
    "CIRCUIT_OPEN_SECONDS": float(os.environ.get("AGREGA_SVA_CIRCUIT_OPEN", "30")),
    "SWITCH_INTERVAL_SECONDS": float(os.environ.get("AGREGA_SVA_SWITCH_INTERVAL", "0.0005")),
    # how often a worker brings the pending-work queue in step with the users (sva/pending.py;
    # at start too; 0 turns it off)
    "QUEUE_REPAIR_SECONDS": float(os.environ.get("AGREGA_SVA_QUEUE_REPAIR", "600")),
}
# Days an SVA user of a cancelled contract (status D) stays, blocked, before the job
# sva.remove_cancelled removes it here and on the platform (LGPD: no account kept forever).
SVA_CANCELLED_RETENTION_DAYS = int(os.environ.get("AGREGA_SVA_RETENTION_DAYS", "30"))

# Background tasks (django-tasks). Minimal default so the fiscal tasks can be enqueued;
# h/tasks wires the database backend and the worker (the lead reconciles on merge).
# The authoriser's CA for the NFCom client: a test authoriser (the demo's SEFAZ sandbox
# writes its CA to AGREGA_SEFAZ_SANDBOX_PKI/ca.pem); empty = the system's trust store.
FISCAL_SEFAZ_CA_BUNDLE = os.environ.get("AGREGA_FISCAL_SEFAZ_CA_BUNDLE") or (
    str(Path(os.environ["AGREGA_SEFAZ_SANDBOX_PKI"]) / "ca.pem") if os.environ.get("AGREGA_SEFAZ_SANDBOX_PKI") else "")
FISCAL_SEFAZ_TIMEOUT = float(os.environ.get("AGREGA_FISCAL_SEFAZ_TIMEOUT", "30"))
# After a billing run, emit the NFCom of its títulos (agrega/fiscal); 0 = by hand.
FISCAL_AUTO_EMIT = os.environ.get("AGREGA_FISCAL_AUTO_EMIT", "1") != "0"
