"""Who acts on a step, and when they work: groups, account approvers, delegations and
working calendars. Each rule and each change lives here once, for the command line
(``portal groups``, ``organisations``, ``delegations``, ``calendars``) and the admin pages.

Checks return their problems as ``{field: message}`` (lazy gettext: read in the reader's
language; the command line reads them in English), all at once, never only the first.
Changes add to the session and leave a trace entry with before and after; the caller
commits, so a change and its trace are written together or not at all.

A group, a working calendar or an organisation can be deleted only when nothing needs it
any more: ``*_delete_problems`` says what still does (empty when it can go), and
``delete_*`` removes it with what belongs to it alone, leaving its last state in the trace.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, time
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, insert, select

from portal.accounts.models import ROLE_LABELS, Organisation, Role, User
from portal.accounts.people import organisation_data
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


def calendar_users(calendar: Calendar) -> tuple[list[Organisation], list[User]]:
    """The organisations and the people whose deadlines count in this calendar."""
    organisations = db.session.scalars(
        select(Organisation)
        .where(Organisation.calendar_id == calendar.id)
        .order_by(Organisation.name)
    ).all()
    people = db.session.scalars(
        select(User).where(User.calendar_id == calendar.id).order_by(User.name)
    ).all()
    return organisations, people


def describe(calendar: Calendar) -> str:
    """``mon, tue, wed, thu 09:00-17:00 Europe/Berlin, holidays of DE``."""
    days = ", ".join(DAY_NAMES[int(d)] for d in calendar.workdays.split(","))
    where = f", holidays of {calendar.country}" if calendar.country else ""
    if calendar.subdivision:
        where += f"-{calendar.subdivision}"
    return f"{days} {calendar.day_starts}-{calendar.day_ends} {calendar.zone}{where}"


# -- deleting ---------------------------------------------------------------------------------

#: Names a refusal quotes before it says "and N more".
SHOWN = 10
#: Requests in these statuses need nobody any more.
CLOSED_STATUSES = ("completed", "rejected", "declined", "withdrawn")


def _some(names: Iterable[str]) -> str:
    names = list(names)
    shown = ", ".join(names[:SHOWN])
    return shown if len(names) <= SHOWN else f"{shown}, … (+{len(names) - SHOWN})"


def _names_group(rule: Any, name: str) -> bool:
    return getattr(rule, "name", None) == "group" and getattr(rule, "params", None) == name


def _loaded_steps_naming(chain: Any, name: str) -> dict[str, tuple[bool, bool]]:
    """``{step: (its assignees name the group, its escalate_to does)}`` for a loaded chain."""
    found = {}
    for step in chain.steps if chain is not None else ():
        assigned = any(_names_group(rule, name) for rule in step.assignees)
        escalated = _names_group(step.escalate_to, name)
        if assigned or escalated:
            found[step.name] = (assigned, escalated)
    return found


def _written_steps_naming(definition: Any, name: str) -> dict[str, tuple[bool, bool]]:
    """The same for a chain as written that does not load (a draft being worked on, say):
    its steps read the way the chain designer reads them."""
    from portal.designer.chain_editing import flatten

    chain = definition.get("chain") if isinstance(definition, Mapping) else None
    found = {}
    for entry in flatten(chain if isinstance(chain, Mapping) else None):
        rules = entry.step.get("assignees")
        rules = list(rules) if isinstance(rules, list) else [rules]
        escalate_to = entry.step.get("escalate_to")
        assigned = any(_written_names_group(rule, name) for rule in rules)
        escalated = _written_names_group(escalate_to, name)
        if assigned or escalated:
            found[str(entry.step.get("name"))] = (assigned, escalated)
    return found


def _written_names_group(rule: Any, name: str) -> bool:
    return isinstance(rule, Mapping) and len(rule) == 1 and rule.get("group") == name


def _version_steps_naming(version: Any, name: str) -> dict[str, tuple[bool, bool]]:
    from portal.forms.definition import DefinitionError
    from portal.forms.service import definition_of

    try:
        return _loaded_steps_naming(definition_of(version).chain, name)
    except DefinitionError:
        return _written_steps_naming(version.definition, name)


def _draft_steps_naming(draft: Any, name: str) -> dict[str, tuple[bool, bool]]:
    from portal.forms.definition import DefinitionError
    from portal.forms.service import check_definition

    try:
        return _loaded_steps_naming(check_definition(draft.definition).chain, name)
    except DefinitionError:
        return _written_steps_naming(draft.definition, name)


def forms_naming_group(name: str) -> tuple[list[str], list[str]]:
    """The forms whose published version, and those whose draft in the designer, name the
    group in a step of their chain (as assignees or as whom the step escalates to).
    Archived forms count: they can be brought back."""
    from portal.designer.models import FormDraft
    from portal.forms.models import Form, FormVersion

    latest = (
        select(FormVersion.form_id, func.max(FormVersion.number).label("number"))
        .group_by(FormVersion.form_id)
        .subquery()
    )
    versions = db.session.execute(
        select(Form.name, FormVersion)
        .join(FormVersion, FormVersion.form_id == Form.id)
        .join(
            latest,
            (latest.c.form_id == FormVersion.form_id) & (latest.c.number == FormVersion.number),
        )
        .order_by(Form.name)
    ).all()
    published = [form for form, version in versions if _version_steps_naming(version, name)]
    drafts = [
        draft.form_name
        for draft in db.session.scalars(select(FormDraft).order_by(FormDraft.form_name))
        if _draft_steps_naming(draft, name)
    ]
    return published, drafts


def requests_needing_group(name: str) -> list[str]:
    """The numbers of the open requests that will still look the group up: a step that
    names it has not started yet, or may still escalate to it. (A step looks its people up
    when it starts; one already open keeps them.)"""
    from portal.approvals.engine import OPEN_STEP, State
    from portal.forms.models import FormVersion
    from portal.requests.models import ChangeRequest

    is_open = ChangeRequest.status.not_in(CLOSED_STATUSES) & ChangeRequest.chain_state.is_not(None)
    version_ids = db.session.scalars(
        select(ChangeRequest.form_version_id).where(is_open).distinct()
    )
    steps_by_version = {}
    for version in db.session.scalars(
        select(FormVersion).where(FormVersion.id.in_(list(version_ids)))
    ):
        steps = _version_steps_naming(version, name)
        if steps:
            steps_by_version[version.id] = steps
    if not steps_by_version:
        return []
    numbers = []
    rows = db.session.execute(
        select(ChangeRequest.number, ChangeRequest.form_version_id, ChangeRequest.chain_state)
        .where(is_open, ChangeRequest.form_version_id.in_(list(steps_by_version)))
        .order_by(ChangeRequest.id)
    )
    for number, version_id, chain_state in rows:
        state = State.from_json(chain_state)
        if state.finished:
            continue
        for step, (assigned, escalated) in steps_by_version[version_id].items():
            status = state.steps[step].status if step in state.steps else "waiting"
            if (assigned and status == "waiting") or (
                escalated and (status == "waiting" or status in OPEN_STEP)
            ):
                numbers.append(number)
                break
    return numbers


def group_delete_problems(group: Group) -> Problems:
    """What still needs the group: forms whose chain names it, open requests that will
    look it up. Empty when it can be deleted."""
    problems: Problems = {}
    published, drafts = forms_naming_group(group.name)
    if published:
        problems["published"] = _l(
            "The published version of these forms names the group %(name)s in a step: "
            "%(forms)s. Publish them without it first.",
            name=group.name,
            forms=_some(published),
        )
    if drafts:
        problems["drafts"] = _l(
            "The draft of these forms in the designer names the group %(name)s in a step: "
            "%(forms)s. Take it out of those drafts, or discard them, first.",
            name=group.name,
            forms=_some(drafts),
        )
    numbers = requests_needing_group(group.name)
    if numbers:
        problems["requests"] = _l(
            "These open requests still need the group %(name)s for a step that has not "
            "finished: %(numbers)s. Wait until they are finished.",
            name=group.name,
            numbers=_some(numbers),
        )
    return problems


def delete_group(group: Group, actor: User | None) -> None:
    """Delete a group that nothing needs (checked), with its memberships."""
    before = {**_group_data(group), "members": sorted(member_ids(group))}
    db.session.execute(delete(group_members).where(group_members.c.group_id == group.id))
    db.session.expire(group, ["members"])
    db.session.delete(group)
    db.session.flush()
    record(event="group_deleted", actor_id=_id(actor), before=before)


def calendar_delete_problems(calendar: Calendar) -> Problems:
    """Who still counts deadlines in the calendar. Empty when it can be deleted."""
    organisations, people = calendar_users(calendar)
    problems: Problems = {}
    if organisations:
        problems["organisations"] = _l(
            "These organisations count their deadlines in the calendar %(name)s: "
            "%(names)s. Give them another calendar (or the portal's default) first.",
            name=calendar.name,
            names=_some(o.name for o in organisations),
        )
    if people:
        problems["people"] = _l(
            "These people count their deadlines in the calendar %(name)s: %(names)s. "
            "Give them another calendar (or the portal's default) first.",
            name=calendar.name,
            names=_some(f"{u.name} ({u.email})" for u in people),
        )
    return problems


def delete_calendar(calendar: Calendar, actor: User | None) -> None:
    """Delete a calendar nobody counts in (checked)."""
    before = calendar_data(calendar)
    db.session.delete(calendar)
    db.session.flush()
    record(event="calendar_deleted", actor_id=_id(actor), before=before)


def organisation_delete_problems(organisation: Organisation) -> Problems:
    """Why the organisation cannot be deleted: it still has people, requests, or files its
    people uploaded. Empty when it can."""
    from portal.requests.models import Attachment, ChangeRequest

    def count(model) -> int:  # noqa: ANN001
        return db.session.scalar(
            select(func.count(model.id)).where(model.organisation_id == organisation.id)
        )

    people, requests = count(User), count(ChangeRequest)
    if people or requests:
        return {
            "organisation": _l(
                "The organisation %(name)s still has people (%(people)s) and requests "
                "(%(requests)s); only one with neither can be deleted. Its people can be "
                "deactivated instead: they can no longer sign in, and its requests stay "
                "on record.",
                name=organisation.name,
                people=people,
                requests=requests,
            )
        }
    files = count(Attachment)
    if files:
        return {
            "organisation": _l(
                "The organisation %(name)s still has files (%(files)s) uploaded by people "
                "who belonged to it, for requests not sent yet.",
                name=organisation.name,
                files=files,
            )
        }
    return {}


def delete_organisation(organisation: Organisation, actor: User | None) -> None:
    """Delete an organisation with no people and no requests (checked), and the links that
    made staff its account approvers."""
    before = {
        **organisation_data(organisation),
        "account_approvers": sorted(approver_ids(organisation)),
    }
    db.session.execute(
        delete(organisation_approvers).where(
            organisation_approvers.c.organisation_id == organisation.id
        )
    )
    db.session.delete(organisation)
    db.session.flush()
    record(event="organisation_deleted", actor_id=_id(actor), before=before)


def _id(user: User | None) -> int | None:
    return user.id if user is not None else None
