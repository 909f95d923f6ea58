"""``portal users ...``: manage accounts from the command line."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from flask_babel import force_locale
from sqlalchemy import select

from portal.accounts.models import Organisation, Role
from portal.accounts.people import create_person, person_problems
from portal.extensions import db


@click.group(help="Manage the people who sign in.")
def users() -> None:
    pass


def find_or_create_organisation(name: str) -> Organisation:
    organisation = db.session.scalar(select(Organisation).where(Organisation.name == name))
    if organisation is None:
        organisation = Organisation(name=name)
        db.session.add(organisation)
    return organisation


@users.command("create")
@click.option("--email", required=True, help="Sign-in address.")
@click.option("--name", required=True, help="Name shown to others.")
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    default=Role.CLIENT.value,
    show_default=True,
)
@click.option("--organisation", help="Client organisation (required for clients; made if new).")
@click.option("--locale", help="Language, such as en, de or zh_Hans.")
@click.option("--timezone", help="Time zone, such as Europe/Berlin.")
@click.password_option(help="Prompted for when not given.")
@with_appcontext
def create_user(email, name, role, organisation, locale, timezone, password) -> None:  # noqa: ANN001
    """Create a person who can sign in."""
    email = email.strip().lower()
    problems = person_problems(
        email=email,
        role=role,
        has_organisation=bool(organisation),
        timezone=timezone,
        password=password,
    )
    if "organisation_id" in problems:  # the same rule, said the command line's way
        problems["organisation_id"] = "a client belongs to an organisation: give --organisation"
    if problems:
        with force_locale("en"):
            raise click.ClickException("; ".join(str(p) for p in problems.values()))
    create_person(
        email=email,
        name=name,
        role=role,
        organisation=find_or_create_organisation(organisation) if organisation else None,
        locale=locale,
        timezone=timezone,
        password=password,
        actor=None,
    )
    db.session.commit()
    click.echo(f"Created {role} {email}.")
