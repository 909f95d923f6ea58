"""Groups a step can go to, such as the change control board (``ccb``): make one, change
its title, add and remove members (approvers and admins only) in place, and delete one
that no form and no open request needs."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal.accounts.models import User
from portal.accounts.roles import admin_required
from portal.admin import bp
from portal.admin.common import (
    confirm_deletion,
    is_htmx,
    page,
    picked_staff,
    put_problems,
    row_or_404,
    staff_choices,
)
from portal.admin.forms import GroupForm, GroupTitleForm, PersonPickForm
from portal.approvals import directory
from portal.approvals.models import Group
from portal.extensions import db


@bp.route("/groups/", methods=["GET", "POST"])
@admin_required
def groups():
    """Every group, and the form that makes a new one."""
    form = GroupForm()
    if form.is_submitted():
        valid = form.validate()
        name, title = (form.name.data or "").strip(), form.title.data or ""
        if not put_problems(form, directory.group_problems(name, title)) and valid:
            group = directory.create_group(name, title, current_user)
            db.session.commit()
            flash(_("The group %(name)s is made: now add its members.", name=group.name), "info")
            return redirect(url_for("admin.group", group_id=group.id))
    rows = db.session.scalars(select(Group).order_by(Group.name)).all()
    status = 422 if form.errors else 200
    return page("admin/groups/index.html", status=status, groups=rows, form=form)


def _group_page(group: Group, form=None, pick=None, status: int = 200):  # noqa: ANN001, ANN202
    pick = pick or PersonPickForm(formdata=None)
    pick.user_id.choices = staff_choices()
    fragment = "admin/groups/_members.html" if form is None else None
    return page(
        "admin/groups/group.html",
        fragment,
        status=status,
        group=group,
        form=form or GroupTitleForm(obj=group),
        pick=pick,
    )


@bp.route("/groups/<int:group_id>", methods=["GET", "POST"])
@admin_required
def group(group_id: int):
    """One group: its title and its members."""
    found = row_or_404(Group, group_id)
    if request.method == "GET":
        return _group_page(found, GroupTitleForm(obj=found))
    form = GroupTitleForm()
    if form.validate_on_submit():
        if not put_problems(form, directory.group_problems(None, form.title.data)):
            directory.retitle_group(found, form.title.data, current_user)
            db.session.commit()
            flash(_("The changes are saved."), "info")
            return redirect(url_for("admin.group", group_id=found.id))
    return _group_page(found, form, status=422)


def _members(group: Group, pick=None, status: int = 200):  # noqa: ANN001, ANN202
    if not is_htmx() and status == 200:
        return redirect(url_for("admin.group", group_id=group.id))
    return _group_page(group, pick=pick, status=status)


@bp.post("/groups/<int:group_id>/members")
@admin_required
def add_group_member(group_id: int):
    found = row_or_404(Group, group_id)
    pick = picked_staff(
        directory.MEMBER_RULE, lambda user: directory.add_member(found, user, current_user)
    )
    return _members(found) if pick is None else _members(found, pick, 422)


@bp.post("/groups/<int:group_id>/members/<int:user_id>/remove")
@admin_required
def remove_group_member(group_id: int, user_id: int):
    found = row_or_404(Group, group_id)
    user = row_or_404(User, user_id)
    if directory.remove_member(found, user, current_user):
        db.session.commit()
    return _members(found)


@bp.route("/groups/<int:group_id>/delete", methods=["GET", "POST"])
@admin_required
def delete_group(group_id: int):
    """What deleting the group removes (GET), or the deletion (POST); refused with the
    reason while a form's chain or an open request still needs it."""
    found = row_or_404(Group, group_id)
    members = ", ".join(f"{u.name} ({u.email})" for u in found.members)
    return confirm_deletion(
        problems=directory.group_delete_problems(found),
        delete=lambda: directory.delete_group(found, current_user),
        done=_("The group %(name)s is deleted.", name=found.name),
        listing=url_for("admin.groups"),
        heading=_("Delete the group %(title)s", title=found.title),
        removed=[
            _("the group %(name)s (%(title)s)", name=found.name, title=found.title),
            _("its members: %(names)s", names=members) if members else _("It has no members."),
        ],
        back=url_for("admin.group", group_id=found.id),
    )
