"""Delegation and out-of-office: someone is away from one day to another and a colleague
acts for them. Current, upcoming and past delegations; a new one; one ended early."""

from __future__ import annotations

from flask import flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal.accounts.models import User
from portal.accounts.roles import admin_required
from portal.admin import bp
from portal.admin.common import page, put_problems, row_or_404, staff_choices
from portal.admin.forms import DelegationForm
from portal.approvals import directory
from portal.approvals.models import Delegation
from portal.database import utcnow
from portal.extensions import db


def _form() -> DelegationForm:
    form = DelegationForm()
    form.user_id.choices = staff_choices()
    form.delegate_id.choices = staff_choices()
    return form


@bp.route("/delegations/", methods=["GET", "POST"])
@admin_required
def delegations():
    form = _form()
    today = utcnow().date()
    if form.is_submitted():
        valid = form.validate()
        away = db.session.get(User, form.user_id.data) if form.user_id.data else None
        delegate = db.session.get(User, form.delegate_id.data) if form.delegate_id.data else None
        starts_on, ends_on = form.starts_on.data, form.ends_on.data
        problems = directory.delegation_problems(away, delegate, starts_on, ends_on, today)
        if valid and not problems and directory.same_delegation(away, delegate, starts_on, ends_on):
            problems["delegate_id"] = _("That delegation is already there.")
        if not put_problems(form, problems) and valid:
            directory.add_delegation(away, delegate, starts_on, ends_on, current_user)
            db.session.commit()
            flash(
                _(
                    "%(delegate)s acts for %(person)s from %(start)s to %(end)s.",
                    delegate=delegate.name,
                    person=away.name,
                    start=starts_on.isoformat(),
                    end=ends_on.isoformat(),
                ),
                "info",
            )
            return redirect(url_for("admin.delegations"))
    rows = db.session.scalars(
        select(Delegation).order_by(Delegation.starts_on.desc(), Delegation.id.desc())
    ).all()
    sections = {"current": [], "upcoming": [], "past": []}
    for delegation in rows:
        sections[directory.delegation_state(delegation, today)].append(delegation)
    sections["upcoming"].reverse()
    status = 422 if form.errors else 200
    return page("admin/delegations/index.html", status=status, form=form, sections=sections)


@bp.post("/delegations/<int:delegation_id>/end")
@admin_required
def end_delegation(delegation_id: int):
    """End a delegation early: from today nobody acts for the person."""
    delegation = row_or_404(Delegation, delegation_id)
    today = utcnow().date()
    if directory.delegation_state(delegation, today) != "past":
        directory.end_delegation(delegation, today, current_user)
        db.session.commit()
        flash(_("The delegation is ended."), "info")
    return redirect(url_for("admin.delegations"))
