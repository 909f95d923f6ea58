"""What a request brings in, made safe for the database once for the whole portal, so that
odd input is a plain "not found" or a message beside a field, never a server error.

- A number in an address (``<int:…>``) matches only when an id column can hold it: every
  id in the schema is a 32-bit ``INTEGER`` (see ``migrations/versions``), so a larger
  number names nothing and is a 404 like any unknown id, instead of overflowing the
  driver (SQLite: ``OverflowError``; PostgreSQL: "integer out of range").
- A text part of an address (``<name>``, ``<number>``) with a NUL character names
  nothing either: PostgreSQL refuses NUL in text, and no name has one.
- NUL characters are dropped from every form field and query-string value (and name):
  nobody types one, PostgreSQL refuses them in text, and what else was typed is kept.
- NUL characters are dropped from the request's headers too (gunicorn refuses them, not
  every server in front of the portal does): the User-Agent is stored with each sign-in.
- ``request.args.get(key, type=int)`` (and ``request.form``'s) answers the default for a
  number no INTEGER column holds, as it does for one that is no number at all.

Uploaded files' bytes are not touched (``portal.forms.uploads`` checks them), nor are raw
bodies: inbound webhooks read ``request.get_data()``, the bytes their signature covers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from htmx_flask.requests import HtmxAwareRequest
from werkzeug.datastructures import ImmutableMultiDict, MultiDict
from werkzeug.routing import (
    BaseConverter,
    IntegerConverter,
    Map,
    UnicodeConverter,
    ValidationError,
)

#: The largest id the schema holds: ids (and the foreign keys to them) are ``INTEGER``,
#: which is 32 bits on PostgreSQL; SQLite's integers are wider, so this bound fits both.
LARGEST_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """``<int:…>``: a whole number from 0 up to :data:`LARGEST_ID`.

    0 is let through because a few addresses count places from 0 (a chain's steps); as an
    id it simply finds nothing. Anything larger than an ``INTEGER`` column holds does not
    match the rule, so the answer is the same 404 as for an unknown id."""

    def __init__(
        self,
        map: Map,
        fixed_digits: int = 0,
        min: int | None = None,
        max: int | None = LARGEST_ID,
        signed: bool = False,
    ) -> None:
        super().__init__(map, fixed_digits, min, max, signed)


class TextConverter(UnicodeConverter):
    """``<name>``: one part of an address, without NUL (which no name or number holds)."""

    def to_python(self, value: str) -> str:
        if "\x00" in value:
            raise ValidationError()
        return value


def _without_nul(value: Any) -> Any:
    return value.replace("\x00", "") if isinstance(value, str) else value


class TypedInput(ImmutableMultiDict):
    """``request.form`` and ``request.args`` (and the names in ``request.files``): what was
    typed, less any NUL character; files themselves are kept as they came."""

    def __init__(self, mapping: Any = None) -> None:
        pairs = MultiDict(mapping).items(multi=True)
        super().__init__([(_without_nul(key), _without_nul(value)) for key, value in pairs])

    def get(self, key: str, default: Any = None, type: Callable | None = None) -> Any:
        value = super().get(key, default, type)
        if type is int and value is not default and not -LARGEST_ID - 1 <= value <= LARGEST_ID:
            return default  # a number no INTEGER column holds: as if it were not a number
        return value


class PortalRequest(HtmxAwareRequest):
    """The request as htmx-flask gives it (``request.htmx``), with :class:`TypedInput`, and
    headers without NUL characters (the browser's name is kept with each sign-in)."""

    parameter_storage_class = TypedInput

    def __init__(self, environ: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        for key, value in environ.items():
            if key.startswith("HTTP_") and "\x00" in value:
                environ[key] = value.replace("\x00", "")
        super().__init__(environ, *args, **kwargs)


CONVERTERS: dict[str, type[BaseConverter]] = {
    "int": IdConverter,
    "default": TextConverter,
    "string": TextConverter,
}


def init_app(app: Flask) -> None:
    """After htmx-flask's ``init_app`` (which sets its own request class) and before any
    route is added (a rule looks its converters up when it is added)."""
    app.request_class = PortalRequest
    app.url_map.converters.update(CONVERTERS)
