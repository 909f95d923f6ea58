"""Who acts on a step, and when they work: groups, account approvers, delegations and
working calendars. Each rule and each change lives here once, for the command line
(``portal groups``, ``organisations``, ``delegations``, ``calendars``) and the admin pages.

Checks return their problems as ``{field: message}`` (lazy gettext: read in the reader's
language; the command line reads them in English), all at once, never only the first.
Changes add to the session and leave a trace entry with before and after; the caller
commits, so a change and its trace are written together or not at all.
"""

from __future__ import annotations

import re
from datetime import date, time

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, insert, select

from portal.accounts.models import ROLE_LABELS, Organisation, Role, User
from portal.approvals.models import (
    Calendar,
    Delegation,
    Group,
    group_members,
    organisation_approvers,
)
from portal.audit.trace import record
from portal.extensions import db

GROUP_NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}")
STAFF = (Role.APPROVER.value, Role.ADMIN.value)
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

Problems = dict[str, str]


def staff() -> list[User]:
    """Active approvers and admins: the only people who can be group members, account
    approvers, delegates or away with a delegate (clients act on their own requests only)."""
    return db.session.scalars(
        select(User).where(User.role.in_(STAFF), User.active.is_(True)).order_by(User.name)
    ).all()


# -- groups -----------------------------------------------------------------------------------


def group_problems(name: str | None, title: str, *, unique: bool = True) -> Problems:
    """What is wrong with a new group's name (``None`` when only the title changes) and title;
    ``unique`` refuses a name already taken (the command line retitles that group instead)."""
    problems: Problems = {}
    if name is not None and not GROUP_NAME.fullmatch(name):
        problems["name"] = _l(
            "%(name)r cannot be a group name: use lower-case letters, digits, - and _, "
            "starting with a letter (like ccb)",
            name=name,
        )
    elif unique and name and db.session.scalar(select(Group.id).where(Group.name == name)):
        problems["name"] = _l("There is already a group called %(name)s.", name=name)
    if not title.strip() or len(title.strip()) > 200:
        problems["title"] = _l("the title needs 1 to 200 characters")
    return problems


def _group_data(group: Group) -> dict:
    return {"group_id": group.id, "name": group.name, "title": group.title}


def create_group(name: str, title: str, actor: User | None) -> Group:
    group = Group(name=name, title=title.strip())
    db.session.add(group)
    db.session.flush()
    record(event="group_created", actor_id=_id(actor), after=_group_data(group))
    return group


def retitle_group(group: Group, title: str, actor: User | None) -> None:
    before = _group_data(group)
    group.title = title.strip()
    record(event="group_changed", actor_id=_id(actor), before=before, after=_group_data(group))


def member_ids(group: Group) -> set[int]:
    return set(
        db.session.scalars(
            select(group_members.c.user_id).where(group_members.c.group_id == group.id)
        )
    )


def add_member(group: Group, user: User, actor: User | None) -> bool:
    """Put a member (already checked to be active staff) in the group; False if there already."""
    if user.id in member_ids(group):
        return False
    db.session.execute(insert(group_members).values(group_id=group.id, user_id=user.id))
    record(
        event="group_member_added",
        actor_id=_id(actor),
        after={"group_id": group.id, "name": group.name, "user_id": user.id},
    )
    db.session.expire(group, ["members"])
    return True


def remove_member(group: Group, user: User, actor: User | None) -> bool:
    if user.id not in member_ids(group):
        return False
    db.session.execute(
        delete(group_members).where(
            group_members.c.group_id == group.id, group_members.c.user_id == user.id
        )
    )
    record(
        event="group_member_removed",
        actor_id=_id(actor),
        before={"group_id": group.id, "name": group.name, "user_id": user.id},
    )
    db.session.expire(group, ["members"])
    return True


def staff_problem(user: User, rule: str) -> str | None:
    """Why this person cannot be given a part that only staff take (``rule`` says which)."""
    if user.role not in STAFF:
        role = ROLE_LABELS.get(Role(user.role), user.role)
        return _l("%(email)s is a %(role)s; %(rule)s", email=user.email, role=role, rule=rule)
    if not user.active:
        return _l("%(email)s is deactivated", email=user.email)
    return None


MEMBER_RULE = _l("only approvers and admins can be group members")
APPROVER_RULE = _l("only approvers and admins can be account approvers")
DELEGATION_RULE = _l("only approvers and admins delegate or act for others")


