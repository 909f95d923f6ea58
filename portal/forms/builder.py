"""Turns a form definition into a WTForms form for one person filling it in.

Only the fields visible for the current answers are validated (``visible_if`` is applied
on the server exactly as in the page), and only their answers are kept on submit.
"""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict

from portal.forms.definition import FormDef, localize, visible_field_names
from portal.forms.field_types import EntryContext, FieldType


class EntryForm(FlaskForm):
    """Base for the generated forms; subclasses gain one attribute per answer field."""

    class Meta:
        csrf = True


# A published definition never changes, so its form class for one language and zone can be
# built once: building it on every keystroke's autosave was a cost of every request.
_classes: dict[tuple, type] = {}


def form_class_for(
    checksum: str, form_def: FormDef, types: dict[str, FieldType], ctx: EntryContext
) -> type:
    """The WTForms class of a published version for this reader, built once."""
    key = (checksum, id(types), ctx.locale, str(ctx.timezone))
    found = _classes.get(key)
    if found is None:
        if len(_classes) > 512:
            _classes.clear()
        found = _classes[key] = build_form_class(form_def, types, ctx)
    return found


def build_form_class(form_def: FormDef, types: dict[str, FieldType], ctx: EntryContext) -> type:
    attributes: dict[str, Any] = {}
    for field in form_def.fields:
        label = localize(field.label, ctx.locale, form_def.default_language)
        unbound = types[field.type].make_field(field, label, ctx)
        if unbound is not None:
            attributes[field.name] = unbound
    return type(f"Entry_{form_def.name.replace('-', '_')}", (EntryForm,), attributes)


def answers_from_formdata(
    form_def: FormDef, formdata: MultiDict, types: dict[str, FieldType]
) -> dict[str, Any]:
    """The raw answers as the browser sent them: what conditions see, and what a draft keeps."""
    raw: dict[str, Any] = {}
    for field in form_def.fields:
        if not field.has_value:
            continue
        values = formdata.getlist(field.name)
        if types[field.type].multi_valued:
            raw[field.name] = values
        elif values:
            raw[field.name] = values[0]
        currency = formdata.get(f"{field.name}__currency")
        if currency is not None:
            raw[f"{field.name}__currency"] = currency
    return raw


def draft_formdata(answers: dict[str, Any]) -> MultiDict:
    """A draft's stored raw answers as form data, to fill the form in again."""
    data = MultiDict()
    for key, value in (answers or {}).items():
        for item in value if isinstance(value, list) else [value]:
            data.add(key, "" if item is None else str(item))
    return data


def visible_names(form_def: FormDef, raw: dict[str, Any]) -> set[str]:
    return visible_field_names(form_def, raw)


def validate_visible(form: EntryForm, form_def: FormDef, visible: set[str]) -> bool:
    """Validate the CSRF token and every visible field; hidden fields keep no errors."""
    success = True
    for name, bound in form._fields.items():
        if name != "csrf_token" and name not in visible:
            bound.errors = []
            continue
        if not bound.validate(form):
            success = False
    return success
