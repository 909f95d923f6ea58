"""Request numbers such as CR-2026-00042: per prefix, per year, never given out twice."""

from __future__ import annotations

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError

from portal.database import utcnow
from portal.extensions import db
from portal.requests.models import RequestCounter


def next_number(prefix: str) -> str:
    """Take the next number in the current transaction.

    The counter row is incremented with a single UPDATE, which locks it until commit, so two
    submissions at the same moment on PostgreSQL (or SQLite's single writer) never share one.
    """
    year = utcnow().year
    statement = (
        update(RequestCounter)
        .where(RequestCounter.prefix == prefix, RequestCounter.year == year)
        .values(last=RequestCounter.last + 1)
        .returning(RequestCounter.last)
    )
    value = db.session.scalar(statement)
    if value is None:
        try:
            with db.session.begin_nested():
                db.session.execute(insert(RequestCounter).values(prefix=prefix, year=year, last=1))
            value = 1
        except IntegrityError:  # someone else started the year a moment ago
            value = db.session.scalar(statement)
    return f"{prefix}-{year}-{value:05d}"