# -- account approvers ------------------------------------------------------------------------


def approver_ids(organisation: Organisation) -> set[int]:
    return set(
        db.session.scalars(
            select(organisation_approvers.c.user_id).where(
                organisation_approvers.c.organisation_id == organisation.id
            )
        )
    )


def account_approvers(organisation: Organisation) -> list[User]:
    ids = approver_ids(organisation)
    if not ids:
        return []
    return db.session.scalars(select(User).where(User.id.in_(ids)).order_by(User.name)).all()


def add_account_approver(organisation: Organisation, user: User, actor: User | None) -> bool:
    if user.id in approver_ids(organisation):
        return False
    db.session.execute(
        insert(organisation_approvers).values(organisation_id=organisation.id, user_id=user.id)
    )
    record(
        event="account_approver_added",
        actor_id=_id(actor),
        after={"organisation_id": organisation.id, "user_id": user.id},
    )
    return True


def remove_account_approver(organisation: Organisation, user: User, actor: User | None) -> bool:
    if user.id not in approver_ids(organisation):
        return False
    db.session.execute(
        delete(organisation_approvers).where(
            organisation_approvers.c.organisation_id == organisation.id,
            organisation_approvers.c.user_id == user.id,
        )
    )
    record(
        event="account_approver_removed",
        actor_id=_id(actor),
        before={"organisation_id": organisation.id, "user_id": user.id},
    )
    return True


# -- delegations ------------------------------------------------------------------------------


def delegation_problems(
    away: User | None,
    delegate: User | None,
    starts_on: date | None,
    ends_on: date | None,
    today: date,
) -> Problems:
    """What is wrong with "``delegate`` acts for ``away`` from ``starts_on`` to ``ends_on``"
    (what is None is not checked: the page says it is missing)."""
    problems: Problems = {}
    if away is not None and delegate is not None and away.id == delegate.id:
        problems["delegate_id"] = _l("a person cannot delegate to themselves")
    if starts_on is None or ends_on is None:
        pass
    elif ends_on < starts_on:
        problems["ends_on"] = _l(
            "the end (%(end)s) is before the start (%(start)s)", end=ends_on, start=starts_on
        )
    elif ends_on < today:
        problems["ends_on"] = _l(
            "the delegation would be over already (it ends on %(end)s)", end=ends_on
        )
    for field, person in (("user_id", away), ("delegate_id", delegate)):
        problem = staff_problem(person, DELEGATION_RULE) if person is not None else None
        if problem is not None and field not in problems:
            problems[field] = problem
    return problems


def same_delegation(away: User, delegate: User, starts_on: date, ends_on: date):  # noqa: ANN201
    return db.session.scalar(
        select(Delegation).where(
            Delegation.user_id == away.id,
            Delegation.delegate_id == delegate.id,
            Delegation.starts_on == starts_on,
            Delegation.ends_on == ends_on,
        )
    )


def delegation_data(delegation: Delegation) -> dict:
    """A delegation as the trace keeps it."""
    return {
        "delegation_id": delegation.id,
        "user_id": delegation.user_id,
        "delegate_id": delegation.delegate_id,
        "starts_on": delegation.starts_on.isoformat(),
        "ends_on": delegation.ends_on.isoformat(),
    }


def add_delegation(
    away: User, delegate: User, starts_on: date, ends_on: date, actor: User | None
) -> Delegation:
    """Record a checked delegation. The trace names the person away as its actor when no
    one else made it (the command line), as it always did."""
    delegation = Delegation(
        user_id=away.id, delegate_id=delegate.id, starts_on=starts_on, ends_on=ends_on
    )
    db.session.add(delegation)
    db.session.flush()
    record(
        event="delegated",
        actor_id=_id(actor) if actor is not None else away.id,
        after=delegation_data(delegation),
    )
    return delegation


def remove_delegation(delegation: Delegation, actor: User | None) -> None:
    record(event="delegation_removed", actor_id=_id(actor), before=delegation_data(delegation))
    db.session.delete(delegation)


