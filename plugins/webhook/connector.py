"""The outgoing webhook: each event POSTed as JSON to an address the admin gives, signed.

Headers a receiver reads:

- ``Portal-Signature: t=<unix time>,v1=<hex>``: HMAC-SHA256, keyed with the shared secret,
  over ``<t>.<raw body>`` (Stripe's scheme): the receiver recomputes it, compares in constant
  time and refuses a ``t`` older than a few minutes, which stops replays of an old call.
- ``Portal-Delivery``: the event's id, the same on every retry, so a receiver drops a
  duplicate it already handled.
- ``Portal-Event``: the event's name.

Any 2xx is success; a redirect is not followed and counts as a failure, like any 4xx.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l

from portal.integrations.connector import EVENT_NAMES, Delivery, Event, SettingField
from portal.integrations.http import send
from portal.integrations.values import host_of, secret, secret_problem, url_problem


def body_of(event: Event) -> bytes:
    """The JSON the receiver gets: the event and its payload, keys sorted."""
    document = {
        "id": event.id,
        "event": event.name,
        "occurred_at": event.occurred_at.isoformat(),
        "request_id": event.request_id,
        "data": dict(event.payload),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), default=str).encode()


def signature_header(secret_value: str, body: bytes, timestamp: int) -> str:
    """``t=…,v1=…`` for ``body`` signed at ``timestamp``."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret_value.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class WebhookConnector:
    name = "webhook"
    label = _l("Outgoing webhook")
    default_events = EVENT_NAMES
    settings_fields = (
        SettingField("url", _l("Address to POST to"), "url", True),
        SettingField("secret", _l("Signing secret"), "secret", True,
                     _l("env:PORTAL_WEBHOOK_SECRET; the receiver keeps the same value.")),
    )  # fmt: skip

    def check_settings(self, settings: Mapping[str, Any]) -> dict[str, str]:
        problems: dict[str, str] = {}
        if problem := url_problem(settings.get("url")):
            problems["url"] = problem
        if problem := secret_problem(settings.get("secret")):
            problems["secret"] = problem
        return problems

    def allowed_hosts(self, settings: Mapping[str, Any]) -> list[str]:
        return [host_of(str(settings.get("url") or ""))]

    def deliver(self, delivery: Delivery) -> str | None:
        body = body_of(delivery.event)
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "Portal-Signature": signature_header(
                secret(delivery.settings, "secret"), body, timestamp
            ),
            "Portal-Delivery": str(delivery.event.id),
            "Portal-Event": delivery.event.name,
        }
        response = send(delivery.http, "POST", str(delivery.settings["url"]), "The receiver",
                        content=body, headers=headers)  # fmt: skip
        return f"delivered ({response.status_code})"


def example_settings(url: str, **overrides: Any) -> dict[str, Any]:
    """A complete webhook setting (tests, the demo)."""
    return {"url": url, "secret": "env:PORTAL_WEBHOOK_SECRET", **overrides}


connector = WebhookConnector()
