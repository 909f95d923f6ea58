"""Writing the trace and checking it.

``record`` appends one entry in the caller's transaction (``record_many`` several at once);
``verify`` walks the whole chain.
The hashing at the top is pure: it does no I/O and can be checked without a database.

How an entry is chained: its ``hash`` is the SHA-256 of a canonical JSON text (keys sorted,
no spaces, UTF-8) of every field below, including ``prev_hash``, the hash of the entry before
(64 zeros for entry 1). Change any field of any entry, or remove one, and ``verify`` finds
the first place where the chain no longer holds.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from portal.audit.models import GENESIS_HASH, TraceEntry, TraceHead
from portal.database import utcnow
from portal.extensions import db

__all__ = [
    "GENESIS_HASH",
    "TRACE_TABLES",
    "TraceDamaged",
    "VerifyResult",
    "entries_for",
    "entry_hash",
    "purge_for_tests",
    "record",
    "record_many",
    "verify",
]

#: The tables of the trace: test clean-up empties them with ``purge_for_tests``, not DELETE.
TRACE_TABLES = ("trace_entries", "trace_head")

#: Every field the hash covers, in the order they are listed in the docs.
HASHED_FIELDS = (
    "seq",
    "event",
    "request_id",
    "step",
    "actor_id",
    "on_behalf_of_id",
    "ip_address",
    "at",
    "before",
    "after",
    "data",
    "prev_hash",
)

_TEXT_LIMITS = {"event": 40, "step": 64, "ip_address": 64}


class TraceDamaged(RuntimeError):
    """The trace cannot be extended safely; ``portal audit verify`` says what is wrong."""


# --- the chain: pure functions ------------------------------------------------------------


def canonical_json(value: Any) -> bytes:
    """``value`` as canonical JSON: sorted keys, no spaces, UTF-8, no NaN or infinity."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def format_time(at: datetime) -> str:
    """An aware time as ISO 8601 in UTC with microseconds: ``2026-11-23T04:22:59.987902Z``."""
    if at.tzinfo is None:
        raise ValueError("the trace keeps aware times only")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(fields: Mapping[str, Any]) -> str:
    """The hash of an entry, from a mapping holding every name in ``HASHED_FIELDS``."""
    payload = {name: fields[name] for name in HASHED_FIELDS}
    payload["at"] = format_time(payload["at"])
    return hashlib.sha256(canonical_json(payload)).hexdigest()


def _as_stored(name: str, value: Any) -> Any:
    """A JSON value exactly as it will be read back (``(1, 2)`` becomes ``[1, 2]``, ``{1: x}``
    becomes ``{"1": x}``), so the hash made now is the hash ``verify`` makes later."""
    if value is None:
        return None
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as error:
        message = f"{name} must be plain JSON (text, numbers, lists, dicts): {error}"
        raise TypeError(message) from None


def _check_text(name: str, value: str | None, *, required: bool = False) -> None:
    if value is None:
        if required:
            raise ValueError(f"{name} is required")
        return
    if not isinstance(value, str) or (required and not value):
        raise ValueError(f"{name} must be a non-empty string")
    if len(value) > _TEXT_LIMITS[name]:
        raise ValueError(f"{name} is longer than {_TEXT_LIMITS[name]} characters: {value!r}")


# --- writing ------------------------------------------------------------------------------


def record(
    *,
    event: str,
    request_id: int | None = None,
    step: str | None = None,
    actor_id: int | None = None,
    on_behalf_of_id: int | None = None,
    ip_address: str | None = None,
    before: dict | None = None,
    after: dict | None = None,
    data: dict | None = None,
    at: datetime | None = None,
) -> TraceEntry:
    """Append an entry to the trace, in the caller's transaction: it is written with the change
    it describes, when the caller commits, or not at all. Nothing is committed here.

    The head row is updated first, which takes the next ``seq`` and the previous hash and
    holds the head's lock until the transaction ends (a row lock on PostgreSQL, the write
    lock on SQLite), so concurrent writers chain one after another. ``at`` defaults to the
    moment the lock was taken, so times never go backwards along the chain.
    """
    return record_many(
        [
            {
                "event": event,
                "request_id": request_id,
                "step": step,
                "actor_id": actor_id,
                "on_behalf_of_id": on_behalf_of_id,
                "ip_address": ip_address,
                "before": before,
                "after": after,
                "data": data,
                "at": at,
            }
        ]
    )[0]


