"""The admin pages' forms. Choices that come from the database (organisations, staff,
calendars) are filled in by the view; the rules beyond one field's shape live in the
shared services (``portal.accounts.people``, ``portal.approvals.directory``), whose problems
the views put beside the field they concern."""

from __future__ import annotations

from functools import lru_cache

import holidays as holiday_tables
from babel import Locale
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    EmailField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from portal.accounts.models import Role
from portal.http_input import LARGEST_ID


def optional_id(value: object) -> int | None:
    """A select's value as a row id; the empty choice is None."""
    if value in (None, "", "None"):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return -1  # not a choice: the select reports "Not a valid choice"
    return number if 0 < number <= LARGEST_ID else -1


def role_choices() -> list[tuple[str, str]]:
    return [(role.value, role.label) for role in Role]


def zone_choices(empty: str) -> list[tuple[str, str]]:
    from portal.accounts.profile import time_zones

    return [("", empty)] + [(z, z.replace("_", " ")) for z in time_zones()]


def language_choices(empty: str) -> list[tuple[str, str]]:
    from portal.accounts.profile import languages

    return [("", empty), *languages()]


@lru_cache(maxsize=1)
def _holiday_countries() -> dict[str, tuple[str, ...]]:
    return {code: tuple(subs) for code, subs in holiday_tables.list_supported_countries().items()}


def country_choices() -> list[tuple[str, str]]:
    """Every country the ``holidays`` package knows, named in the reader's language."""
    names = Locale.parse(str(get_locale() or "en")).territories
    rows = [(code, f"{names.get(code, code)} ({code})") for code in _holiday_countries()]
    return [("", _l("No public holidays"))] + sorted(rows, key=lambda row: row[1])


def subdivisions() -> dict[str, tuple[str, ...]]:
    return _holiday_countries()


class AdminForm(FlaskForm):
    """Every admin form. (NUL characters are already dropped from what was typed, for the
    whole portal, by ``portal.http_input``.)"""


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


NAME = [InputRequired(message=_l("Enter a name.")), Length(max=200)]


class PersonForm(AdminForm):
    """A new person, or the details of one (the password only when adding)."""

    name = StringField(_l("Name"), validators=NAME)
    email = EmailField(
        _l("E-mail address"),
        validators=[
            InputRequired(message=_l("Enter an e-mail address.")),
            Regexp(
                r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
                message=_l("Enter an e-mail address such as name@example.com."),
            ),
            Length(max=254),
        ],
    )
    role = SelectField(_l("Role"), choices=role_choices)
    organisation_id = SelectField(
        _l("Organisation"),
        coerce=optional_id,
        description=_l("Clients only: whose requests they see."),
    )
    locale = SelectField(_l("Language"), validators=[Optional()])
    timezone = SelectField(_l("Time zone"), validators=[Optional()])
    calendar_id = SelectField(
        _l("Working calendar"),
        coerce=optional_id,
        description=_l("Their deadlines count in it; else in their organisation's."),
    )
    password = PasswordField(
        _l("Initial password"),
        validators=[Optional(), Length(max=1000)],
        description=_l("Leave empty to have one made; it is shown once."),
        render_kw={"autocomplete": "new-password"},
    )


class PasswordForm(AdminForm):
    password = PasswordField(
        _l("New password"),
        validators=[Optional(), Length(max=1000)],
        description=_l("Leave empty to have one made; it is shown once."),
        render_kw={"autocomplete": "new-password"},
    )


class OrganisationForm(AdminForm):
    name = StringField(_l("Name"), validators=NAME)
    timezone = SelectField(_l("Time zone"), validators=[Optional()])
    calendar_id = SelectField(_l("Working calendar"), coerce=optional_id)


class PersonPickForm(AdminForm):
    """One member of staff to add (to a group, or as an account approver)."""

    user_id = SelectField(
        _l("Person"), coerce=optional_id, validators=[InputRequired(message=_l("Choose someone."))]
    )


class GroupForm(AdminForm):
    name = StringField(
        _l("Name"),
        validators=[InputRequired(message=_l("Enter a name.")), Length(max=64)],
        description=_l("What a chain names: {group: ccb}. Lower-case letters, digits, - and _."),
    )
    title = StringField(
        _l("Title"),
        validators=[InputRequired(message=_l("Enter a title.")), Length(max=200)],
        description=_l("What people read, such as Change control board."),
    )


class GroupTitleForm(AdminForm):
    title = GroupForm.title


class DelegationForm(AdminForm):
    user_id = SelectField(
        _l("Who is away"),
        coerce=optional_id,
        validators=[InputRequired(message=_l("Choose someone."))],
    )
    delegate_id = SelectField(
        _l("Who acts for them"),
        coerce=optional_id,
        validators=[InputRequired(message=_l("Choose someone."))],
    )
    starts_on = DateField(
        _l("From"),
        validators=[InputRequired(message=_l("Enter the first day."))],
        render_kw={"type": "date"},
    )
    ends_on = DateField(
        _l("Until (included)"),
        validators=[InputRequired(message=_l("Enter the last day."))],
        render_kw={"type": "date"},
    )


class AwayForm(AdminForm):
    """Someone sets their own out-of-office: the dates and a colleague."""

    delegate_id = DelegationForm.delegate_id
    starts_on = DelegationForm.starts_on
    ends_on = DelegationForm.ends_on


WEEKDAYS = [
    SelectChoice(str(day), name)
    for day, name in enumerate(
        [
            _l("Monday"),
            _l("Tuesday"),
            _l("Wednesday"),
            _l("Thursday"),
            _l("Friday"),
            _l("Saturday"),
            _l("Sunday"),
        ]
    )
]


class CalendarForm(AdminForm):
    name = StringField(
        _l("Name"), validators=[InputRequired(message=_l("Enter a name.")), Length(max=64)]
    )
    zone = SelectField(
        _l("Time zone"), validators=[InputRequired(message=_l("Choose a time zone."))]
    )
    workdays = MultiCheckboxField(_l("Working days"), choices=WEEKDAYS)
    day_starts = TimeField(
        _l("Day starts"), validators=[InputRequired(message=_l("Enter a time such as 09:00."))]
    )
    day_ends = TimeField(
        _l("Day ends"), validators=[InputRequired(message=_l("Enter a time such as 17:00."))]
    )
    country = SelectField(_l("Public holidays of"), validators=[Optional()])
    subdivision = StringField(
        _l("Region"),
        validators=[Optional(), Length(max=16)],
        description=_l("Optional: a region code such as BY (Bavaria) or CA (California)."),
    )
    closed_days = TextAreaField(
        _l("Other closed days"),
        validators=[Optional(), Length(max=4000)],
        description=_l("One date a line, such as 2026-12-24."),
    )


class AssignCalendarForm(AdminForm):
    """Give a calendar to a person or an organisation (either, or both at once)."""

    user_id = SelectField(_l("A person"), coerce=optional_id)
    organisation_id = SelectField(_l("An organisation"), coerce=optional_id)
