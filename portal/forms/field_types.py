"""What a field type is: how it is defined, entered, checked, stored and shown.

Built-in types and plug-in types are the same kind of object, registered through the
``register_field_types`` hook. A type turns a ``FieldDef`` into a WTForms field for entry
and validation, converts the validated value into JSON for storage, and formats a stored
value for reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from markupsafe import Markup
from wtforms.fields.core import UnboundField

from portal.forms.definition import FieldDef, FieldTypeRules


@dataclass(frozen=True)
class EntryContext:
    """What a field needs to know about the person filling it in."""

    locale: str
    default_language: str
    timezone: tzinfo


@dataclass(frozen=True)
class DisplayContext:
    """What a stored value needs to be shown to a reader: their language and zone, and how
    to link a stored file."""

    locale: str
    default_language: str
    timezone: tzinfo
    file_url: Any = None  # callable(attachment id) -> url, or None to show names only


class FieldType:
    """Base class for field types. Subclasses set ``rules`` and ``widget`` and override
    ``make_field``; the storage and display defaults suit plain text values."""

    rules: FieldTypeRules
    #: the macro in ``forms/_widgets.html`` that draws the input
    widget: str = "input"
    #: the HTML input type, chosen so a phone shows the right keyboard
    input_type: str = "text"
    inputmode: str | None = None
    autocomplete: str | None = None
    #: whether the browser sends several values under the field's name
    multi_valued: bool = False

    @property
    def name(self) -> str:
        return self.rules.name

    def make_field(self, field: FieldDef, label: str, ctx: EntryContext) -> UnboundField | None:
        """The WTForms field that takes this answer, or None when the type holds no value."""
        raise NotImplementedError

    def to_storage(self, data: Any, field: FieldDef, ctx: EntryContext) -> Any:
        """The validated form data as a JSON value, or None when empty."""
        return data if data not in ("", None, []) else None

    def to_formdata(self, value: Any, field: FieldDef, ctx: EntryContext) -> dict[str, Any]:
        """A stored value as the browser would post it (``{name: text or [texts]}``), to
        fill the form again when a request is revised."""
        if value is None:
            return {}
        if isinstance(value, list):
            return {field.name: [str(item) for item in value]}
        return {field.name: str(value)}

    def display(self, value: Any, field: FieldDef | None, ctx: DisplayContext) -> str | Markup:
        """A stored value as a reader sees it. ``field`` is None when the form version that
        holds this answer no longer knows the field: show the raw value then."""
        if value is None or value == "" or value == []:
            return ""
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        return str(value)
