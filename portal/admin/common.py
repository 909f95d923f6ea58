"""What every admin page needs: full page or htmx fragment from one URL, problems from the
shared services put beside their fields, and the choices of people and calendars."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from flask import flash, make_response, redirect, render_template, request
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlalchemy import select

from portal.accounts.models import Organisation, User
from portal.admin.forms import PersonPickForm
from portal.approvals import directory
from portal.approvals.directory import staff
from portal.approvals.models import Calendar
from portal.extensions import db
from portal.http_input import LARGEST_ID


def row_or_404(model, row_id: int):  # noqa: ANN001, ANN201
    """The row with this id, else 404. (A number too large for an id never reaches a view:
    the address does not match, see ``portal.http_input``.)"""
    return db.get_or_404(model, row_id)


@dataclass
class NewestFirst:
    """One page of a long admin table, newest first: ``rows`` below the id in ``?before=``
    ("Show more"), whether older ones follow, and whether htmx asked for the rows alone."""

    rows: list
    has_more: bool
    before: int | None
    rows_only: bool

    def context(self) -> dict:
        return {"rows": self.rows, "has_more": self.has_more, "before": self.before}


def newest_first(query, id_column, size: int) -> NewestFirst:  # noqa: ANN001
    """``query`` (already ordered by ``id_column`` descending) from ``?before=`` on, ``size``
    rows; a ``before`` outside the ids names none, and the page starts from the newest."""
    before = request.args.get("before", type=int)
    before = before if before is not None and 0 < before <= LARGEST_ID else None
    if before is not None:
        query = query.where(id_column < before)
    rows = db.session.execute(query.limit(size + 1)).all()
    rows_only = request.args.get("fragment") == "rows" and is_htmx()
    return NewestFirst(rows[:size], len(rows) > size, before, rows_only)


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def page(template: str, fragment: str | None = None, status: int = 200, **context):  # noqa: ANN003, ANN201
    """The whole page, or only ``fragment`` when htmx asks (one URL for both)."""
    chosen = fragment if fragment and is_htmx() else template
    response = make_response(render_template(chosen, **context), status)
    response.headers["Vary"] = "HX-Request"
    return response


def put_problems(form: FlaskForm, problems: Mapping[str, str]) -> bool:
    """Each problem beside its field (one message a field: a field the form already found
    wrong keeps that message); a problem with no field of its name goes to the form's first
    field. True when there were any, so the caller saves nothing."""
    for name, message in problems.items():
        field = form._fields.get(name) or next(iter(form))
        if not field.errors:
            # str(): a lazy message is taken as safe HTML by Jinja (it has __html__), and
            # these messages quote what the admin typed, which must be escaped.
            field.errors = [str(message)]
    return bool(problems)


def confirm_deletion(
    *,
    problems: Mapping[str, str],
    delete: Callable[[], object],
    done: str,
    listing: str,
    heading: str,
    removed: list[str],
    back: str,
):  # noqa: ANN201
    """The one way a group, a calendar or an organisation is deleted. GET: what deleting
    removes, and the button that does it; POST: ``delete()``, commit, ``done`` flashed and
    back to ``listing``. While something still needs the row, both show why it cannot go
    (``problems``) and change nothing; a refused POST answers 409."""
    if request.method == "POST" and not problems:
        delete()
        db.session.commit()
        flash(done, "info")
        return redirect(listing)
    status = 409 if problems and request.method == "POST" else 200
    return page(
        "admin/delete.html",
        status=status,
        heading=heading,
        removed=removed,
        # str(): the reasons quote names admins typed, which must be escaped (see above).
        problems=[str(message) for message in problems.values()],
        action=request.path,
        back=back,
    )


def picked_staff(rule: str, add: Callable[[User], object]) -> FlaskForm | None:
    """Add the member of staff picked in the posted form with ``add(user)`` and commit; the
    form, its problem beside the picker, when the person may not be given this part (``rule``
    says why, as the shared rules word it)."""
    pick = PersonPickForm()
    pick.user_id.choices = staff_choices()
    if pick.validate_on_submit():
        user = db.session.get(User, pick.user_id.data)
        problem = directory.staff_problem(user, rule)
        if not put_problems(pick, {"user_id": problem} if problem is not None else {}):
            add(user)
            db.session.commit()
            return None
    return pick


def staff_choices(empty: bool = True) -> list[tuple[int | str, str]]:
    rows = [(u.id, f"{u.name} ({u.email})") for u in staff()]
    return ([("", _("Choose someone"))] if empty else []) + rows


def calendar_choices() -> list[tuple[int | str, str]]:
    rows = db.session.scalars(select(Calendar).order_by(Calendar.name)).all()
    return [("", _("The portal's default (Monday to Friday, 09:00 to 17:00)"))] + [
        (c.id, c.name) for c in rows
    ]


def organisation_choices(empty: str) -> list[tuple[int | str, str]]:
    rows = db.session.scalars(select(Organisation).order_by(Organisation.name)).all()
    return [("", empty)] + [(o.id, o.name) for o in rows]
