"""People: find them, add them, change their details and role, deactivate or reactivate
them, reset a password; and the three fixed roles, what each may do and who has it."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, or_, select

from portal.accounts import people as service
from portal.accounts.models import Organisation, Role, User
from portal.accounts.roles import admin_required
from portal.admin import bp
from portal.admin.common import (
    calendar_choices,
    organisation_choices,
    page,
    put_problems,
    row_or_404,
)
from portal.admin.forms import PasswordForm, PersonForm, language_choices, zone_choices
from portal.approvals.directory import delegation_state
from portal.approvals.models import Delegation, Group, group_members
from portal.database import utcnow
from portal.extensions import db

PAGE_SIZE = 100

#: What each role may do, as the admin reads it on the roles page.
ROLE_ABILITIES = {
    Role.CLIENT: [
        _l("Fill in and send requests for their organisation"),
        _l("See their organisation's requests, and nobody else's"),
        _l("Confirm details and cost, and give feedback on their requests"),
    ],
    Role.APPROVER: [
        _l("Work the inbox: approve, reject, send back, mark tasks done"),
        _l("See every organisation's requests"),
        _l("Sit in groups such as the change control board, approve for organisations"),
        _l("Delegate to a colleague while away"),
    ],
    Role.ADMIN: [
        _l("Everything an approver may do"),
        _l("Design forms and chains and publish them"),
        _l("Manage people, organisations, groups, delegations and working calendars"),
    ],
}


def _person_form(user: User | None = None) -> PersonForm:
    form = PersonForm(obj=user)
    form.organisation_id.choices = organisation_choices(_("None (staff)"))
    form.locale.choices = language_choices(_("As their browser asks"))
    form.timezone.choices = zone_choices(_("As their browser says"))
    form.calendar_id.choices = calendar_choices()
    return form


def user_or_404(user_id: int) -> User:
    return row_or_404(User, user_id)


@bp.get("/people/")
@admin_required
def people():
    """Everyone, searched by name or address and filtered by role, organisation and state;
    htmx swaps only the results as the admin types."""
    q = request.args.get("q", "").strip()[:200]
    role = request.args.get("role", "")
    organisation = request.args.get("organisation_id", "")
    state = request.args.get("active", "")
    query = select(User).order_by(User.name, User.id)
    if q:
        like = f"%{q.lower()}%"
        query = query.where(
            or_(func.lower(User.name).like(like), func.lower(User.email).like(like))
        )
    if role in {r.value for r in Role}:
        query = query.where(User.role == role)
    if organisation.isdigit() and len(organisation) < 10:
        query = query.where(User.organisation_id == int(organisation))
    if state in ("yes", "no"):
        query = query.where(User.active.is_(state == "yes"))
    rows = db.session.scalars(query.limit(PAGE_SIZE + 1)).all()
    organisations = db.session.scalars(select(Organisation).order_by(Organisation.name)).all()
    return page(
        "admin/people/index.html",
        "admin/people/_results.html",
        people=rows[:PAGE_SIZE],
        more=len(rows) > PAGE_SIZE,
        organisations=organisations,
        roles=list(Role),
        filters={"q": q, "role": role, "organisation_id": organisation, "active": state},
    )


@bp.route("/people/new", methods=["GET", "POST"])
@admin_required
def new_person():
    """Add a person; a password left empty is made and shown once."""
    form = _person_form()
    if request.method == "GET":
        form.role.data = Role.CLIENT.value
    if form.is_submitted():
        valid = form.validate()
        organisation = (
            db.session.get(Organisation, form.organisation_id.data)
            if form.role.data == Role.CLIENT and form.organisation_id.data
            else None
        )
        password = form.password.data or None
        problems = service.person_problems(
            email=form.email.data or "",
            role=form.role.data,
            has_organisation=organisation is not None,
            timezone=form.timezone.data,
            password=password,
        )
        if not put_problems(form, problems) and valid:
            shown = password or service.generated_password()
            user = service.create_person(
                email=form.email.data,
                name=form.name.data,
                role=form.role.data,
                organisation=organisation,
                locale=form.locale.data,
                timezone=form.timezone.data,
                password=shown,
                actor=current_user,
            )
            user.calendar_id = form.calendar_id.data
            db.session.commit()
            if password:
                flash(_("%(name)s can now sign in.", name=user.name), "info")
                return redirect(url_for("admin.person", user_id=user.id))
            return page("admin/people/password.html", person=user, password=shown, made=True)
    status = 422 if form.errors else 200
    return page("admin/people/new.html", form=form, status=status)


@bp.route("/people/<int:user_id>", methods=["GET", "POST"])
@admin_required
def person(user_id: int):
    """One person: their details and role, groups and delegations; deactivate, reset."""
    user = user_or_404(user_id)
    form = _person_form(user)
    if request.method == "POST":
        valid = form.validate()
        has_org = form.role.data == Role.CLIENT and bool(form.organisation_id.data)
        problems = service.person_problems(
            email=form.email.data or "",
            role=form.role.data,
            has_organisation=has_org,
            timezone=form.timezone.data,
            password=None,
            user=user,
        )
        problem = service.demotion_problem(user, form.role.data, current_user)
        if problem is not None:
            problems["role"] = problem
        if not put_problems(form, problems) and valid:
            service.change_person(
                user,
                current_user,
                email=form.email.data.strip().lower(),
                name=form.name.data.strip(),
                role=form.role.data,
                organisation_id=form.organisation_id.data if has_org else None,
                locale=form.locale.data or None,
                timezone=form.timezone.data or None,
                calendar_id=form.calendar_id.data,
            )
            db.session.commit()
            flash(_("The changes are saved."), "info")
            return redirect(url_for("admin.person", user_id=user.id))
    status = 422 if form.errors else 200
    return page("admin/people/person.html", status=status, **_person_context(user, form))


def _person_context(user: User, form: PersonForm) -> dict:
    today = utcnow().date()
    groups = db.session.scalars(
        select(Group)
        .join(group_members, group_members.c.group_id == Group.id)
        .where(group_members.c.user_id == user.id)
        .order_by(Group.name)
    ).all()
    delegations = db.session.scalars(
        select(Delegation)
        .where(or_(Delegation.user_id == user.id, Delegation.delegate_id == user.id))
        .order_by(Delegation.starts_on.desc())
    ).all()
    return {
        "person": user,
        "form": form,
        "password_form": PasswordForm(),
        "groups": groups,
        "delegations": [(d, delegation_state(d, today)) for d in delegations],
        "deactivation_problem": service.deactivation_problem(user, current_user)
        if user.active
        else None,
    }


@bp.post("/people/<int:user_id>/active")
@admin_required
def set_active(user_id: int):
    """Deactivate (never oneself, never the last active admin) or reactivate someone."""
    user = user_or_404(user_id)
    want = request.form.get("active") == "yes"
    if not want:
        problem = service.deactivation_problem(user, current_user)
        if problem is not None:
            flash(str(problem), "error")
            return redirect(url_for("admin.person", user_id=user.id))
    if user.active != want:
        service.set_active(user, want, current_user)
        db.session.commit()
    if want:
        flash(_("%(name)s can sign in again.", name=user.name), "info")
    else:
        flash(_("%(name)s is deactivated and can no longer sign in.", name=user.name), "info")
    return redirect(url_for("admin.person", user_id=user.id))


@bp.post("/people/<int:user_id>/password")
@admin_required
def reset_password(user_id: int):
    """A new password, the admin's or a made one, shown once."""
    user = user_or_404(user_id)
    form = PasswordForm()
    if form.validate_on_submit():
        password = form.password.data or None
        problems = service.person_problems(
            email=user.email,
            role=user.role,
            has_organisation=True,
            timezone=None,
            password=password,
            user=user,
        )
        if not put_problems(form, {k: v for k, v in problems.items() if k == "password"}):
            shown = password or service.generated_password()
            service.reset_password(user, shown, current_user)
            db.session.commit()
            if password:
                flash(_("The new password is set."), "info")
                return redirect(url_for("admin.person", user_id=user.id))
            return page("admin/people/password.html", person=user, password=shown, made=False)
    if not form.errors:
        abort(400)
    context = _person_context(user, _person_form(user))
    context["password_form"] = form
    return page("admin/people/person.html", status=422, **context)


@bp.get("/roles/")
@admin_required
def roles():
    """The three fixed roles: what each may do, and who has it."""
    holders = {
        role: db.session.scalars(
            select(User).where(User.role == role.value).order_by(User.name)
        ).all()
        for role in Role
    }
    return page(
        "admin/people/roles.html", roles=list(Role), abilities=ROLE_ABILITIES, holders=holders
    )
