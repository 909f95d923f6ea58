"""People and organisations: the rules for adding and changing them, shared by
``portal users create`` and the admin pages, and the trace entry each change leaves.

Checks return ``{field: message}`` (lazy gettext: read in the reader's language; the command
line reads them in English). Changes add to the session; the caller commits.
"""

from __future__ import annotations

import secrets

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from portal.accounts.models import Organisation, Role, User
from portal.accounts.passwords import MIN_PASSWORD_LENGTH, hash_password
from portal.audit.trace import record
from portal.extensions import db

Problems = dict[str, str]


def user_data(user: User) -> dict:
    """A person as the trace keeps them (never the password hash)."""
    return {
        "user_id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "organisation_id": user.organisation_id,
        "locale": user.locale,
        "timezone": user.timezone,
        "calendar_id": user.calendar_id,
        "active": user.active,
    }


def organisation_data(organisation: Organisation) -> dict:
    return {
        "organisation_id": organisation.id,
        "name": organisation.name,
        "timezone": organisation.timezone,
        "calendar_id": organisation.calendar_id,
    }


def email_taken(email: str, but: User | None = None) -> bool:
    query = select(User.id).where(func.lower(User.email) == email.strip().lower())
    if but is not None:
        query = query.where(User.id != but.id)
    return db.session.scalar(query) is not None


def person_problems(
    *,
    email: str,
    role: str,
    has_organisation: bool,
    timezone: str | None,
    password: str | None,
    user: User | None = None,
) -> Problems:
    """What is wrong with a person's details (``user``: the one being changed, if any).
    ``password`` None means none is being set."""
    from portal.i18n import valid_zone

    problems: Problems = {}
    if email_taken(email, user):
        problems["email"] = _l(
            "a user with the address %(email)s already exists", email=email.strip().lower()
        )
    if role == Role.CLIENT and not has_organisation:
        problems["organisation_id"] = _l("a client belongs to an organisation: choose one")
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        problems["password"] = _l(
            "the password needs at least %(count)d characters", count=MIN_PASSWORD_LENGTH
        )
    if timezone and not valid_zone(timezone):
        problems["timezone"] = _l("unknown time zone %(zone)r", zone=timezone)
    return problems


def generated_password() -> str:
    """A password to hand over once: 16 URL-safe characters (about 96 bits)."""
    return secrets.token_urlsafe(12)


def create_person(
    *,
    email: str,
    name: str,
    role: str,
    organisation: Organisation | None,
    locale: str | None,
    timezone: str | None,
    password: str,
    actor: User | None,
) -> User:
    user = User(
        email=email.strip().lower(),
        name=name.strip(),
        role=role,
        password_hash=hash_password(password),
        organisation=organisation,
        locale=locale or None,
        timezone=timezone or None,
    )
    db.session.add(user)
    db.session.flush()
    record(event="user_created", actor_id=actor.id if actor else None, after=user_data(user))
    return user


def change_person(user: User, actor: User | None, **changes: object) -> bool:
    """Apply checked changes (email, name, role, organisation_id, locale, timezone,
    calendar_id); trace them if anything changed."""
    before = user_data(user)
    for key, value in changes.items():
        setattr(user, key, value)
    db.session.flush()
    after = user_data(user)
    if after == before:
        return False
    record(event="user_changed", actor_id=actor.id if actor else None, before=before, after=after)
    return True


def active_admins() -> int:
    return db.session.scalar(
        select(func.count(User.id)).where(User.role == Role.ADMIN, User.active.is_(True))
    )


def deactivation_problem(user: User, actor: User) -> str | None:
    """Why this person cannot be deactivated (or made a non-admin) by ``actor``: not
    oneself, and never the last active admin (nobody could then manage the portal)."""
    if user.id == actor.id:
        return _l("You cannot deactivate your own account.")
    if user.is_admin and user.active and active_admins() <= 1:
        return _l("This is the last active admin: make someone else an admin first.")
    return None


def demotion_problem(user: User, new_role: str, actor: User) -> str | None:
    """Why ``user`` cannot stop being an admin now."""
    if not user.is_admin or new_role == Role.ADMIN:
        return None
    if user.id == actor.id:
        return _l("You cannot take the admin role from yourself.")
    if user.active and active_admins() <= 1:
        return _l("This is the last active admin: make someone else an admin first.")
    return None


def set_active(user: User, active: bool, actor: User | None) -> None:
    before = user_data(user)
    user.active = active
    record(
        event="user_reactivated" if active else "user_deactivated",
        actor_id=actor.id if actor else None,
        before=before,
        after=user_data(user),
    )


def reset_password(user: User, password: str, actor: User | None) -> None:
    """Set a new password; the trace says it happened, never what it is."""
    user.password_hash = hash_password(password)
    record(
        event="password_reset",
        actor_id=actor.id if actor else None,
        data={"user_id": user.id},
    )


def organisation_problems(
    name: str, timezone: str | None, organisation: Organisation | None = None
) -> Problems:
    from portal.i18n import valid_zone

    problems: Problems = {}
    query = select(Organisation.id).where(func.lower(Organisation.name) == name.strip().lower())
    if organisation is not None:
        query = query.where(Organisation.id != organisation.id)
    if not name.strip():
        problems["name"] = _l("Enter the organisation's name.")
    elif db.session.scalar(query) is not None:
        problems["name"] = _l("There is already an organisation called %(name)s.", name=name)
    if timezone and not valid_zone(timezone):
        problems["timezone"] = _l("unknown time zone %(zone)r", zone=timezone)
    return problems


def save_organisation(
    organisation: Organisation | None,
    *,
    name: str,
    timezone: str | None,
    calendar_id: int | None,
    actor: User | None,
) -> Organisation:
    made = organisation is None
    if made:
        organisation = Organisation(name=name.strip())
        db.session.add(organisation)
        before = None
    else:
        before = organisation_data(organisation)
    organisation.name = name.strip()
    organisation.timezone = timezone or None
    organisation.calendar_id = calendar_id
    db.session.flush()
    after = organisation_data(organisation)
    if before != after:
        record(
            event="organisation_created" if made else "organisation_changed",
            actor_id=actor.id if actor else None,
            before=before,
            after=after,
        )
    return organisation
