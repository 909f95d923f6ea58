"""Publishing form definitions and reading them back.

A definition is checked completely before anything is written: a definition with errors
is refused whole. Publishing an unchanged definition makes no new version.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import current_app
from sqlalchemy import select

from portal.extensions import db
from portal.forms.definition import FieldTypeRules, FormDef, load_definition
from portal.forms.field_types import FieldType
from portal.forms.models import Form, FormVersion


def field_types() -> dict[str, FieldType]:
    """The field types of the running app (built-in and plug-in)."""
    return current_app.extensions["portal.registries"].field_types


def field_rules() -> dict[str, FieldTypeRules]:
    return {name: field_type.rules for name, field_type in field_types().items()}


def check_definition(data: Any) -> FormDef:
    """The definition as a ``FormDef``; raises ``DefinitionError`` listing every problem."""
    return load_definition(data, field_rules())


def checksum(data: dict) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def publish(data: Any, published_by_id: int | None = None) -> tuple[FormVersion, bool]:
    """Publish a definition as the newest version of its form.

    Returns the version and whether it is new (False when the published one is identical).
    The caller commits.
    """
    form_def = check_definition(data)
    canonical = form_def.to_dict()
    digest = checksum(canonical)
    form = db.session.scalar(select(Form).where(Form.name == form_def.name))
    if form is None:
        form = Form(name=form_def.name)
        db.session.add(form)
    latest = form.published
    if latest is not None and latest.checksum == digest:
        return latest, False
    version = FormVersion(
        form=form,
        number=(latest.number + 1) if latest else 1,
        definition=canonical,
        checksum=digest,
        published_by_id=published_by_id,
    )
    db.session.add(version)
    return version, True


def published_form(name: str) -> Form | None:
    form = db.session.scalar(select(Form).where(Form.name == name, Form.archived.is_(False)))
    return form if form is not None and form.published is not None else None


# Published versions never change, so a parsed definition can be kept by its checksum.
_parsed_by_checksum: dict[str, FormDef] = {}


def form_def_of(version: FormVersion) -> FormDef:
    """The parsed definition of a published version."""
    found = _parsed_by_checksum.get(version.checksum)
    if found is None:
        if len(_parsed_by_checksum) > 512:
            _parsed_by_checksum.clear()
        found = _parsed_by_checksum[version.checksum] = check_definition(version.definition)
    return found