def record_many(entries: Sequence[Mapping[str, Any]]) -> list[TraceEntry]:
    """Append several entries at once, in this order, in the caller's transaction.

    Each mapping takes the keyword arguments of ``record``. The result is the same chain as
    ``record`` called once per entry (the head still moves on one entry at a time, as its
    guard in the database demands), written in three statements whatever their number:
    the head is advanced and read (which takes its lock), moved on entry by entry in one
    batch, and the entries are inserted in one batch.
    """
    prepared = [_prepared(**entry) for entry in entries]
    if not prepared:
        return []
    first_seq, prev_hash = _advance_head()
    moment = utcnow()
    written, moves = [], []
    for offset, fields in enumerate(prepared):
        at = fields.pop("at")
        fields.update(seq=first_seq + offset, prev_hash=prev_hash)
        fields["at"] = (at or moment).astimezone(UTC)
        entry = TraceEntry(**fields, hash=entry_hash(fields))
        written.append(entry)
        moves.append({"new_seq": entry.seq, "new_hash": entry.hash})
        prev_hash = entry.hash
    db.session.execute(_MOVE_HEAD, moves)
    db.session.add_all(written)
    db.session.flush()
    return written


def _prepared(
    *,
    event: str,
    request_id: int | None = None,
    step: str | None = None,
    actor_id: int | None = None,
    on_behalf_of_id: int | None = None,
    ip_address: str | None = None,
    before: dict | None = None,
    after: dict | None = None,
    data: dict | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """One entry's fields, checked and as they will be stored (without seq and hashes)."""
    _check_text("event", event, required=True)
    _check_text("step", step)
    _check_text("ip_address", ip_address)
    if at is not None and at.tzinfo is None:
        raise ValueError("at must be an aware datetime")
    return {
        "event": event,
        "request_id": request_id,
        "step": step,
        "actor_id": actor_id,
        "on_behalf_of_id": on_behalf_of_id,
        "ip_address": ip_address,
        "before": _as_stored("before", before),
        "after": _as_stored("after", after),
        "data": _as_stored("data", data),
        "at": at,
    }


_head = TraceHead.__table__
# Built once: every change of the portal runs them, and building a statement costs more
# than running it.
_ADVANCE_HEAD = (
    update(_head)
    .where(_head.c.id == 1)
    .values(last_seq=_head.c.last_seq + 1)
    .returning(_head.c.last_seq, _head.c.last_hash)
)
# One parameter set per entry: the guard lets the head move by at most one per UPDATE.
_MOVE_HEAD = (
    update(_head)
    .where(_head.c.id == 1)
    .values(last_seq=bindparam("new_seq"), last_hash=bindparam("new_hash"))
)


def _advance_head() -> tuple[int, str]:
    """Move the head on by one; return the new ``seq`` and the hash of the entry before it."""
    row = db.session.execute(_ADVANCE_HEAD).one_or_none()
    if row is None:
        _create_head()
        row = db.session.execute(_ADVANCE_HEAD).one_or_none()
        if row is None:
            raise TraceDamaged("the trace head could not be created")
    return row.last_seq, row.last_hash


def _create_head() -> None:
    """Start the chain on an empty trace (the migration makes the head; a test may remove it).

    A missing head above existing entries is damage, not a fresh start: writing is refused
    rather than starting a second chain over the first.
    """
    if db.session.scalar(select(TraceEntry.seq).limit(1)) is not None:
        if db.session.scalar(select(TraceHead.id)) is not None:
            return  # another writer created it between our two statements
        raise TraceDamaged(
            "the trace head is missing but the trace has entries; run `portal audit verify`"
        )
    try:
        with db.session.begin_nested():
            db.session.execute(insert(TraceHead).values(id=1, last_seq=0, last_hash=GENESIS_HASH))
    except IntegrityError:
        pass  # another writer created it a moment ago; its row is the head


# --- reading ------------------------------------------------------------------------------


def entries_for(request_id: int) -> list[TraceEntry]:
    """A request's entries, oldest first: the timeline on the request page."""
    statement = (
        select(TraceEntry).where(TraceEntry.request_id == request_id).order_by(TraceEntry.seq)
    )
    return list(db.session.scalars(statement))


@dataclass(frozen=True)
class VerifyResult:
    """What ``verify`` found: ``ok``, how many entries it checked, and the first break."""

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str | None = None


def verify(batch_size: int = 1000) -> VerifyResult:
    """Walk the trace in ``seq`` order, ``batch_size`` entries at a time (constant memory).

    The head is read first and the walk stops at it, so entries committed while the walk
    runs do not count as damage; afterwards, an entry beyond the (re-read) head does.
    """
    session = db.session
    head = session.execute(
        select(TraceHead.last_seq, TraceHead.last_hash).where(TraceHead.id == 1)
    ).one_or_none()
    if head is None:
        first = session.scalar(select(func.min(TraceEntry.seq)))
        if first is None:
            return VerifyResult(ok=True, checked=0)
        return VerifyResult(False, 0, first, "the trace head is missing")

    table = TraceEntry.__table__
    previous_seq, previous_hash, checked = 0, GENESIS_HASH, 0
    while True:
        rows = session.execute(
            select(table)
            .where(table.c.seq > previous_seq, table.c.seq <= head.last_seq)
            .order_by(table.c.seq)
            .limit(batch_size)
        ).all()
        if not rows:
            break
        for row in rows:
            entry = row._mapping
            seq = entry["seq"]
            if seq != previous_seq + 1:
                missing = previous_seq + 1
                if previous_seq == 0:
                    reason = f"entry {missing} is missing (the trace starts at {seq})"
                else:
                    reason = (
                        f"entry {missing} is missing (the chain jumps from {previous_seq} to {seq})"
                    )
                return VerifyResult(False, checked, missing, reason)
            if entry_hash(entry) != entry["hash"]:
                reason = f"entry {seq} was altered (its hash does not match its content)"
                return VerifyResult(False, checked, seq, reason)
            if entry["prev_hash"] != previous_hash:
                if seq == 1:
                    reason = "entry 1 does not start the chain (prev_hash is not all zeros)"
                else:
                    reason = f"entry {seq} does not follow entry {previous_seq} (prev_hash differs)"
                return VerifyResult(False, checked, seq, reason)
            previous_seq, previous_hash = seq, entry["hash"]
            checked += 1

    if previous_seq < head.last_seq:
        reason = f"the head says {head.last_seq} entries, the trace ends at {previous_seq}"
        return VerifyResult(False, checked, previous_seq + 1, reason)
    if head.last_hash != previous_hash:
        if previous_seq == 0:
            return VerifyResult(False, 0, 1, "the head's hash is not that of an empty trace")
        reason = f"the head's hash does not match entry {previous_seq}"
        return VerifyResult(False, checked, previous_seq, reason)
    last = session.scalar(select(func.max(TraceEntry.seq)))
    now = session.scalar(select(TraceHead.last_seq).where(TraceHead.id == 1))
    if last is not None and (now is None or last > now):
        reason = f"the head says {now or 0} entries, the trace goes on to {last}"
        return VerifyResult(False, checked, (now or 0) + 1, reason)
    return VerifyResult(ok=True, checked=checked)


# --- tests only ---------------------------------------------------------------------------


def purge_for_tests(connection: Connection) -> None:
    """TEST ONLY: empty the trace and reset the head, as a fresh migration leaves them.

    The database refuses to delete trace entries, so this lifts that guard for the length of
    the caller's transaction and puts it back before returning: on PostgreSQL by disabling
    the table's own triggers (``ALTER TABLE … DISABLE TRIGGER USER``, which needs the table's
    owner), on SQLite by dropping the triggers and re-creating them from their stored SQL.
    Both are transactional: if anything fails, the rollback restores the guard. Never call
    this outside the test suite: it destroys the trace.
    """
    dialect = connection.dialect.name
    if dialect == "postgresql":
        # ALTER TABLE waits for every open transaction that touched the table: fail, not hang.
        connection.execute(text("SET LOCAL lock_timeout = '10s'"))
        connection.execute(text("ALTER TABLE trace_entries DISABLE TRIGGER USER"))
        connection.execute(text("DELETE FROM trace_entries"))
        connection.execute(text("ALTER TABLE trace_entries ENABLE TRIGGER USER"))
    elif dialect == "sqlite":
        # pysqlite opens a transaction only before INSERT/UPDATE/DELETE; DROP TRIGGER would
        # otherwise commit on its own. Open one first so the whole purge is one transaction.
        if not connection.connection.dbapi_connection.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        triggers = connection.execute(
            text(
                "SELECT name, sql FROM sqlite_master"
                " WHERE type = 'trigger' AND tbl_name = 'trace_entries' ORDER BY name"
            )
        ).all()
        for name, _sql in triggers:
            connection.exec_driver_sql(f'DROP TRIGGER "{name}"')
        connection.execute(text("DELETE FROM trace_entries"))
        for _name, sql in triggers:
            connection.exec_driver_sql(sql)
    else:
        connection.execute(text("DELETE FROM trace_entries"))
    connection.execute(text("DELETE FROM trace_head"))
    connection.execute(insert(TraceHead.__table__).values(id=1, last_seq=0, last_hash=GENESIS_HASH))
