"""An admin's connector settings for one form, checked against the connector's
``settings_fields``. Pure: no Flask, no database; the caller hands in its ``gettext``.

A secret is accepted only as an ``env:NAME`` reference, so no secret ever reaches the
database; a value typed in its place is refused and never shown again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from portal.integrations.connector import EVENT_NAMES, SettingField, is_secret_reference


def N_(msgid: str) -> str:  # noqa: N802
    """Marks a message for extraction; it is translated where it is shown."""
    return msgid


SECRET_MESSAGE = N_(
    "Give the name of an environment variable that holds the secret, as env:VARIABLE_NAME. "
    "Secrets are never stored in the portal."
)


@dataclass
class Checked:
    enabled: bool
    events: list[str]
    settings: dict[str, str]
    #: setting name (or ``events``, or ``""`` for the whole form) -> messages
    errors: dict[str, list[str]] = field(default_factory=dict)

    def add(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)


def check_submission(
    fields: Sequence[SettingField],
    form: Mapping[str, Any],
    chosen_events: Iterable[str],
    gettext: Callable[[str], str] = str,
) -> Checked:
    """The settings an admin sent, each checked by its kind; unknown events are refused.
    ``gettext`` translates the messages (the caller's ``flask_babel.gettext``)."""
    _ = gettext
    chosen_events = list(chosen_events)
    events = [e for e in EVENT_NAMES if e in set(chosen_events)]
    unknown = sorted(set(chosen_events) - set(EVENT_NAMES))
    checked = Checked(enabled=bool(form.get("enabled")), events=events, settings={})
    if unknown:
        checked.add("events", _("Unknown events: %(names)s") % {"names": ", ".join(unknown)})
    for f in fields:
        value = str(form.get(f"setting-{f.name}", "") or "").strip()
        if f.kind == "mapping":
            value = "\n".join(line.strip() for line in value.splitlines() if line.strip())
        checked.settings[f.name] = value
        if not value:
            if f.required:
                checked.add(f.name, _("This setting is required."))
            continue
        if f.kind == "secret" and not is_secret_reference(value):
            checked.settings[f.name] = ""  # never kept, never shown again
            checked.add(f.name, _(SECRET_MESSAGE))
        elif f.kind == "url":
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                checked.add(f.name, _("Give a full address starting with https://."))
        elif f.kind == "choice" and value not in {key for key, _label in f.choices}:
            checked.add(f.name, _("Choose one of the offered values."))
        elif f.kind == "mapping":
            for number, line in enumerate(value.splitlines(), 1):
                left, sep, right = line.partition("=")
                if not sep or not left.strip() or not right.strip():
                    checked.add(
                        f.name,
                        _("Line %(number)d: write portal_field = remote_field.")
                        % {"number": number},
                    )
    return checked


def add_connector_problems(checked: Checked, problems: Mapping[str, str], names: set[str]) -> None:
    """The connector's own ``check_settings`` answers, beside their fields (or on top)."""
    for name, message in problems.items():
        checked.add(name if name in names else "", str(message))
