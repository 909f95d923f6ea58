"""Server-side sign-in sessions.

The browser's cookie carries a random token; the database keeps its hash. Signing in
starts a fresh session (nothing from before it survives), signing out ends the row, so a
copy of the cookie taken before logout no longer opens anything. A session also ends after
a period without activity and after a maximum age.
"""

from __future__ import annotations

import functools
import secrets
from datetime import timedelta

from flask import current_app, request, session
from flask_login import login_user, logout_user
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from portal.accounts.models import User, UserSession
from portal.database import utcnow
from portal.extensions import db, login_manager

# Writing last_seen_at on every request would turn each page view into a write.
TOUCH_INTERVAL = timedelta(minutes=1)
KEPT_ACROSS_SIGN_IN = ("locale",)
PASSIVE_ENDPOINTS = frozenset({"notifications.bell"})


def begin_session(user: User) -> None:
    """Sign ``user`` in with a new token, discarding whatever the old cookie held."""
    kept = {key: session[key] for key in KEPT_ACROSS_SIGN_IN if key in session}
    session.clear()
    session.update(kept)
    token = secrets.token_urlsafe(32)
    db.session.add(
        UserSession(
            token_hash=UserSession.hash_token(token),
            user=user,
            ip_address=request.remote_addr,
            user_agent=(request.user_agent.string or "")[:300],
        )
    )
    user.session_token = token
    session.permanent = True
    login_user(user)


def end_session() -> None:
    """Sign out: the session row ends, and the cookie is emptied."""
    from flask_login import current_user

    current = getattr(current_user, "current_session", None)
    if current is not None and current.ended_at is None:
        current.ended_at = utcnow()
        db.session.commit()
    logout_user()
    session.clear()


def _expired(row: UserSession) -> bool:
    config = current_app.config
    now = utcnow()
    return (
        row.ended_at is not None
        or now - row.last_seen_at > timedelta(minutes=config["SESSION_IDLE_MINUTES"])
        or now - row.created_at > timedelta(hours=config["SESSION_MAX_HOURS"])
    )


@functools.cache
def _session_by_token():  # noqa: ANN202
    """The session row with its person and their organisation: every page needs them (the
    organisation gives a client's zone), and one query is cheaper than three. Built once,
    as every page runs it."""
    return (
        select(UserSession)
        .options(joinedload(UserSession.user).joinedload(User.organisation))
        .where(UserSession.token_hash == bindparam("token_hash"))
    )


@login_manager.user_loader
def load_user(token: str) -> User | None:
    row = db.session.scalar(_session_by_token(), {"token_hash": UserSession.hash_token(token)})
    if row is None or _expired(row) or not row.user.active:
        return None
    # The bell polls on its own; only what the person does keeps the session alive.
    if request.endpoint not in PASSIVE_ENDPOINTS and utcnow() - row.last_seen_at > TOUCH_INTERVAL:
        row.last_seen_at = utcnow()
        db.session.commit()
    user = row.user
    user.session_token = token
    user.current_session = row
    return user
