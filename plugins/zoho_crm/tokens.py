"""Zoho access tokens, got from the refresh token and kept in this process's memory until
shortly before they expire.

Why memory and not the database: an access token lives an hour and each worker process
can get its own (Zoho allows several live ones), so nothing is gained by storing a secret
that would then need encrypting at rest. The refresh token itself is never stored by the
portal at all: the setting names its environment variable (``env:ZOHO_REFRESH_TOKEN``).
"""

from __future__ import annotations

import hashlib
import threading
import time

import httpx

from portal.integrations.connector import PermanentFailure
from portal.integrations.http import send

#: Renew this many seconds before Zoho's ``expires_in`` runs out.
MARGIN = 120
_cache: dict[str, tuple[str, float]] = {}
_lock = threading.Lock()


def _key(accounts_url: str, client_id: str, refresh_token: str) -> str:
    digest = hashlib.sha256(refresh_token.encode()).hexdigest()
    return f"{accounts_url}|{client_id}|{digest}"


def access_token(
    http: httpx.Client,
    accounts_url: str,
    client_id: str,
    client_secret: str,
    refresh_token: str,
    *,
    renew: bool = False,
) -> str:
    """A live access token; ``renew`` drops the cached one first (Zoho said INVALID_TOKEN)."""
    key = _key(accounts_url, client_id, refresh_token)
    with _lock:
        if renew:
            _cache.pop(key, None)
        cached = _cache.get(key)
        if cached and cached[1] > time.monotonic():
            return cached[0]
    response = send(
        http,
        "POST",
        f"{accounts_url.rstrip('/')}/oauth/v2/token",
        "Zoho accounts",
        data={
            "grant_type": "refresh_token",
            "client_id": client_id,
            "client_secret": client_secret,
            "refresh_token": refresh_token,
        },
    )
    body = response.json()
    token = body.get("access_token")
    if not token:  # Zoho answers 200 with {"error": "invalid_code"} for a bad refresh token
        raise PermanentFailure(f"Zoho accounts refused the refresh token: {body.get('error')}")
    expires = float(body.get("expires_in") or 3600)
    with _lock:
        _cache[key] = (str(token), time.monotonic() + max(expires - MARGIN, 30))
    return str(token)


def forget_all() -> None:
    """Drop every cached token (tests)."""
    with _lock:
        _cache.clear()
