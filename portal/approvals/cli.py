"""``portal groups``, ``portal organisations`` and ``portal delegations``: who acts on a step.

A chain names people through rules such as ``{group: ccb}`` or ``{org_approvers: true}``;
these commands keep what those rules look up. Only approvers and admins act on approval
and task steps, so only they can be group members, account approvers and delegates:
clients confirm and give feedback on their own requests, and nothing else.

People are looked up when a step starts: a change here applies to steps that start from
now on; a step already open keeps its people (an admin reassigns them).

Every command is safe to repeat: adding what is there, or removing what is not, says so
and changes nothing. A command with a bad argument changes nothing at all, and lists every
problem it found.

``delete`` removes a group, a calendar or an organisation that nothing needs any more, by
the rules the admin pages apply; while something still needs it, it says what and fails.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time

import click
from flask import Flask
from flask.cli import AppGroup
from flask_babel import force_locale
from sqlalchemy import func, select

from portal.accounts.models import Organisation, User
from portal.approvals import directory
from portal.approvals.directory import DAY_NAMES, describe
from portal.approvals.models import Delegation, Group, organisation_approvers
from portal.database import utcnow
from portal.extensions import db


def init_app(app: Flask) -> None:
    """Add the commands to ``portal``."""
    for command in (groups, organisations, delegations, calendars):
        app.cli.add_command(command)


# -- looking people and things up -------------------------------------------------------------


def _fail(problems: Iterable[str]) -> None:
    with force_locale("en"):  # the shared rules speak the reader's language; here, English
        problems = [str(p) for p in problems]
    if problems:
        text = "\n".join(f"  {p}" for p in problems)
        raise click.ClickException(f"nothing was changed:\n{text}")


def _people(emails: Iterable[str], *, staff_only: str | None = None) -> list[User]:
    """The users with these addresses, in the order given; every unknown address, client or
    deactivated account is reported at once. ``staff_only`` is the rule a client breaks."""
    if staff_only is None:
        rule = None
    else:
        rule = staff_only
    wanted = list(dict.fromkeys(e.strip().lower() for e in emails))
    found = {
        user.email.lower(): user
        for user in db.session.scalars(select(User).where(func.lower(User.email).in_(wanted)))
    }
    problems = []
    for email in wanted:
        user = found.get(email)
        if user is None:
            problems.append(f"no user has the address {email}")
        elif rule is not None and (problem := directory.staff_problem(user, rule)) is not None:
            problems.append(problem)
        elif not user.active:
            problems.append(f"{email} is deactivated")
    _fail(problems)
    return [found[email] for email in wanted]


def _group(name: str) -> Group:
    group = db.session.scalar(select(Group).where(Group.name == name))
    if group is None:
        known = ", ".join(db.session.scalars(select(Group.name).order_by(Group.name))) or "none"
        raise click.ClickException(
            f"there is no group called {name!r} (groups: {known}); "
            f"make it with `portal groups create {name} --title ...`"
        )
    return group


def _organisation(name: str) -> Organisation:
    organisation = db.session.scalar(select(Organisation).where(Organisation.name == name))
    if organisation is None:
        known = (
            ", ".join(db.session.scalars(select(Organisation.name).order_by(Organisation.name)))
            or "none"
        )
        raise click.ClickException(
            f"there is no organisation called {name!r} (organisations: {known})"
        )
    return organisation


def _who(user: User) -> str:
    note = "" if user.active else ", deactivated"
    return f"{user.email} ({user.name}, {user.role}{note})"


# -- portal groups ----------------------------------------------------------------------------


@click.group(cls=AppGroup, help="Groups a step can go to, such as the change control board.")
def groups() -> None:
    pass


@groups.command("create")
@click.argument("name")
@click.option("--title", required=True, help='What people read, e.g. "Change control board".')
def create_group(name: str, title: str) -> None:
    """Make the group NAME (the name a chain uses: {group: NAME})."""
    title = title.strip()
    _fail(directory.group_problems(name, title, unique=False).values())
    group = db.session.scalar(select(Group).where(Group.name == name))
    if group is None:
        directory.create_group(name, title, None)
        db.session.commit()
        click.echo(f"Created the group {name} ({title}).")
    elif group.title != title:
        before = group.title
        directory.retitle_group(group, title, None)
        db.session.commit()
        click.echo(f"The group {name} was already there; its title changed from {before!r}.")
    else:
        click.echo(f"The group {name} is already there (nothing changed).")


@groups.command("add")
@click.argument("name")
@click.argument("emails", nargs=-1, required=True, metavar="EMAIL...")
def add_members(name: str, emails: tuple[str, ...]) -> None:
    """Add people (approvers or admins) to the group NAME."""
    group = _group(name)
    people = _people(emails, staff_only=directory.MEMBER_RULE)
    for user in people:
        if directory.add_member(group, user, None):
            click.echo(f"Added {user.email} to {name}.")
        else:
            click.echo(f"{user.email} is already in {name}.")
    db.session.commit()


@groups.command("remove")
@click.argument("name")
@click.argument("emails", nargs=-1, required=True, metavar="EMAIL...")
def remove_members(name: str, emails: tuple[str, ...]) -> None:
    """Take people out of the group NAME."""
    group = _group(name)
    people = _people(emails)
    for user in people:
        if directory.remove_member(group, user, None):
            click.echo(f"Removed {user.email} from {name}.")
        else:
            click.echo(f"{user.email} was not in {name}.")
    db.session.commit()


@groups.command("delete")
@click.argument("name")
def delete_group(name: str) -> None:
    """Delete the group NAME and its memberships, when no form's chain names it and no
    open request still needs it."""
    group = _group(name)
    _fail(directory.group_delete_problems(group).values())
    directory.delete_group(group, None)
    db.session.commit()
    click.echo(f"Deleted the group {name}.")


@groups.command("list")
def list_groups() -> None:
    """Every group with its members."""
    rows = db.session.scalars(select(Group).order_by(Group.name)).all()
    if not rows:
        click.echo("No groups yet: make one with `portal groups create NAME --title ...`.")
    for group in rows:
        click.echo(f"{group.name}: {group.title} ({len(group.members)} members)")
        for user in group.members:
            click.echo(f"  {_who(user)}")


# -- portal organisations approvers -----------------------------------------------------------


@click.group(cls=AppGroup, help="Client organisations and the people who approve for them.")
def organisations() -> None:
    pass


@organisations.command("delete")
@click.argument("name")
def delete_organisation(name: str) -> None:
    """Delete the organisation NAME, when it has no people and no requests (its people can
    be deactivated instead); its account approvers stop approving for it."""
    org = _organisation(name)
    _fail(directory.organisation_delete_problems(org).values())
    directory.delete_organisation(org, None)
    db.session.commit()
    click.echo(f"Deleted the organisation {name}.")


@organisations.group("approvers", cls=AppGroup)
def approvers() -> None:
    """The account approvers of an organisation: whom {org_approvers: true} names."""


_approver_ids = directory.approver_ids


@approvers.command("add")
@click.argument("organisation")
@click.argument("emails", nargs=-1, required=True, metavar="EMAIL...")
def add_approvers(organisation: str, emails: tuple[str, ...]) -> None:
    """Make people (approvers or admins) account approvers of ORGANISATION."""
    org = _organisation(organisation)
    people = _people(emails, staff_only=directory.APPROVER_RULE)
    for user in people:
        if directory.add_account_approver(org, user, None):
            click.echo(f"{user.email} now approves for {org.name}.")
        else:
            click.echo(f"{user.email} already approves for {org.name}.")
    db.session.commit()


@approvers.command("remove")
@click.argument("organisation")
@click.argument("emails", nargs=-1, required=True, metavar="EMAIL...")
def remove_approvers(organisation: str, emails: tuple[str, ...]) -> None:
    """Stop people approving for ORGANISATION."""
    org = _organisation(organisation)
    people = _people(emails)
    for user in people:
        if directory.remove_account_approver(org, user, None):
            click.echo(f"{user.email} no longer approves for {org.name}.")
        else:
            click.echo(f"{user.email} did not approve for {org.name}.")
    db.session.commit()


@approvers.command("list")
@click.argument("organisation", required=False)
def list_approvers(organisation: str | None) -> None:
    """The account approvers of ORGANISATION, or of every organisation."""
    orgs = (
        [_organisation(organisation)]
        if organisation
        else db.session.scalars(select(Organisation).order_by(Organisation.name)).all()
    )
    if not orgs:
        click.echo("No organisations yet.")
    for org in orgs:
        people = db.session.scalars(
            select(User)
            .join(organisation_approvers, organisation_approvers.c.user_id == User.id)
            .where(organisation_approvers.c.organisation_id == org.id)
            .order_by(User.email)
        ).all()
        click.echo(f"{org.name}:" + ("" if people else " no account approvers"))
        for user in people:
            click.echo(f"  {_who(user)}")


# -- portal delegations -----------------------------------------------------------------------


@click.group(cls=AppGroup, help="Someone acts for an absent colleague for a range of dates.")
def delegations() -> None:
    pass


DAY = click.DateTime(formats=["%Y-%m-%d"])


def _day(value: datetime) -> date:
    return value.date()


@delegations.command("add")
@click.option("--from", "from_email", required=True, metavar="EMAIL", help="Who is away.")
@click.option("--to", "to_email", required=True, metavar="EMAIL", help="Who acts for them.")
@click.option("--start", required=True, type=DAY, help="First day, YYYY-MM-DD.")
@click.option("--end", required=True, type=DAY, help="Last day (included), YYYY-MM-DD.")
def add_delegation(from_email: str, to_email: str, start: datetime, end: datetime) -> None:
    """From START to END (both included), --to acts on --from's steps; the trace then says
    "--to on behalf of --from"."""
    starts_on, ends_on = _day(start), _day(end)
    (away,) = _people([from_email])
    (delegate,) = _people([to_email])
    _fail(
        directory.delegation_problems(away, delegate, starts_on, ends_on, utcnow().date()).values()
    )
    existing = directory.same_delegation(away, delegate, starts_on, ends_on)
    if existing is not None:
        click.echo(f"That delegation is already there (#{existing.id}; nothing changed).")
        return
    delegation = directory.add_delegation(away, delegate, starts_on, ends_on, None)
    db.session.commit()
    click.echo(
        f"Delegation #{delegation.id}: {delegate.email} acts for {away.email} "
        f"from {starts_on} to {ends_on}."
    )


@delegations.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include delegations that are over.")
def list_delegations(show_all: bool) -> None:
    """Delegations that are on now or to come (with --all, past ones too)."""
    today = utcnow().date()
    query = select(Delegation).order_by(Delegation.starts_on, Delegation.id)
    if not show_all:
        query = query.where(Delegation.ends_on >= today)
    rows = db.session.scalars(query).all()
    if not rows:
        click.echo("No delegations" + ("." if show_all else " now or to come."))
    for d in rows:
        when = (
            "now"
            if d.starts_on <= today <= d.ends_on
            else ("over" if d.ends_on < today else "to come")
        )
        click.echo(
            f"#{d.id} {d.delegate.email} for {d.user.email}: {d.starts_on} to {d.ends_on} ({when})"
        )


@delegations.command("remove")
@click.argument("delegation_id", type=int, metavar="ID")
def remove_delegation(delegation_id: int) -> None:
    """End a delegation early: remove delegation ID (as `list` shows it)."""
    delegation = db.session.get(Delegation, delegation_id)
    if delegation is None:
        raise click.ClickException(f"there is no delegation #{delegation_id}")
    text = f"{delegation.delegate.email} for {delegation.user.email}"
    directory.remove_delegation(delegation, None)
    db.session.commit()
    click.echo(f"Removed delegation #{delegation_id} ({text}).")


# -- portal calendars -------------------------------------------------------------------------


def _days(text: str) -> tuple[list[int], str | None]:
    """``mon-fri`` or ``mon,tue,thu`` as [0, 1, 2, 3, 4]; or a problem with how it is written
    (whether the days make a calendar is the shared rule's to say)."""
    text = text.strip().lower()
    try:
        if "-" in text:
            first, last = (DAY_NAMES.index(part) for part in text.split("-", 1))
            return list(range(first, last + 1)), None
        return sorted({DAY_NAMES.index(part.strip()) for part in text.split(",")}), None
    except ValueError:
        return [0], f"days must be like mon-fri or mon,tue,thu (not {text!r})"


def _hours(text: str) -> tuple[tuple[time, time] | None, str | None]:
    try:
        start, end = (time.fromisoformat(part.strip()) for part in text.split("-", 1))
    except ValueError:
        return None, f"hours must be like 09:00-17:00 (not {text!r})"
    return (start, end), None


@click.group(cls=AppGroup, help="Working calendars: the days, hours and holidays deadlines count.")
def calendars() -> None:
    pass


@calendars.command("set")
@click.argument("name")
@click.option("--zone", required=True, help="Time zone, such as Europe/Berlin.")
@click.option("--country", help="Country whose public holidays count, such as DE, US or CN.")
@click.option("--subdivision", help="Region within the country, such as BY or CA.")
@click.option("--days", default="mon-fri", show_default=True, help="Working days.")
@click.option("--hours", default="09:00-17:00", show_default=True, help="Working hours.")
def set_calendar(name, zone, country, subdivision, days, hours) -> None:  # noqa: ANN001
    """Make a calendar NAME, or change it."""
    from portal.approvals.models import Calendar

    country = country.upper() if country else None
    workdays, problem = _days(days)
    span, hours_problem = _hours(hours)
    problems = directory.calendar_problems(
        zone=zone,
        country=country,
        subdivision=subdivision,
        workdays=workdays,
        starts=span[0] if span else None,
        ends=span[1] if span else None,
    )
    problems.update({"days": problem} if problem else {})
    problems.update({"hours": hours_problem} if hours_problem else {})
    _fail(problems.values())
    calendar = db.session.scalar(select(Calendar).where(Calendar.name == name))
    made = calendar is None
    calendar = directory.save_calendar(
        calendar,
        name=name,
        zone=zone,
        country=country,
        subdivision=subdivision,
        workdays=workdays,
        starts=span[0],
        ends=span[1],
        closed_days=None,
        actor=None,
    )
    db.session.commit()
    click.echo(f"{'Made' if made else 'Changed'} calendar {name}: {describe(calendar)}.")


@calendars.command("assign")
@click.argument("name")
@click.option("--organisation", "organisation_names", multiple=True, help="A client organisation.")
@click.option("--user", "emails", multiple=True, help="A person (their own calendar wins).")
def assign_calendar(name, organisation_names, emails) -> None:  # noqa: ANN001
    """Count the deadlines of these organisations' people, or of these people, in NAME."""
    from portal.approvals.models import Calendar

    calendar = db.session.scalar(select(Calendar).where(Calendar.name == name))
    if calendar is None:
        raise click.ClickException(f"there is no calendar called {name!r}")
    if not organisation_names and not emails:
        raise click.ClickException("name at least one --organisation or --user")
    targets = [_organisation(n) for n in organisation_names] + _people(emails)
    for target in targets:
        directory.assign_calendar(target, calendar, None)
    db.session.commit()
    click.echo(f"Calendar {name} now counts for {len(targets)} organisation(s) and people.")


@calendars.command("delete")
@click.argument("name")
def delete_calendar(name: str) -> None:
    """Delete the calendar NAME, when no organisation and nobody counts in it."""
    from portal.approvals.models import Calendar

    calendar = db.session.scalar(select(Calendar).where(Calendar.name == name))
    if calendar is None:
        raise click.ClickException(f"there is no calendar called {name!r}")
    _fail(directory.calendar_delete_problems(calendar).values())
    directory.delete_calendar(calendar, None)
    db.session.commit()
    click.echo(f"Deleted the calendar {name}.")


@calendars.command("list")
def list_calendars() -> None:
    """Show every calendar."""
    from portal.approvals.models import Calendar

    rows = db.session.scalars(select(Calendar).order_by(Calendar.name)).all()
    if not rows:
        click.echo("No calendars yet: deadlines count Monday to Friday, 09:00 to 17:00.")
    for calendar in rows:
        click.echo(f"{calendar.name}: {describe(calendar)}")
