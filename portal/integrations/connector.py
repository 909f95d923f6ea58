"""What a connector plug-in implements, and what the portal hands it for each delivery.

A connector is registered through the ``register_connectors`` hook. The portal stores each
event in its outbox in the same transaction as the change that caused it, then calls the
connector's ``deliver`` once per (event, form setting) until it succeeds, gives up, or an
admin retries it. ``deliver`` may therefore run more than once for one event (a crash or a
timeout after the remote side acted): it must find what it made before (``links`` first,
then the vendor's own means: an upsert key, a marker label and a search) instead of
creating a second record.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    import httpx

#: The events the portal records: a request was submitted, revised after a send-back, a
#: step was decided (approved, rejected, sent back, done, confirmed…), or the request closed.
EVENT_NAMES = ("request.submitted", "request.revised", "step.decided", "request.closed")


@dataclass(frozen=True)
class Event:
    """One recorded event, as connectors and event hooks see it.

    ``payload`` is plain JSON: ``number``, ``title``, ``form``, ``status``, ``impact``,
    ``priority``, ``answers``, ``url`` (the request's page), and for ``step.decided`` also
    ``step``, ``decision``, ``step_status`` (the step's status after the decision: still
    ``active`` when a board waits for more votes), ``actor`` and ``comment``.
    """

    id: int
    name: str
    request_id: int
    occurred_at: datetime
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class SettingField:
    """One setting an admin gives a connector for a form.

    ``kind``: ``text``, ``url``, ``choice`` (one of ``choices``), ``mapping`` (portal field →
    remote field, one per line ``portal_field = remote_field``) or ``secret``. A secret is
    never stored: the admin names an environment variable (``env:JIRA_API_TOKEN``) and the
    portal reads it at delivery time.
    """

    name: str
    label: str
    kind: Literal["text", "url", "choice", "mapping", "secret"] = "text"
    required: bool = False
    help: str = ""
    choices: Sequence[tuple[str, str]] = ()
    default: str = ""


@dataclass(frozen=True)
class ExternalLink:
    """A record a connector made in another tool for a request (an issue, a card…)."""

    connector: str
    kind: str
    key: str
    url: str | None = None


class Links(Protocol):
    """The records a connector already made for the request being delivered."""

    def get(self, kind: str) -> ExternalLink | None: ...

    def remember(self, kind: str, key: str, url: str | None = None) -> ExternalLink: ...


@dataclass
class Delivery:
    """Everything ``Connector.deliver`` gets for one attempt."""

    event: Event
    #: The form's settings for this connector, secrets already read from the environment.
    settings: dict[str, Any]
    #: The only way out: an HTTP client that refuses hosts other than the configured ones,
    #: follows no redirects and times out (``portal.integrations.http``).
    http: httpx.Client
    links: Links
    attempt: int = 1
    #: Where the request can be read in the portal, for links back.
    request_url: str = ""
    notes: list[str] = field(default_factory=list)


class Connector(Protocol):
    """A connector plug-in: ``name`` is its registry key (``jira``), ``label`` its title.

    ``delivery.http`` reaches only the hosts of the settings' ``url`` fields. A connector
    whose API lives elsewhere (a fixed vendor host such as ``api.trello.com``, or hosts
    derived from a data-centre choice) may also define ``allowed_hosts(settings) ->
    Iterable[str]``, called with the resolved settings before each delivery.
    """

    name: str
    label: str
    settings_fields: Sequence[SettingField]
    default_events: Sequence[str]

    def check_settings(self, settings: Mapping[str, Any]) -> dict[str, str]:
        """Problems with an admin's settings, by setting name (empty when all is well)."""
        ...

    def deliver(self, delivery: Delivery) -> str | None:
        """Hand the event over; return a short line for the outbox page (``created PROJ-12``).

        Raise ``RetryLater`` for a passing failure, ``PermanentFailure`` for one that will not
        mend by itself; any other exception counts as passing.
        """
        ...


class DeliveryFailed(Exception):
    """A delivery did not go through; ``message`` is what the admin reads on the outbox page."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RetryLater(DeliveryFailed):
    """A passing failure (timeout, 5xx, 429): try again, not before ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentFailure(DeliveryFailed):
    """A failure that will not mend by itself (bad token, unknown project): dead-letter now."""


SECRET_PREFIX = "env:"


def is_secret_reference(value: object) -> bool:
    """Whether ``value`` names an environment variable (``env:NAME``) rather than a secret."""
    return (
        isinstance(value, str)
        and value.startswith(SECRET_PREFIX)
        and value[len(SECRET_PREFIX) :].replace("_", "").isalnum()
    )


def resolve_secret(reference: str) -> str:
    """The secret an ``env:NAME`` reference names; ``PermanentFailure`` when it is not set."""
    if not is_secret_reference(reference):
        raise PermanentFailure("a secret must be given as env:VARIABLE_NAME")
    name = reference[len(SECRET_PREFIX) :]
    value = os.environ.get(name)
    if not value:
        raise PermanentFailure(f"the environment variable {name} is not set")
    return value


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """A ``Retry-After`` header in seconds: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    from datetime import UTC
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = now or datetime.now(UTC)
    return max((when - now).total_seconds(), 0.0)


def raise_for_vendor(response: httpx.Response, vendor: str) -> None:
    """Turn a vendor's error answer into the right failure, with the vendor's own message.

    429 and 5xx (and 408) pass; another 4xx is permanent (a bad token, a missing project).
    """
    if response.is_success:
        return
    message = f"{vendor} answered {response.status_code}: {_vendor_message(response)}"
    if response.status_code == 429:
        raise RetryLater(message, retry_after_seconds(response.headers.get("Retry-After")))
    if response.status_code >= 500 or response.status_code == 408:
        raise RetryLater(message, retry_after_seconds(response.headers.get("Retry-After")))
    raise PermanentFailure(message)


def _vendor_message(response: httpx.Response) -> str:
    """The error text a vendor put in its answer (JSON ``errorMessages``, ``message``…)."""
    try:
        body = response.json()
    except ValueError:
        return (response.text or response.reason_phrase or "").strip()[:500]
    if isinstance(body, Mapping):
        parts: list[str] = []
        for key in ("errorMessages", "errors", "message", "error", "code", "details"):
            value = body.get(key)
            if isinstance(value, list | tuple):
                parts += [str(v) for v in value if v]
            elif isinstance(value, Mapping):
                parts += [f"{k}: {v}" for k, v in value.items()]
            elif value:
                parts.append(str(value))
        if parts:
            return "; ".join(parts)[:500]
    return str(body)[:500]
