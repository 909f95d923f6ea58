"""The designer's pages: the forms and drafts, and one draft being edited."""

from __future__ import annotations

from flask import render_template
from sqlalchemy import select

from portal.accounts.roles import admin_required
from portal.designer import bp
from portal.designer.drafts import draft_or_404
from portal.designer.models import FormDraft
from portal.extensions import db
from portal.forms.models import Form


@bp.get("/")
@admin_required
def index():
    """Published forms and drafts in progress."""
    forms = db.session.scalars(select(Form).order_by(Form.name)).all()
    drafts = db.session.scalars(select(FormDraft).order_by(FormDraft.form_name)).all()
    return render_template("designer/index.html", forms=forms, drafts=drafts)


@bp.get("/drafts/<int:draft_id>")
@admin_required
def edit(draft_id: int):
    """One draft: its form and its chain."""
    draft = draft_or_404(draft_id)
    return render_template("designer/edit.html", draft=draft)
