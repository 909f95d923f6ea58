"""Portal configuration, read from ``PORTAL_*`` environment variables.

Every setting has a default that suits the embedded single-machine set-up (SQLite in the
instance folder); a deployment changes behaviour through the environment only, never by
editing code. Values that depend on the instance folder (the SQLite file, the upload
folder, the generated secret key) are filled in by ``create_app`` once that folder is known.
"""

from __future__ import annotations

import os


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(f"PORTAL_{name}")
    return value if value not in (None, "") else default


def _env_int(name: str, default: int) -> int:
    return int(_env(name, str(default)))


def _env_bool(name: str, default: bool) -> bool:
    return (_env(name, "1" if default else "0") or "").lower() in {"1", "true", "yes", "on"}


class Config:
    """Settings for a running portal. Read once, when the class is defined."""

    # Database: None means "an SQLite file in the instance folder" (WAL mode, busy timeout).
    SQLALCHEMY_DATABASE_URI = _env("DATABASE_URL")
    SQLITE_BUSY_TIMEOUT_MS = _env_int("SQLITE_BUSY_TIMEOUT_MS", 5000)

    # Secret key: None means "generated once and kept in instance/secret_key".
    SECRET_KEY = _env("SECRET_KEY")

    # Uploads: None means "instance/uploads". One file may be at most UPLOAD_MAX_FILE_MB,
    # one request body at most UPLOAD_MAX_REQUEST_MB (beyond it the portal answers 413).
    UPLOAD_FOLDER = _env("UPLOAD_FOLDER")
    UPLOAD_MAX_FILE_MB = _env_int("UPLOAD_MAX_FILE_MB", 10)
    UPLOAD_MAX_REQUEST_MB = _env_int("UPLOAD_MAX_REQUEST_MB", 25)
    XLSFORM_MAX_MB = _env_int("XLSFORM_MAX_MB", 5)  # an XLSForm spreadsheet to import

    # Language and time zone for people who have not chosen their own.
    BABEL_DEFAULT_LOCALE = _env("DEFAULT_LANGUAGE", "en")
    BABEL_DEFAULT_TIMEZONE = _env("DEFAULT_TIMEZONE", "UTC")

    # Deadlines in working time: whose public holidays count when no calendar is set.
    HOLIDAY_COUNTRY = _env("HOLIDAY_COUNTRY")
    HOLIDAY_SUBDIVISION = _env("HOLIDAY_SUBDIVISION")

    # Outgoing mail.
    MAIL_SERVER = _env("SMTP_HOST")  # no server: notifications stay in the portal's bell
    MAIL_PORT = _env_int("SMTP_PORT", 25)
    MAIL_USERNAME = _env("SMTP_USERNAME")
    MAIL_PASSWORD = _env("SMTP_PASSWORD")
    MAIL_USE_TLS = _env_bool("SMTP_STARTTLS", False)
    MAIL_USE_SSL = _env_bool("SMTP_SSL", False)
    MAIL_SENDER = _env("MAIL_FROM", "portal@localhost")
    # The address people reach the portal at, for links in e-mails.
    BASE_URL = _env("BASE_URL", "http://127.0.0.1:5000")

    # The outbox: attempts before a delivery is dead; how long a worker's claim holds (longer
    # than any connector call); the connectors' HTTP timeout in seconds (empty: 10 s, 5 s to
    # connect).
    OUTBOX_MAX_ATTEMPTS = _env_int("OUTBOX_MAX_ATTEMPTS", 8)
    OUTBOX_LEASE_SECONDS = _env_int("OUTBOX_LEASE_SECONDS", 300)
    OUTBOX_TIMEOUT_SECONDS = _env("OUTBOX_TIMEOUT_SECONDS")

    # Sign-in: a login session ends after this long without activity, or this long at most.
    SESSION_IDLE_MINUTES = _env_int("SESSION_IDLE_MINUTES", 12 * 60)
    SESSION_MAX_HOURS = _env_int("SESSION_MAX_HOURS", 14 * 24)
    # Failed sign-ins allowed per e-mail address (and, times four, per address of origin)
    # within LOGIN_THROTTLE_MINUTES before further attempts are refused.
    LOGIN_MAX_FAILURES = _env_int("LOGIN_MAX_FAILURES", 5)
    LOGIN_THROTTLE_MINUTES = _env_int("LOGIN_THROTTLE_MINUTES", 15)

    # Cookies: Secure only when served over HTTPS (set PORTAL_SECURE_COOKIES=1 in production).
    SESSION_COOKIE_NAME = "portal_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _env_bool("SECURE_COOKIES", False)
    PREFERRED_URL_SCHEME = "https" if SESSION_COOKIE_SECURE else "http"

    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the browser session
    WTF_CSRF_HEADERS = ["X-CSRFToken", "X-CSRF-Token"]

    COMPRESS_ALGORITHM = ["gzip"]
    # Flask serves scripts as text/javascript: without it htmx would travel uncompressed.
    COMPRESS_MIMETYPES = [
        "text/html",
        "text/css",
        "text/javascript",
        "application/javascript",
        "application/json",
        "image/svg+xml",
    ]
    # Static files are named by content where it changes (htmx-2.0.11) or are small.
    SEND_FILE_MAX_AGE_DEFAULT = 3600

    # Forms found here are imported by `portal demo` (the shipped change-request form).
    DEMO = False
    TESTING = False


class TestConfig(Config):
    """Settings for the test suite: a throw-away database, fast hashing, no compression.

    ``PORTAL_TEST_DATABASE_URL`` points the suite at PostgreSQL; without it the tests use
    an SQLite file the fixtures create.
    """

    TESTING = True
    SQLALCHEMY_DATABASE_URI = os.environ.get("PORTAL_TEST_DATABASE_URL") or None
    SECRET_KEY = None  # generated in the test instance folder, like a real installation
    PASSWORD_HASH_FAST = True
    SERVER_NAME = None
    LOGIN_MAX_FAILURES = 5