def end_delegation(delegation: Delegation, today: date, actor: User | None) -> None:
    """End a delegation early: from today on nobody acts for the person. One that has not
    started yet, or started today, is removed; one under way now ends yesterday."""
    if delegation.starts_on >= today:
        remove_delegation(delegation, actor)
        return
    before = delegation_data(delegation)
    delegation.ends_on = min(delegation.ends_on, date.fromordinal(today.toordinal() - 1))
    record(
        event="delegation_ended",
        actor_id=_id(actor),
        before=before,
        after=delegation_data(delegation),
    )


def delegation_state(delegation: Delegation, today: date) -> str:
    """``current``, ``upcoming`` or ``past``."""
    if delegation.ends_on < today:
        return "past"
    return "upcoming" if delegation.starts_on > today else "current"


# -- working calendars ------------------------------------------------------------------------


def calendar_problems(
    *,
    zone: str,
    country: str | None,
    subdivision: str | None,
    workdays: list[int],
    starts: time | None,
    ends: time | None,
) -> Problems:
    """What is wrong with a calendar's zone, holidays, days and hours."""
    from portal.approvals.calendar import known_country
    from portal.i18n import valid_zone

    problems: Problems = {}
    if not valid_zone(zone):
        problems["zone"] = _l("unknown time zone %(zone)r", zone=zone)
    if subdivision and not country:
        problems["subdivision"] = _l("a region needs its country")
    elif country and not known_country(country, subdivision):
        problems["country"] = _l(
            "no public holidays are known for %(where)s",
            where=country + (f"-{subdivision}" if subdivision else ""),
        )
    if not workdays:
        problems["workdays"] = _l("a calendar needs at least one working day")
    if starts is not None and ends is not None and ends <= starts:
        problems["day_ends"] = _l("working hours must end after they start")
    return problems


def save_calendar(
    calendar: Calendar | None,
    *,
    name: str,
    zone: str,
    country: str | None,
    subdivision: str | None,
    workdays: list[int],
    starts: time,
    ends: time,
    closed_days: list[date] | None,
    actor: User | None,
) -> Calendar:
    """Make (``calendar`` None) or change a checked calendar. ``closed_days`` None keeps them."""
    made = calendar is None
    before = None if made else calendar_data(calendar)
    if made:
        calendar = Calendar(name=name)
        db.session.add(calendar)
    calendar.name = name
    calendar.zone, calendar.country = zone, (country.upper() if country else None)
    calendar.subdivision = subdivision or None
    calendar.workdays = ",".join(str(d) for d in sorted(set(workdays)))
    calendar.day_starts, calendar.day_ends = starts.strftime("%H:%M"), ends.strftime("%H:%M")
    if closed_days is not None:
        calendar.closed_days = ",".join(d.isoformat() for d in sorted(set(closed_days)))
    elif made:
        calendar.closed_days = ""
    db.session.flush()
    record(
        event="calendar_saved",
        actor_id=_id(actor),
        before=before,
        after=calendar_data(calendar),
    )
    return calendar


def calendar_data(calendar: Calendar) -> dict:
    return {
        "calendar_id": calendar.id,
        "name": calendar.name,
        "zone": calendar.zone,
        "workdays": calendar.workdays,
        "day_starts": calendar.day_starts,
        "day_ends": calendar.day_ends,
        "country": calendar.country,
        "subdivision": calendar.subdivision,
        "closed_days": calendar.closed_days or "",
    }


def assign_calendar(target: User | Organisation, calendar: Calendar | None, actor: User | None):  # noqa: ANN201
    """Count ``target``'s deadlines in ``calendar`` (None: the portal's default)."""
    kind = "user_id" if isinstance(target, User) else "organisation_id"
    before = {kind: target.id, "calendar_id": target.calendar_id}
    target.calendar_id = calendar.id if calendar is not None else None
    if before["calendar_id"] != target.calendar_id:
        record(
            event="calendar_assigned",
            actor_id=_id(actor),
            before=before,
            after={kind: target.id, "calendar_id": target.calendar_id},
        )


def describe(calendar: Calendar) -> str:
    """``mon, tue, wed, thu 09:00-17:00 Europe/Berlin, holidays of DE``."""
    days = ", ".join(DAY_NAMES[int(d)] for d in calendar.workdays.split(","))
    where = f", holidays of {calendar.country}" if calendar.country else ""
    if calendar.subdivision:
        where += f"-{calendar.subdivision}"
    return f"{days} {calendar.day_starts}-{calendar.day_ends} {calendar.zone}{where}"


def _id(user: User | None) -> int | None:
    return user.id if user is not None else None
