"""Reading a connector's settings the same way in every connector: secrets, lists, field
mappings, hosts. No database; messages go through gettext (untranslated outside a request)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flask_babel import gettext as _

from portal.integrations.connector import PermanentFailure, is_secret_reference, resolve_secret


def secret(settings: Mapping[str, Any], name: str) -> str:
    """The secret a setting holds: the outbox hands it already read from the environment,
    an inbound webhook reads the ``env:NAME`` reference itself."""
    value = settings.get(name) or ""
    if is_secret_reference(value):
        return resolve_secret(value)
    if not value:
        raise PermanentFailure(f"the setting {name} is empty")
    return str(value)


def names(value: Any) -> list[str]:
    """A list setting, given as a list or as text separated by commas or new lines."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        items = [str(v) for v in value]
    else:
        items = str(value).replace("\n", ",").split(",")
    return [item.strip() for item in items if item.strip()]


def mapping(value: Any) -> dict[str, str]:
    """A mapping setting, given as a dict or as ``portal_field = remote_field`` lines."""
    if not value:
        return {}
    if isinstance(value, Mapping):
        return {str(k).strip(): str(v).strip() for k, v in value.items()}
    found: dict[str, str] = {}
    for line in str(value).splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, remote = line.partition("=")
        if key.strip() and remote.strip():
            found[key.strip()] = remote.strip()
    return found


def mapping_problems(value: Any) -> str | None:
    """What is wrong with a mapping given as text, or None."""
    if not value or isinstance(value, Mapping):
        return None
    for number, line in enumerate(str(value).splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, remote = line.partition("=")
        if not sep or not key.strip() or not remote.strip():
            return _("line %(number)s: write portal_field = remote_field", number=number)
    return None


def host_of(url: str) -> str:
    """``host`` or ``host:port`` of a URL, as ``client_for`` wants it."""
    parts = urlsplit(url)
    if not parts.hostname:
        return ""
    return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname


def url_problem(value: Any, *, required: bool = True) -> str | None:
    """What is wrong with a base URL setting, or None."""
    if not value:
        return _("give the address") if required else None
    parts = urlsplit(str(value))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return _("give an address that starts with https://")
    if parts.username or parts.password:
        return _("do not put a user name or password in the address; use the secret settings")
    return None


def secret_problem(value: Any, *, required: bool = True) -> str | None:
    """What is wrong with a secret setting, or None: it must be an ``env:NAME`` reference."""
    if not value:
        return _("name the environment variable that holds it: env:NAME") if required else None
    if not is_secret_reference(value):
        return _("never paste the secret itself; name its environment variable: env:NAME")
    return None


def marker_for(number: str) -> str:
    """The marker a request leaves on what it made remotely: ``portal-CR-2026-00042``."""
    return f"portal-{number}"


_DECISIONS = {"approve": "approved", "reject": "rejected", "send_back": "sent_back",
              "confirm": "confirmed", "decline": "declined"}  # fmt: skip


def decision_of(payload: Mapping[str, Any]) -> str:
    """A ``step.decided`` event's decision in past tense (``approve`` reads ``approved``)."""
    decision = str(payload.get("decision") or "")
    return _DECISIONS.get(decision, decision)
