"""People, the client organisations they belong to, their sign-in sessions and attempts."""

from __future__ import annotations

import enum
import hashlib
from datetime import datetime

from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.database import utcnow
from portal.extensions import db


class Role(enum.StrEnum):
    """What a person may do: clients ask, approvers decide, admins configure."""

    CLIENT = "client"
    APPROVER = "approver"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return str(ROLE_LABELS[self])


ROLE_LABELS = {Role.CLIENT: _l("Client"), Role.APPROVER: _l("Approver"), Role.ADMIN: _l("Admin")}


class Organisation(db.Model):
    """A client organisation: its people see its requests and no one else's."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    timezone: Mapped[str | None] = mapped_column(String(64))
    calendar_id: Mapped[int | None] = mapped_column(ForeignKey("calendars.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    users: Mapped[list[User]] = relationship(back_populates="organisation")

    def __repr__(self) -> str:
        return f"<Organisation {self.name!r}>"


class User(UserMixin, db.Model):
    """Someone who signs in. Clients belong to an organisation; staff need not."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default=Role.CLIENT.value)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    locale: Mapped[str | None] = mapped_column(String(20))
    timezone: Mapped[str | None] = mapped_column(String(64))
    calendar_id: Mapped[int | None] = mapped_column(ForeignKey("calendars.id"))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    organisation: Mapped[Organisation | None] = relationship(back_populates="users")

    # Set when the user is loaded for a request: the sign-in session it came through.
    session_token = None
    current_session = None

    def get_id(self) -> str | None:
        """Flask-Login keeps the session token, not the user id, in the cookie."""
        return self.session_token

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_client(self) -> bool:
        return self.role == Role.CLIENT

    @property
    def is_staff(self) -> bool:
        """Approvers and admins work on every organisation's requests."""
        return self.role in (Role.APPROVER, Role.ADMIN)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def role_label(self) -> str:
        return Role(self.role).label

    def __repr__(self) -> str:
        return f"<User {self.email!r} {self.role}>"


class UserSession(db.Model):
    """One signed-in browser. Only the token's hash is stored; ending the row ends the session,
    so a copied cookie stops working at logout."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    ip_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))

    user: Mapped[User] = relationship()

    @staticmethod
    def hash_token(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()


class LoginAttempt(db.Model):
    """Every sign-in attempt, successful or not: the record the throttle counts from."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_email_at", "email", "attempted_at"),
        Index("ix_login_attempts_ip_at", "ip_address", "attempted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    ip_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    succeeded: Mapped[bool]
    reason: Mapped[str] = mapped_column(String(40))
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
