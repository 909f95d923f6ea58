"""Working calendars: the days, hours, zone, public holidays (``holidays`` package) and
extra closed days that deadlines count in. A person or an organisation is given one on
their own page; this page shows who counts in each. One nobody counts in can be deleted."""

from __future__ import annotations

from datetime import date

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from portal.accounts.models import Organisation, User
from portal.accounts.roles import admin_required
from portal.admin import bp
from portal.admin.common import (
    confirm_deletion,
    organisation_choices,
    page,
    put_problems,
    row_or_404,
)
from portal.admin.forms import (
    AssignCalendarForm,
    CalendarForm,
    country_choices,
    subdivisions,
    zone_choices,
)
from portal.approvals import directory
from portal.approvals.models import Calendar
from portal.extensions import db


def _form(calendar: Calendar | None = None) -> CalendarForm:
    form = CalendarForm(obj=calendar)
    form.zone.choices = zone_choices(_("Choose a time zone"))
    form.country.choices = country_choices()
    if request.method == "GET":
        if calendar is None:
            form.workdays.data = ["0", "1", "2", "3", "4"]
            form.day_starts.data = _time("09:00")
            form.day_ends.data = _time("17:00")
        else:
            form.workdays.data = calendar.workdays.split(",")
            form.day_starts.data = _time(calendar.day_starts)
            form.day_ends.data = _time(calendar.day_ends)
            form.closed_days.data = "\n".join(d.isoformat() for d in calendar.closed_dates)
            form.country.data = calendar.country or ""
    return form


def _time(text: str):  # noqa: ANN202
    from datetime import time

    return time.fromisoformat(text)


def _closed_days(text: str | None) -> tuple[list[date], str | None]:
    days, bad = [], []
    for line in (text or "").replace(",", "\n").splitlines():
        if not line.strip():
            continue
        try:
            days.append(date.fromisoformat(line.strip()))
        except ValueError:
            bad.append(line.strip()[:20])
    if bad:
        return days, _("Write each day as YYYY-MM-DD (not %(days)s).", days=", ".join(bad))
    return days, None


@bp.get("/calendars/")
@admin_required
def calendars():
    rows = db.session.scalars(select(Calendar).order_by(Calendar.name)).all()
    users = dict(
        db.session.execute(
            select(User.calendar_id, func.count(User.id)).group_by(User.calendar_id)
        ).all()
    )
    orgs = dict(
        db.session.execute(
            select(Organisation.calendar_id, func.count(Organisation.id)).group_by(
                Organisation.calendar_id
            )
        ).all()
    )
    return page(
        "admin/calendars/index.html",
        calendars=rows,
        users=users,
        orgs=orgs,
        describe=directory.describe,
    )


def _save(calendar: Calendar | None):  # noqa: ANN202
    form = _form(calendar)
    if form.is_submitted():
        valid = form.validate()
        name = (form.name.data or "").strip()
        country = form.country.data or None
        subdivision = (form.subdivision.data or "").strip().upper() or None
        workdays = [int(d) for d in form.workdays.data or [] if d in "0123456"]
        problems = directory.calendar_problems(
            zone=form.zone.data or "",
            country=country,
            subdivision=subdivision,
            workdays=workdays,
            starts=form.day_starts.data,
            ends=form.day_ends.data,
        )
        taken = select(Calendar.id).where(Calendar.name == name)
        if calendar is not None:
            taken = taken.where(Calendar.id != calendar.id)
        if db.session.scalar(taken) is not None:
            problems["name"] = _("There is already a calendar called %(name)s.", name=name)
        closed, problem = _closed_days(form.closed_days.data)
        if problem:
            problems["closed_days"] = problem
        if not put_problems(form, problems) and valid:
            saved = directory.save_calendar(
                calendar,
                name=name,
                zone=form.zone.data,
                country=country,
                subdivision=subdivision,
                workdays=workdays,
                starts=form.day_starts.data,
                ends=form.day_ends.data,
                closed_days=closed,
                actor=current_user,
            )
            db.session.commit()
            flash(_("The calendar %(name)s is saved.", name=saved.name), "info")
            return redirect(url_for("admin.calendar", calendar_id=saved.id))
    status = 422 if form.errors else 200
    used_by = {"people": [], "organisations": []}
    if calendar is not None:
        used_by["organisations"], used_by["people"] = directory.calendar_users(calendar)
    return page(
        "admin/calendars/calendar.html",
        status=status,
        form=form,
        calendar=calendar,
        used_by=used_by,
        subdivisions=subdivisions(),
        assign=_assign_form(),
    )


def _assign_form() -> AssignCalendarForm:
    form = AssignCalendarForm()
    people = db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.name))
    form.user_id.choices = [("", _("Nobody"))] + [(u.id, f"{u.name} ({u.email})") for u in people]
    form.organisation_id.choices = organisation_choices(_("None"))
    return form


@bp.post("/calendars/<int:calendar_id>/assign")
@admin_required
def assign_calendar(calendar_id: int):
    """Count a person's or an organisation's deadlines in this calendar."""
    calendar = row_or_404(Calendar, calendar_id)
    form = _assign_form()
    if form.validate_on_submit():
        targets = []
        if form.user_id.data:
            targets.append(db.session.get(User, form.user_id.data))
        if form.organisation_id.data:
            targets.append(db.session.get(Organisation, form.organisation_id.data))
        for target in targets:
            directory.assign_calendar(target, calendar, current_user)
        db.session.commit()
        if targets:
            names = ", ".join(t.name for t in targets)
            flash(
                _("%(names)s now count in %(calendar)s.", names=names, calendar=calendar.name),
                "info",
            )
    return redirect(url_for("admin.calendar", calendar_id=calendar.id))


@bp.route("/calendars/new", methods=["GET", "POST"])
@admin_required
def new_calendar():
    return _save(None)


@bp.route("/calendars/<int:calendar_id>", methods=["GET", "POST"])
@admin_required
def calendar(calendar_id: int):
    return _save(row_or_404(Calendar, calendar_id))


@bp.route("/calendars/<int:calendar_id>/delete", methods=["GET", "POST"])
@admin_required
def delete_calendar(calendar_id: int):
    """What deleting the calendar removes (GET), or the deletion (POST); refused with the
    reason while an organisation or a person counts in it."""
    calendar = row_or_404(Calendar, calendar_id)
    return confirm_deletion(
        problems=directory.calendar_delete_problems(calendar),
        delete=lambda: directory.delete_calendar(calendar, current_user),
        done=_("The calendar %(name)s is deleted.", name=calendar.name),
        listing=url_for("admin.calendars"),
        heading=_("Delete the working calendar %(name)s", name=calendar.name),
        removed=[_("the working calendar %(name)s", name=calendar.name)],
        back=url_for("admin.calendar", calendar_id=calendar.id),
    )
