"""Settings shared by every environment.

Everything that differs between machines comes from the environment (django-environ).
Secrets never live in this repository.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

DJANGO_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
THIRD_PARTY_APPS = [
    "rest_framework",
    "guardian",
    "django_countries",
    "pgtrigger",
    "pghistory",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "django_htmx",
    "csp",
    "oauth2_provider",
    "drf_spectacular",
    "drf_spectacular_sidecar",
]
LOCAL_APPS = [
    "kernel",
    "institutions",
    "cases",
    "victims",
    "protocol",
    "api",
    "stats",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "kernel.middleware.NoStoreWhenSignedInMiddleware",
    "kernel.middleware.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "institutions.middleware.HtmxAuthRedirectMiddleware",
    "institutions.middleware.SessionLimitsMiddleware",
    "institutions.middleware.RequireTwoFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes requires: it turns a lockout raised during authentication into a page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "protocol.context_processors.notifications",
                "stats.context_processors.statistics",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "institutions.User"
AUTHENTICATION_BACKENDS = [
    # First: refuses to even check the password of a locked-out username/IP pair.
    "axes.backends.AxesStandaloneBackend",
    "institutions.backends.InstitutionModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Guardian: being superuser must never open a case (see docs/adr/0002).
GUARDIAN_RAISE_403 = False
GUARDIAN_RENDER_403 = False
ANONYMOUS_USER_NAME = None

# Internationalisation: the product is used in Chile, in Spanish.
LANGUAGE_CODE = "es-cl"
LANGUAGES = [("es-cl", "Español (Chile)")]
TIME_ZONE = "America/Santiago"
USE_I18N = True
USE_TZ = True
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["config.formats"]

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# Sessions: 30 minutes of inactivity and 12 hours at most (institutions.middleware). The cookie
# lives as long as the absolute limit; the middleware enforces both limits server-side.
SESSION_IDLE_TIMEOUT = timedelta(minutes=30)
SESSION_ABSOLUTE_TIMEOUT = timedelta(hours=12)
SESSION_COOKIE_AGE = int(SESSION_ABSOLUTE_TIMEOUT.total_seconds())
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_SAVE_EVERY_REQUEST = False
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# A refused CSRF token (an expired session, a stale tab) gets a Spanish page under the CSP.
CSRF_FAILURE_VIEW = "kernel.views.csrf_failure"

# Two-factor authentication (django-otp, TOTP): every human user enrolls on first login.
OTP_TOTP_ISSUER = "MITP Chile"
OTP_TOTP_THROTTLE_FACTOR = 1

# Failed logins (django-axes): 5 failures for a username/IP pair lock that pair for 15 minutes.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# Behind the reverse proxy every request would come from the proxy's address, and five bad
# passwords from anyone would lock the user out for everyone. TRUSTED_PROXY_COUNT (environment) is
# the number of trusted proxies in front of the app (MITP_PROXY_COUNT); 0 reads REMOTE_ADDR.
MITP_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "kernel.client_ip.client_ip"

# Content-Security-Policy (django-csp): no inline script or style anywhere, no third-party origin.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "object-src": [NONE],
    }
}

# Error reports never carry local variables or request bodies: they may hold victim identity.
DEFAULT_EXCEPTION_REPORTER_FILTER = "kernel.errors.IdentitySafeExceptionReporterFilter"

# --- Encryption of victim identity (kernel.crypto) -------------------------------------------
# FIELD_ENCRYPTION_KEYS: "version:base64key,version:base64key" (32-byte keys). The highest
# version encrypts; every listed version decrypts. BLIND_INDEX_KEY: base64 32-byte secret of its
# own, never rotated with the encryption keys (rotating it means recomputing every index).
FIELD_ENCRYPTION_KEYS = env("FIELD_ENCRYPTION_KEYS", default="")
BLIND_INDEX_KEY = env("BLIND_INDEX_KEY", default="")

# --- Redis and Celery ---------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="mitp"),
    }
}
if REDIS_URL.startswith("unix://"):
    # The embedded Redis of `make run` listens on a unix socket; Celery spells that differently.
    _socket_path = REDIS_URL.removeprefix("unix://").split("?")[0]
    CELERY_BROKER_URL = CELERY_RESULT_BACKEND = f"redis+socket://{_socket_path}"
else:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Seconds of the first wait before a notification e-mail is tried again (protocol.tasks.
# send_notification_mail); each further wait doubles, up to an hour.
NOTIFICATION_MAIL_RETRY_BACKOFF = 30
# How statistics leave the system (stats.publication): one mode for every export. "ctdc" (the
# default: every count rounded down to tens, only counts of at least 10) or "supresion" (cells
# below the threshold suppressed, with secondary suppression). Suppression protects each table,
# but a population's tables read together can still give a suppressed count back; rounding
# holds up (docs/statistics.md, "Disclosure control"). One mode only: the same table in both
# would be read against itself.
STATISTICS_PUBLICATION = {
    "mode": env("STATISTICS_PUBLICATION_MODE", default="ctdc"),
    "threshold": env.int("STATISTICS_SUPPRESSION_THRESHOLD", default=5),
}

CELERY_BEAT_SCHEDULE: dict = {
    "api-purge-idempotency-records": {"task": "api.purge_idempotency_records", "schedule": timedelta(hours=1)},
    "api-clear-expired-tokens": {"task": "api.clear_expired_tokens", "schedule": timedelta(hours=6)},
    "protocol-notify-overdue-referrals": {
        "task": "protocol.notify_overdue_referrals",
        "schedule": timedelta(minutes=10),
    },
    "protocol-remind-expiring-residence-permits": {
        "task": "protocol.remind_expiring_residence_permits",
        "schedule": timedelta(hours=24),
    },
    "protocol-requeue-unmailed-notifications": {
        "task": "protocol.requeue_unmailed_notifications",
        "schedule": timedelta(minutes=15),
    },
    # Statistics: the current year each night; the previous year's closing in early January.
    "stats-nightly-refresh": {"task": "stats.nightly_refresh", "schedule": crontab(hour=2, minute=30)},
    "stats-sweep-requests": {"task": "stats.sweep_requests", "schedule": crontab(minute="*/10")},
    "stats-annual-closing": {
        "task": "stats.annual_closing",
        "schedule": crontab(month_of_year=1, day_of_month=2, hour=3, minute=0),
    },
}

REST_FRAMEWORK = {
    # Bearer first: DRF answers 401 (with WWW-Authenticate) only when the first class can say how
    # to authenticate. Browser users keep their session, with CSRF.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.ClientCredentialsAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.TokenHasMethodScopes"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.ClientRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "client": env("API_RATE_PER_CLIENT", default="1200/min"),
        "bulk": env("API_BULK_RATE_PER_CLIENT", default="60/min"),
    },
    "DEFAULT_PARSER_CLASSES": ["api.parsers.ApiJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "api.negotiation.ApiContentNegotiation",
    "DEFAULT_SCHEMA_CLASS": "api.schema.ApiAutoSchema",
    "EXCEPTION_HANDLER": "kernel.api_errors.problem_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

# Django's defaults, plus the client-secret hasher (api.hashers), last: never used for passwords.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    "api.hashers.ClientSecretHasher",
]

# Machine clients: OAuth2 client credentials only (ADR 0005). Tokens are kept as SHA-256
# checksums, never in clear; client secrets are hashed like passwords.
OAUTH2_PROVIDER_APPLICATION_MODEL = "api.ApiClient"
OAUTH2_PROVIDER = {
    "SCOPES": {
        "cases:read": "Leer causas, víctimas e imputados (sin identidad)",
        "cases:write": "Crear y actualizar causas, víctimas e imputados",
        "identity:read": "Leer identidad donde la institución tiene acceso (auditado)",
        "identity:write": "Registrar identidad donde la institución tiene acceso",
    },
    "DEFAULT_SCOPES": ["cases:read"],
    "SCOPES_BACKEND_CLASS": "api.scopes.ClientScopes",
    "APPLICATION_ADMIN_CLASS": "api.admin.ApiClientAdmin",
    "CLIENT_SECRET_HASHER": "pbkdf2_sha256_client_secret",  # api.hashers: why not the password hasher
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],  # no redirect flows at all; https if one ever comes
    "ACCESS_TOKEN_EXPIRE_SECONDS": env.int("API_TOKEN_SECONDS", default=3600),
    # Every RFC 9700 gate on: only client credentials are used, so none costs a feature.
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
}

# Bodies: the API reads JSON up to the limit of each view (api.base.ApiView.max_body_bytes;
# a bulk of 500 cases is the largest); this global cap is the largest of them.
DATA_UPLOAD_MAX_MEMORY_SIZE = 16 * 1024 * 1024

SPECTACULAR_SETTINGS = {
    "TITLE": "API de la base de datos unificada MITP",
    "DESCRIPTION": (
        "API REST v1 para sistemas de instituciones de la Mesa Intersectorial sobre Trata de Personas "
        "(PDI, Fiscalía, Carabineros y otras). Autenticación OAuth2 de credenciales de cliente; "
        "errores en application/problem+json (RFC 9457). Guía: docs/integration.md."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENFORCE_NON_BLANK_FIELDS": True,
    "OAUTH2_FLOWS": ["clientCredentials"],
    "OAUTH2_TOKEN_URL": "/o/token/",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "RegionEnum": "kernel.choices.Region",
        # The protocol's three state machines share field names (state, action, from_state...).
        "ActivationStateEnum": "protocol.constants.ActivationState",
        "ActivationActionEnum": "protocol.constants.ActivationAction",
        "ReferralStateEnum": "protocol.constants.ReferralState",
        "ReferralActionEnum": "protocol.constants.ReferralAction",
        "ResidenceStateEnum": "protocol.constants.ResidenceState",
        "ResidenceActionEnum": "protocol.constants.ResidenceAction",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.closed_request_bodies",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    # django-axes logs every successful login at INFO; failures still reach WARNING.
    "loggers": {"axes": {"level": "WARNING"}},
}
