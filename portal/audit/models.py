"""The trace tables: the entries, and the one-row head that keeps the chain linear.

Both tables are guarded in the database (see the migration ``b7c1d2e3f4a5``): an entry can
never be updated or deleted, and the head can only move forward by one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.database import UTCDateTime
from portal.extensions import db

GENESIS_HASH = "0" * 64


class TraceEntry(db.Model):
    """One thing that happened: who did it (for whom, from where), when, and what changed.

    ``seq`` numbers the entries 1, 2, 3 … without gaps; ``hash`` covers every other field and
    the ``prev_hash`` of the entry before, so altering or removing one breaks the chain.
    """

    __tablename__ = "trace_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(unique=True)
    event: Mapped[str] = mapped_column(String(40))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("change_requests.id"), index=True)
    step: Mapped[str | None] = mapped_column(String(64))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    on_behalf_of_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    ip_address: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    def __repr__(self) -> str:
        return f"<TraceEntry {self.seq} {self.event} request={self.request_id}>"


class TraceHead(db.Model):
    """The end of the chain: exactly one row (id 1) with the last ``seq`` and its ``hash``.

    Every writer updates this row before it appends, which serialises writers: the row stays
    locked until the writer's transaction ends.
    """

    __tablename__ = "trace_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_seq: Mapped[int]
    last_hash: Mapped[str] = mapped_column(String(64))
