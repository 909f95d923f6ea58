"""What each row of a list of requests shows, made once per page rather than once per row:
the list and the inbox draw 50 rows each, and building a URL or translating a status label
for every one of them was a good part of the page's time."""

from __future__ import annotations

import re

from flask import g, request, url_for

from portal.requests.models import RequestStatus

# Request numbers are made of these (CR-2026-00042); anything else goes through url_for.
_PLAIN_NUMBER = re.compile(r"[A-Za-z0-9._~-]+")


def request_path(number: str) -> str:
    """The request page's address, exactly as ``url_for("requests.detail", ...)`` gives it."""
    if not _PLAIN_NUMBER.fullmatch(number):
        return url_for("requests.detail", number=number)
    prefixes = g.setdefault("portal_request_paths", {})
    prefix = prefixes.get(request.script_root)
    if prefix is None:
        prefix = prefixes[request.script_root] = url_for("requests.detail", number="0")[:-1]
    return prefix + number


def status_labels() -> dict[str, str]:
    """Every status's label in the current language, for a page to look rows up in."""
    return {status.value: status.label for status in RequestStatus}
