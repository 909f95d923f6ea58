"""Publishing form definitions and reading them back.

A definition file describes a form and, under ``chain:``, the approval chain its requests
walk; both are versioned together. A definition is checked completely before anything is
written: a definition with errors is refused whole, with the problems of the form and of
the chain listed together. Publishing an unchanged definition makes no new version.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from portal.approvals.definition import ChainDef, load_chain
from portal.extensions import db
from portal.forms.definition import (
    DefinitionError,
    FieldTypeRules,
    FormDef,
    Problem,
    load_definition,
)
from portal.forms.field_types import FieldType
from portal.forms.models import Form, FormVersion


def field_types() -> dict[str, FieldType]:
    """The field types of the running app (built-in and plug-in)."""
    return current_app.extensions["portal.registries"].field_types


def field_rules() -> dict[str, FieldTypeRules]:
    return {name: field_type.rules for name, field_type in field_types().items()}


@dataclass(frozen=True)
class Definition:
    """A loaded definition file: the form and, when it has one, its approval chain."""

    form: FormDef
    chain: ChainDef | None

    def to_dict(self) -> dict:
        data = self.form.to_dict()
        if self.chain is not None:
            data["chain"] = self.chain.to_dict()
        return data


def check_definition(data: Any) -> Definition:
    """The definition, checked whole; raises ``DefinitionError`` listing every problem of
    the form and of its chain."""
    problems: list[Problem] = []
    form_def = None
    try:
        form_def = load_definition(data, field_rules())
    except DefinitionError as error:
        problems += error.problems
    chain = None
    if isinstance(data, Mapping) and data.get("chain") is not None:
        rules = current_app.extensions["portal.registries"].approver_rules
        try:
            chain = load_chain(
                data["chain"],
                field_names=_value_field_names(form_def, data),
                rule_names=set(rules),
                rule_specs={name: rule.spec for name, rule in rules.items()},
                default_language=form_def.default_language if form_def else "en",
            )
        except DefinitionError as error:
            problems += error.problems
    if problems:
        raise DefinitionError(problems)
    return Definition(form_def, chain)


def _value_field_names(form_def: FormDef | None, data: Mapping) -> set[str]:
    """The fields a chain may name; read from the raw data when the form itself has errors,
    so the chain's own problems are still all reported."""
    if form_def is not None:
        return {f.name for f in form_def.fields if f.has_value}
    fields = data.get("fields") if isinstance(data.get("fields"), list) else []
    return {
        f["name"]
        for f in fields
        if isinstance(f, Mapping) and isinstance(f.get("name"), str) and f.get("type") != "section"
    }


def checksum(data: dict) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def publish(data: Any, published_by_id: int | None = None) -> tuple[FormVersion, bool]:
    """Publish a definition as the newest version of its form.

    Returns the version and whether it is new (False when the published one is identical).
    The caller commits.
    """
    definition = check_definition(data)
    form_def = definition.form
    canonical = definition.to_dict()
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
    form = db.session.scalars(_OPEN_FORM, {"name": name}).unique().first()
    return form if form is not None and form.published is not None else None


# Built once: every form page, save and submission runs it. The versions come with the form
# (their definitions stay deferred), which finds the published one without a second query.
_OPEN_FORM = (
    select(Form)
    .options(joinedload(Form.versions))
    .where(Form.name == bindparam("name"), Form.archived.is_(False))
)


# Published versions never change, so a parsed definition can be kept by its checksum.
_parsed_by_checksum: dict[str, Definition] = {}


def definition_of(version: FormVersion) -> Definition:
    """The parsed definition (form and chain) of a published version."""
    found = _parsed_by_checksum.get(version.checksum)
    if found is None:
        if len(_parsed_by_checksum) > 512:
            _parsed_by_checksum.clear()
        found = _parsed_by_checksum[version.checksum] = check_definition(version.definition)
    return found


def form_def_of(version: FormVersion) -> FormDef:
    """The form of a published version."""
    return definition_of(version).form


def chain_of(version: FormVersion) -> ChainDef | None:
    """The approval chain of a published version, if it has one."""
    return definition_of(version).chain
