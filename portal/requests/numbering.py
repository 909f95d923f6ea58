"""Request numbers such as CR-2026-00042: per prefix, per year, never given out twice."""

from __future__ import annotations

from sqlalchemy import bindparam, insert, update
from sqlalchemy.exc import IntegrityError

from portal.database import utcnow
from portal.extensions import db
from portal.requests.models import RequestCounter

_counters = RequestCounter.__table__
# Built once: every submission runs it, and building a statement costs more than running it.
_TAKE_NEXT = (
    update(_counters)
    .where(_counters.c.prefix == bindparam("of_prefix"), _counters.c.year == bindparam("of_year"))
    .values(last=_counters.c.last + 1)
    .returning(_counters.c.last)
)


def next_number(prefix: str) -> str:
    """Take the next number in the current transaction.

    The counter row is incremented with a single UPDATE, which locks it until commit, so two
    submissions at the same moment on PostgreSQL (or SQLite's single writer) never share one.
    """
    year = utcnow().year
    key = {"of_prefix": prefix, "of_year": year}
    value = db.session.scalar(_TAKE_NEXT, key)
    if value is None:
        try:
            with db.session.begin_nested():
                db.session.execute(insert(_counters).values(prefix=prefix, year=year, last=1))
            value = 1
        except IntegrityError:  # someone else started the year a moment ago
            value = db.session.scalar(_TAKE_NEXT, key)
    return f"{prefix}-{year}-{value:05d}"
