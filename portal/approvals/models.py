"""What the approval chain needs stored: who acts (groups, account approvers, delegations),
what waits on whom (tasks), and each revision of a request's answers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.database import utcnow
from portal.extensions import db

group_members = Table(
    "group_members",
    db.metadata,
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)

organisation_approvers = Table(
    "organisation_approvers",
    db.metadata,
    Column("organisation_id", ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)


class Group(db.Model):
    """A named set of people a step can go to, such as the change control board (ccb)."""

    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    members: Mapped[list[User]] = relationship(secondary=group_members, order_by=User.name)


class Delegation(db.Model):
    """From ``starts_on`` to ``ends_on`` (both included), ``delegate`` acts for ``user``.

    The trace then says "delegate on behalf of user"; the vote counts for ``user``.
    """

    __tablename__ = "delegations"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    delegate_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    delegate: Mapped[User] = relationship(foreign_keys=[delegate_id])


class Task(db.Model):
    """One person's part in an open step: what the inbox lists, soonest deadline first.

    Derived from the request's chain state each time it changes; never the source of truth.
    """

    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("request_id", "step", "user_id", name="uq_tasks_request_step_user"),
        Index("ix_tasks_user_open_due", "user_id", "open", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("change_requests.id", ondelete="CASCADE"))
    step: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    open: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime | None]
    remind_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class RequestRevision(db.Model):
    """The answers of a request as they were at one revision (1 = as first submitted)."""

    __tablename__ = "request_revisions"
    __table_args__ = (
        UniqueConstraint("request_id", "number", name="uq_request_revisions_request_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("change_requests.id", ondelete="CASCADE"))
    number: Mapped[int]
    answers: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))


class Calendar(db.Model):
    """The working calendar of an organisation or a person: working days and hours, the
    zone they are counted in, and the country (and region) whose public holidays apply."""

    __tablename__ = "calendars"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    zone: Mapped[str] = mapped_column(String(64))
    workdays: Mapped[str] = mapped_column(String(20), default="0,1,2,3,4")  # 0 = Monday
    day_starts: Mapped[str] = mapped_column(String(5), default="09:00")
    day_ends: Mapped[str] = mapped_column(String(5), default="17:00")
    country: Mapped[str | None] = mapped_column(String(8))
    subdivision: Mapped[str | None] = mapped_column(String(16))
    # Extra days the calendar is closed (a company holiday), ISO dates separated by commas.
    closed_days: Mapped[str] = mapped_column(Text, default="", server_default="")

    @property
    def closed_dates(self) -> list[date]:
        return [date.fromisoformat(d) for d in self.closed_days.split(",") if d.strip()]

    def working_calendar(self):  # noqa: ANN201
        from datetime import time

        from portal.approvals.calendar import WorkingCalendar

        return WorkingCalendar(
            zone=self.zone,
            workdays=frozenset(int(d) for d in self.workdays.split(",") if d != ""),
            day_starts=time.fromisoformat(self.day_starts),
            day_ends=time.fromisoformat(self.day_ends),
            country=self.country,
            subdivision=self.subdivision,
            holidays=frozenset(self.closed_dates),
        )
