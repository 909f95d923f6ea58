"""Client organisations: their name, time zone and working calendar, and their account
approvers (whom a chain's ``{org_approvers: true}`` names), added and removed in place. One
with no people and no requests can be deleted."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from portal.accounts import people as service
from portal.accounts.models import Organisation, User
from portal.accounts.roles import admin_required
from portal.admin import bp
from portal.admin.common import (
    calendar_choices,
    confirm_deletion,
    page,
    picked_staff,
    put_problems,
    row_or_404,
    staff_choices,
)
from portal.admin.forms import OrganisationForm, PersonPickForm, zone_choices
from portal.approvals import directory
from portal.extensions import db


def _form(organisation: Organisation | None = None) -> OrganisationForm:
    form = OrganisationForm(obj=organisation)
    form.timezone.choices = zone_choices(_("The portal's default"))
    form.calendar_id.choices = calendar_choices()
    return form


@bp.get("/organisations/")
@admin_required
def organisations():
    rows = db.session.execute(
        select(Organisation, func.count(User.id))
        .outerjoin(User, User.organisation_id == Organisation.id)
        .group_by(Organisation.id)
        .order_by(Organisation.name)
    ).all()
    return page("admin/organisations/index.html", organisations=rows)


@bp.route("/organisations/new", methods=["GET", "POST"])
@admin_required
def new_organisation():
    form = _form()
    if form.is_submitted():
        valid = form.validate()
        problems = service.organisation_problems(form.name.data or "", form.timezone.data)
        if not put_problems(form, problems) and valid:
            organisation = service.save_organisation(
                None,
                name=form.name.data,
                timezone=form.timezone.data,
                calendar_id=form.calendar_id.data,
                actor=current_user,
            )
            db.session.commit()
            flash(_("The organisation %(name)s is added.", name=organisation.name), "info")
            return redirect(url_for("admin.organisation", organisation_id=organisation.id))
    status = 422 if form.errors else 200
    return page("admin/organisations/new.html", form=form, status=status)


@bp.route("/organisations/<int:organisation_id>", methods=["GET", "POST"])
@admin_required
def organisation(organisation_id: int):
    org = row_or_404(Organisation, organisation_id)
    form = _form(org)
    if request.method == "POST":
        valid = form.validate()
        problems = service.organisation_problems(form.name.data or "", form.timezone.data, org)
        if not put_problems(form, problems) and valid:
            service.save_organisation(
                org,
                name=form.name.data,
                timezone=form.timezone.data,
                calendar_id=form.calendar_id.data,
                actor=current_user,
            )
            db.session.commit()
            flash(_("The changes are saved."), "info")
            return redirect(url_for("admin.organisation", organisation_id=org.id))
    return _organisation_page(org, form, status=422 if form.errors else 200)


def _organisation_page(org: Organisation, form=None, pick=None, status: int = 200):  # noqa: ANN001, ANN202
    return page(
        "admin/organisations/organisation.html",
        status=status,
        form=form or _form(org),
        members=db.session.scalars(
            select(User).where(User.organisation_id == org.id).order_by(User.name)
        ).all(),
        **_approvers_context(org, pick),
    )


def _approvers_context(org: Organisation, pick: PersonPickForm | None = None) -> dict:
    pick = pick or PersonPickForm(formdata=None)
    pick.user_id.choices = staff_choices()
    return {"organisation": org, "approvers": directory.account_approvers(org), "pick": pick}


def _approvers(org: Organisation, pick: PersonPickForm | None = None, status: int = 200):  # noqa: ANN202
    """The approvers block for htmx; else back to the page (or the page with the error)."""
    if request.headers.get("HX-Request") != "true":
        if status == 200:
            return redirect(url_for("admin.organisation", organisation_id=org.id))
        return _organisation_page(org, pick=pick, status=status)
    return page(
        "admin/organisations/_approvers.html",
        status=status,
        **_approvers_context(org, pick),
    )


@bp.post("/organisations/<int:organisation_id>/approvers")
@admin_required
def add_account_approver(organisation_id: int):
    """Make one member of staff an account approver of the organisation."""
    org = row_or_404(Organisation, organisation_id)
    pick = picked_staff(
        directory.APPROVER_RULE,
        lambda user: directory.add_account_approver(org, user, current_user),
    )
    return _approvers(org) if pick is None else _approvers(org, pick, 422)


@bp.post("/organisations/<int:organisation_id>/approvers/<int:user_id>/remove")
@admin_required
def remove_account_approver(organisation_id: int, user_id: int):
    org = row_or_404(Organisation, organisation_id)
    user = row_or_404(User, user_id)
    if directory.remove_account_approver(org, user, current_user):
        db.session.commit()
    return _approvers(org)


@bp.route("/organisations/<int:organisation_id>/delete", methods=["GET", "POST"])
@admin_required
def delete_organisation(organisation_id: int):
    """What deleting the organisation removes (GET), or the deletion (POST); refused with
    the reason while it has people or requests."""
    org = row_or_404(Organisation, organisation_id)
    removed = [_("the organisation %(name)s", name=org.name)]
    approvers = ", ".join(f"{u.name} ({u.email})" for u in directory.account_approvers(org))
    if approvers:
        removed.append(
            _("its account approvers (the people themselves stay): %(names)s", names=approvers)
        )
    return confirm_deletion(
        problems=directory.organisation_delete_problems(org),
        delete=lambda: directory.delete_organisation(org, current_user),
        done=_("The organisation %(name)s is deleted.", name=org.name),
        listing=url_for("admin.organisations"),
        heading=_("Delete the organisation %(name)s", name=org.name),
        removed=removed,
        back=url_for("admin.organisation", organisation_id=org.id),
    )
