"""Making, finding and saving drafts: the one place the designer, the template gallery and
the XLSForm import go through to put a definition in front of an admin."""

from __future__ import annotations

import copy
import re
from typing import Any

from flask import abort
from sqlalchemy import select

from portal.accounts.models import User
from portal.designer.models import FormDraft
from portal.extensions import db
from portal.forms.models import Form, FormVersion

NAME_LIMIT = 64


def free_form_name(wanted: str) -> str:
    """``wanted`` when no form or draft has it, else ``wanted-2``, ``wanted-3``…"""
    base = re.sub(r"[^a-z0-9-]+", "-", (wanted or "form").lower()).strip("-") or "form"
    base = base[: NAME_LIMIT - 4]
    taken = set(db.session.scalars(select(Form.name).where(Form.name.like(f"{base}%"))))
    taken |= set(
        db.session.scalars(select(FormDraft.form_name).where(FormDraft.form_name.like(f"{base}%")))
    )
    if base not in taken:
        return base
    number = 2
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"


def new_draft(
    definition: dict[str, Any],
    user: User | None,
    source: str = "blank",
    *,
    keep_name: bool = False,
) -> FormDraft:
    """A new draft holding a copy of ``definition``, under a form name nobody uses yet
    (``keep_name`` keeps the given name, for a new draft of an existing form)."""
    definition = copy.deepcopy(definition)
    if not keep_name:
        definition["name"] = free_form_name(str(definition.get("name") or "form"))
    draft = FormDraft(
        form_name=definition["name"],
        definition=definition,
        source=source[:200],
        updated_by_id=user.id if user else None,
    )
    db.session.add(draft)
    db.session.flush()
    return draft


def draft_from_version(version: FormVersion, user: User | None) -> FormDraft:
    """The draft of a published form, opened on that version (an existing draft is kept)."""
    existing = db.session.scalar(select(FormDraft).where(FormDraft.form_name == version.form.name))
    if existing is not None:
        return existing
    draft = new_draft(version.definition, user, f"version:{version.number}", keep_name=True)
    draft.based_on_version_id = version.id
    return draft


def draft_or_404(draft_id: int) -> FormDraft:
    """The draft with this id; callers are admin-only routes (``admin_required``)."""
    draft = db.session.get(FormDraft, draft_id)
    if draft is None:
        abort(404)
    return draft


def save_definition(draft: FormDraft, definition: dict[str, Any], user: User | None) -> None:
    """Replace the draft's definition (a new dict, so the JSON column sees the change)."""
    draft.definition = copy.deepcopy(definition)
    draft.updated_by_id = user.id if user else None
