"""``portal users ...``: manage accounts from the command line."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import func, select

from portal.accounts.models import Organisation, Role, User
from portal.accounts.passwords import MIN_PASSWORD_LENGTH, hash_password
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
    if db.session.scalar(select(User).where(func.lower(User.email) == email)):
        raise click.ClickException(f"a user with the address {email} already exists")
    if role == Role.CLIENT and not organisation:
        raise click.ClickException("a client belongs to an organisation: give --organisation")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise click.ClickException(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    from portal.i18n import valid_zone

    if timezone and not valid_zone(timezone):
        raise click.ClickException(f"unknown time zone {timezone!r}")
    user = User(
        email=email,
        name=name,
        role=role,
        password_hash=hash_password(password),
        organisation=find_or_create_organisation(organisation) if organisation else None,
        locale=locale,
        timezone=timezone,
    )
    db.session.add(user)
    db.session.commit()
    click.echo(f"Created {role} {email}.")
