"""Out of office, set by the person themselves on their settings page: from one day to
another a colleague (an approver or admin) acts for them. The same rules and trace as the
admin's delegations page (``portal.approvals.directory``); only approvers and admins have
steps to hand over, and each sees and ends only their own."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from portal.accounts import bp
from portal.accounts.models import User
from portal.accounts.profile import languages, time_zones
from portal.admin.common import put_problems
from portal.admin.forms import AwayForm
from portal.approvals import directory
from portal.approvals.models import Delegation
from portal.database import utcnow
from portal.extensions import db


def away_form(user: User) -> AwayForm:
    form = AwayForm()
    form.delegate_id.choices = [("", _("Choose someone"))] + [
        (u.id, f"{u.name} ({u.email})") for u in directory.staff() if u.id != user.id
    ]
    return form


def away_context(user: User, form=None) -> dict:  # noqa: ANN001
    """What the settings page shows of the person's own out-of-office."""
    if not user.is_staff:
        return {}
    today = utcnow().date()
    rows = db.session.scalars(
        select(Delegation)
        .where(Delegation.user_id == user.id, Delegation.ends_on >= today)
        .order_by(Delegation.starts_on)
    ).all()
    return {"away_form": form or away_form(user), "away": rows, "today": today}


def _staff_only() -> User:
    user = current_user._get_current_object()
    if not user.is_staff:
        abort(403)
    return user


@bp.post("/profile/away")
@login_required
def set_away():
    """Add an out-of-office: the person is away, the chosen colleague acts for them."""
    user = _staff_only()
    form = away_form(user)
    valid = form.validate()
    delegate = db.session.get(User, form.delegate_id.data) if form.delegate_id.data else None
    starts_on, ends_on = form.starts_on.data, form.ends_on.data
    problems = directory.delegation_problems(user, delegate, starts_on, ends_on, utcnow().date())
    if valid and not problems and directory.same_delegation(user, delegate, starts_on, ends_on):
        problems["delegate_id"] = _("That delegation is already there.")
    if not put_problems(form, problems) and valid:
        directory.add_delegation(user, delegate, starts_on, ends_on, user)
        db.session.commit()
        flash(
            _(
                "From %(start)s to %(end)s, %(delegate)s acts for you.",
                start=starts_on.isoformat(),
                end=ends_on.isoformat(),
                delegate=delegate.name,
            ),
            "info",
        )
        return redirect(url_for("accounts.profile"))
    return render_template(
        "accounts/profile.html",
        languages=languages(),
        zones=time_zones(),
        errors={},
        default_zone=current_app.config["BABEL_DEFAULT_TIMEZONE"],
        **away_context(user, form),
    ), 422


@bp.post("/profile/away/<int:delegation_id>/end")
@login_required
def end_away(delegation_id: int):
    """End one's own out-of-office early (or cancel one to come)."""
    user = _staff_only()
    delegation = db.session.get(Delegation, delegation_id)
    if delegation is None or delegation.user_id != user.id:
        abort(404)
    today = utcnow().date()
    if directory.delegation_state(delegation, today) != "past":
        directory.end_delegation(delegation, today, user)
        db.session.commit()
        flash(_("You are back: nobody acts for you any more."), "info")
    return redirect(url_for("accounts.profile"))
