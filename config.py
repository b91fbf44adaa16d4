"""Configuration classes read from the environment.

Production refuses to start without SECRET_KEY; no secret has a fallback value.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _list(name: str, default: str = "") -> tuple[str, ...]:
    value = os.environ.get(name, default)
    return tuple(item.strip().lower() for item in value.split(",") if item.strip())


# Development and tests only: a fixed, public key, so keys stored there survive a restart.
DEV_GATEWAY_KEYS_SECRET = "RInyiv01r6HNezqgNMJjuXc1dpy3vDj27tdmBbc08XE="


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY")
    # Keys the audit hash chain (HMAC), so someone who can write to the database cannot recompute it.
    AUDIT_KEY = os.environ.get("AUDIT_KEY")
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{BASE_DIR / 'instance' / 'porchlight.sqlite3'}"
    )
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    # Uploaded files (photos, documents, attachments), named by their hash: back it up with the database.
    STORAGE_DIR = os.environ.get("STORAGE_DIR") or str(BASE_DIR / "instance" / "files")
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", True)
    REMEMBER_COOKIE_DURATION = 0
    WTF_CSRF_TIME_LIMIT = None  # the session lifetime bounds the token
    PERMANENT_SESSION_LIFETIME = 12 * 3600  # absolute session lifetime, seconds
    # A shared document (PDF, JPEG, PNG, DOCX) may be this large; the request limit leaves room for
    # the form around it, and a larger request is refused with 413 before any view reads it.
    DOCUMENT_MAX_BYTES = 20 * 1024 * 1024
    MAX_CONTENT_LENGTH = DOCUMENT_MAX_BYTES + 1024 * 1024

    # Number of trusted proxies in front of the app (0: none; requests come straight in).
    PROXY_HOPS = int(os.environ.get("PROXY_HOPS", "0"))
    # Requests are answered for an agency's own host and for these hosts (served by the default
    # agency); any other Host header gets a 400. Links in mail never use the request's host.
    DEFAULT_AGENCY_HOSTS = _list("TRUSTED_HOSTS")
    # Links in mail: https://<Agency.host>[:PUBLIC_PORT]/...
    PREFERRED_URL_SCHEME = os.environ.get("PREFERRED_URL_SCHEME", "https")
    PUBLIC_PORT = os.environ.get("PUBLIC_PORT") or None
    HSTS_SECONDS = 0  # Strict-Transport-Security max-age; production sends it

    COMPRESS_MIMETYPES = [
        "text/html",
        "text/css",
        "text/plain",
        "text/calendar",
        "text/javascript",
        "application/javascript",
        "application/json",
        "image/svg+xml",
    ]
    COMPRESS_ALGORITHM = ["br", "gzip"]
    COMPRESS_MIN_SIZE = 500

    RATELIMIT_STORAGE_URI = os.environ.get("REDIS_URL", "memory://")
    RATELIMIT_LOGIN = os.environ.get("RATELIMIT_LOGIN", "20 per minute")
    RATELIMIT_HEADERS_ENABLED = True

    MAIL_SERVER = os.environ.get("MAIL_SERVER", "127.0.0.1")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
    MAIL_USE_TLS = _bool("MAIL_USE_TLS")
    MAIL_USE_SSL = _bool("MAIL_USE_SSL")
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "Porchlight <no-reply@localhost>")
    MAIL_TIMEOUT_SECONDS = float(os.environ.get("MAIL_TIMEOUT_SECONDS", "10"))
    MAIL_MAX_ATTEMPTS = int(os.environ.get("MAIL_MAX_ATTEMPTS", "8"))

    # argon2id: RFC 9106 second recommended option (64 MiB, t=3).
    ARGON2_TIME_COST = 3
    ARGON2_MEMORY_COST = 64 * 1024
    ARGON2_PARALLELISM = 4

    LOGIN_LOCK_THRESHOLD = 5  # failed passwords before the account is locked for a while
    LOGIN_LOCK_BASE_SECONDS = 60  # doubles with each further failure, capped at one day
    SECURITY_ANSWER_MAX_ATTEMPTS = 3

    DEFAULT_AGENCY_SLUG = os.environ.get("DEFAULT_AGENCY_SLUG", "sunrise")
    STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY")
    STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET")
    # Seals each agency's own gateway keys in the database (a Fernet key: 32 bytes, url-safe base64;
    # `python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`).
    # Optional: without it, office settings refuse to store keys and the STRIPE_* keys above serve.
    GATEWAY_KEYS_SECRET = os.environ.get("GATEWAY_KEYS_SECRET")
    BABEL_DEFAULT_LOCALE = "en"
    BABEL_SUPPORTED_LOCALES = ("en", "es")
    # Relative to the app package (app/translations); the compiled .mo files are built by `make`.
    BABEL_TRANSLATION_DIRECTORIES = "translations"


class DevelopmentConfig(Config):
    DEBUG = False
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
    DEFAULT_AGENCY_HOSTS = _list("TRUSTED_HOSTS", "127.0.0.1,localhost")
    PREFERRED_URL_SCHEME = os.environ.get("PREFERRED_URL_SCHEME", "http")
    PUBLIC_PORT = os.environ.get("PUBLIC_PORT", "5000")  # `make run` serves on port 5000
    GATEWAY_KEYS_SECRET = os.environ.get("GATEWAY_KEYS_SECRET", DEV_GATEWAY_KEYS_SECRET)


class TestingConfig(Config):
    TESTING = True
    SECRET_KEY = "test-secret-key-not-for-production"
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    AUDIT_KEY = "test-audit-key-not-for-production"
    GATEWAY_KEYS_SECRET = DEV_GATEWAY_KEYS_SECRET
    SESSION_COOKIE_SECURE = False
    SERVER_NAME = None
    DEFAULT_AGENCY_HOSTS = ("localhost", "127.0.0.1")
    PREFERRED_URL_SCHEME = "http"
    PUBLIC_PORT = None
    RATELIMIT_STORAGE_URI = "memory://"
    MAIL_SUPPRESS_SEND = False
    MAIL_TIMEOUT_SECONDS = 5
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 8
    ARGON2_PARALLELISM = 1


class ProductionConfig(Config):
    HSTS_SECONDS = int(os.environ.get("HSTS_SECONDS", str(365 * 24 * 3600)))

    @classmethod
    def check(cls) -> None:
        for name in ("SECRET_KEY", "AUDIT_KEY"):
            if not getattr(cls, name):
                raise RuntimeError(f"{name} must be set in production")


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
