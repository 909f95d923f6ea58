"""The trace (留痕): every entry is chained to the one before, written with the change it
describes, refused any UPDATE or DELETE by the database, and checked by ``portal audit verify``.
"""

from __future__ import annotations

import hashlib
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import IntegrityError

import portal.audit.models  # noqa: F401  (registers the tables until portal/models.py does)
from portal.accounts.models import Organisation, Role, User
from portal.audit.cli import audit
from portal.audit.models import GENESIS_HASH, TraceEntry, TraceHead
from portal.audit.trace import (
    TRACE_TABLES,
    TraceDamaged,
    entries_for,
    entry_hash,
    purge_for_tests,
    record,
    verify,
)
from portal.extensions import db
from portal.forms.models import FormVersion
from portal.requests.models import ChangeRequest


def _purge(app) -> None:
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as connection:
            purge_for_tests(connection)


@pytest.fixture(autouse=True)
def _empty_trace(app):
    """Each test starts from the trace a fresh migration leaves (no entries, head at 0). The
    database refuses DELETE on the trace, so it is emptied the test-only way, also after the
    test, before the suite's own clean-up deletes the users and requests it points at."""
    _purge(app)
    yield
    _purge(app)


def record_many(app, count: int, **fields) -> list[int]:
    """Record ``count`` entries, each in its own committed transaction; return their seqs."""
    seqs = []
    with app.app_context():
        for number in range(count):
            entry = record(event="commented", data={"comment": f"note {number}"}, **fields)
            db.session.commit()
            seqs.append(entry.seq)
    return seqs


def all_entries(app) -> list[TraceEntry]:
    with app.app_context():
        entries = list(db.session.scalars(select(TraceEntry).order_by(TraceEntry.seq)))
        db.session.expunge_all()
        return entries


def head(app) -> tuple[int, str] | None:
    with app.app_context():
        row = db.session.execute(select(TraceHead.last_seq, TraceHead.last_hash)).one_or_none()
        return None if row is None else tuple(row)


@contextmanager
def guard_lifted(app):
    """Tamper the way someone with direct database access would: take the append-only
    triggers off (PostgreSQL: ALTER TABLE … DISABLE TRIGGER; SQLite: DROP TRIGGER), change the
    rows with raw SQL, then put the triggers back so nothing looks touched."""
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("ALTER TABLE trace_entries DISABLE TRIGGER USER"))
                try:
                    yield connection
                finally:
                    connection.execute(text("ALTER TABLE trace_entries ENABLE TRIGGER USER"))
            else:
                triggers = connection.execute(
                    text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
                ).all()
                for name, _sql in triggers:
                    connection.exec_driver_sql(f"DROP TRIGGER {name}")
                try:
                    yield connection
                finally:
                    for _name, sql in triggers:
                        connection.exec_driver_sql(sql)


def make_request(app, accounts, change_request_form) -> tuple[int, int]:
    """A submitted change request and its requester's id."""
    org = accounts.organisation("Acme Ltd")
    requester = accounts.user("dana@acme.test", Role.CLIENT, org)
    with app.app_context():
        version = db.session.get(FormVersion, change_request_form)
        request = ChangeRequest(
            number="CR-2026-00001",
            form_version_id=version.id,
            organisation_id=org,
            requester_id=requester,
            title="Add a CSV export",
            answers={"description": "Details"},
        )
        db.session.add(request)
        db.session.commit()
        return request.id, requester


# --- the chain ----------------------------------------------------------------------------


def test_entries_are_numbered_from_one_and_each_points_at_the_one_before(app):
    assert record_many(app, 5) == [1, 2, 3, 4, 5]

    entries = all_entries(app)
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == GENESIS_HASH == "0" * 64
    for earlier, later in zip(entries, entries[1:], strict=False):
        assert later.prev_hash == earlier.hash
    assert len({e.hash for e in entries}) == 5
    assert head(app) == (5, entries[-1].hash)
    with app.app_context():
        assert verify() == verify(batch_size=2)
        assert verify().ok and verify().checked == 5


def test_the_hash_is_sha256_of_the_canonical_json_of_every_field(app, accounts):
    approver = accounts.user("ann@example.test", Role.APPROVER, name="Ann")
    boss = accounts.user("bob@example.test", Role.APPROVER, name="Bob")
    with app.app_context():
        entry = record(
            event="approved",
            step="review",
            actor_id=approver,
            on_behalf_of_id=boss,
            ip_address="203.0.113.7",
            before={"status": "in_review"},
            after={"status": "approved"},
            data={"comment": "同意"},
            at=datetime(2026, 11, 23, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=8))),
        )
        db.session.commit()
        canonical = (
            f'{{"actor_id":{approver},"after":{{"status":"approved"}},'
            '"at":"2026-11-23T04:00:00.123456Z","before":{"status":"in_review"},'
            '"data":{"comment":"同意"},"event":"approved","ip_address":"203.0.113.7",'
            f'"on_behalf_of_id":{boss},"prev_hash":"{"0" * 64}",'
            '"request_id":null,"seq":1,"step":"review"}'
        )
        assert entry.hash == hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@pytest.mark.parametrize(
    "at",
    [
        datetime(2026, 11, 23, 4, 0, 0, 987654, tzinfo=UTC),
        datetime(2026, 11, 23, 4, 0, 0, 0, tzinfo=UTC),
        datetime(2026, 3, 29, 2, 30, 0, 1, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
        None,
    ],
)
def test_the_hash_holds_for_the_entry_as_read_back(app, at):
    awkward = {
        "tuple": (1, 2),
        3: "a number as a key",
        "float": 0.1,
        "big": 2**70,
        "text": '变更 ✓ "quoted" \\ back\nslash',
        "nested": {"b": [None, True, {"z": 1, "a": 2}]},
    }
    with app.app_context():
        written = record(event="revised", before=awkward, after={"x": []}, at=at)
        db.session.commit()
        expected_at = written.at
    with app.app_context():  # a fresh session: everything below comes from the database
        entry = db.session.scalars(select(TraceEntry)).one()
        assert entry.at == expected_at and entry.at.tzinfo is not None
        if at is not None:
            assert entry.at == at and entry.at.microsecond == at.microsecond
        assert entry.before["tuple"] == [1, 2] and entry.before["3"] == "a number as a key"
        fields = {name: getattr(entry, name) for name in TraceEntry.__table__.columns.keys()}
        assert entry_hash(fields) == entry.hash
        assert verify().ok


def test_times_along_the_chain_never_go_backwards(app):
    record_many(app, 4)
    times = [e.at for e in all_entries(app)]
    assert times == sorted(times)
    assert all(t.tzinfo is not None and t.utcoffset() == timedelta(0) for t in times)


# --- the caller's transaction -------------------------------------------------------------


def test_an_entry_rolled_back_with_its_change_leaves_no_trace(app):
    with app.app_context():
        db.session.add(Organisation(name="Rolled Back Ltd"))
        entry = record(event="submitted", data={"title": "never happened"})
        assert entry.seq == 1 and entry.id is not None  # flushed, so it is visible …
        db.session.rollback()  # … but only inside the transaction
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(TraceEntry)) == 0
        assert db.session.scalar(select(func.count()).select_from(Organisation)) == 0
    assert head(app) == (0, GENESIS_HASH)

    with app.app_context():
        db.session.add(Organisation(name="Committed Ltd"))
        record(event="submitted", data={"title": "happened"})
        db.session.commit()
    entries = all_entries(app)
    assert [(e.seq, e.data) for e in entries] == [(1, {"title": "happened"})]
    assert head(app) == (1, entries[0].hash)


def test_a_request_shows_its_own_entries_in_order(app, accounts, change_request_form):
    request_id, requester = make_request(app, accounts, change_request_form)
    with app.app_context():
        record(event="submitted", request_id=request_id, actor_id=requester)
        record(event="commented", data={"comment": "another request"})
        record(event="approved", request_id=request_id, step="review")
        db.session.commit()
    with app.app_context():
        timeline = entries_for(request_id)
        assert [(e.seq, e.event) for e in timeline] == [(1, "submitted"), (3, "approved")]
        assert entries_for(request_id + 1) == []


def test_a_missing_head_is_made_on_an_empty_trace_and_refused_above_entries(app):
    with app.app_context():
        db.session.execute(delete(TraceHead))
        db.session.commit()
        assert record(event="submitted").seq == 1
        db.session.commit()
        db.session.execute(delete(TraceHead))
        db.session.commit()
        with pytest.raises(TraceDamaged, match="head is missing"):
            record(event="approved")
        db.session.rollback()
        assert verify() == verify().__class__(False, 0, 1, "the trace head is missing")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"event": ""}, "event must be a non-empty string"),
        ({"event": "x" * 41}, "event is longer than 40"),
        ({"event": "approved", "step": "s" * 65}, "step is longer than 64"),
        ({"event": "approved", "at": datetime(2026, 1, 1)}, "aware"),
        ({"event": "approved", "data": {"when": datetime(2026, 1, 1)}}, "plain JSON"),
        ({"event": "approved", "after": {"x": float("nan")}}, "plain JSON"),
    ],
)
def test_bad_fields_are_refused_before_anything_is_written(app, fields, message):
    with app.app_context():
        with pytest.raises((ValueError, TypeError), match=message):
            record(**fields)
        db.session.rollback()
    assert head(app) == (0, GENESIS_HASH)


# --- append-only --------------------------------------------------------------------------


def test_the_database_refuses_to_change_or_remove_an_entry(app):
    record_many(app, 2)
    attempts = [
        lambda entry: setattr(entry, "after", {"status": "approved"}),
        lambda entry: db.session.delete(entry),
        lambda entry: db.session.execute(update(TraceEntry).values(event="approved")),
        lambda entry: db.session.execute(delete(TraceEntry).where(TraceEntry.seq == 2)),
    ]
    for attempt in attempts:
        with app.app_context():
            entry = db.session.scalars(select(TraceEntry).where(TraceEntry.seq == 1)).one()
            with pytest.raises(IntegrityError, match="append-only"):
                attempt(entry)
                db.session.commit()
            db.session.rollback()
    with app.app_context():
        assert verify() == verify().__class__(ok=True, checked=2)


def test_the_head_only_moves_forward(app):
    record_many(app, 3)
    with app.app_context():
        for values in ({"last_seq": 1}, {"last_seq": 5}, {"id": 2}):
            with pytest.raises(IntegrityError, match="only moves forward"):
                db.session.execute(update(TraceHead).values(**values))
            db.session.rollback()
    assert head(app)[0] == 3


def test_postgresql_refuses_truncate(app):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("TRUNCATE is a PostgreSQL statement")
        with pytest.raises(IntegrityError, match="append-only"):
            db.session.execute(text("TRUNCATE trace_entries CASCADE"))
        db.session.rollback()


# --- verify -------------------------------------------------------------------------------


def test_an_altered_entry_is_named(app):
    record_many(app, 5)
    with guard_lifted(app) as connection:
        connection.execute(
            text('UPDATE trace_entries SET "after" = :after WHERE seq = 3'),
            {"after": '{"status": "approved"}'},
        )
    with app.app_context():
        result = verify(batch_size=2)
    assert result.ok is False
    assert result.first_bad_seq == 3
    assert result.reason == "entry 3 was altered (its hash does not match its content)"
    assert result.checked == 2


def test_an_entry_rewritten_with_a_fresh_hash_breaks_the_next_link(app):
    record_many(app, 5)
    forged = all_entries(app)[2]
    forged.data = {"comment": "forged"}
    fields = {name: getattr(forged, name) for name in TraceEntry.__table__.columns.keys()}
    with guard_lifted(app) as connection:
        connection.execute(
            text("UPDATE trace_entries SET data = :data, hash = :hash WHERE seq = 3"),
            {"data": '{"comment": "forged"}', "hash": entry_hash(fields)},
        )
    with app.app_context():
        result = verify()
    assert (result.ok, result.first_bad_seq) == (False, 4)
    assert result.reason == "entry 4 does not follow entry 3 (prev_hash differs)"


def test_a_deleted_entry_is_named(app):
    record_many(app, 5)
    with guard_lifted(app) as connection:
        connection.execute(text("DELETE FROM trace_entries WHERE seq = 3"))
    with app.app_context():
        result = verify()
    assert (result.ok, result.first_bad_seq, result.checked) == (False, 3, 2)
    assert result.reason == "entry 3 is missing (the chain jumps from 2 to 4)"


def test_deleted_entries_at_either_end_are_named(app):
    record_many(app, 5)
    with guard_lifted(app) as connection:
        connection.execute(text("DELETE FROM trace_entries WHERE seq = 5"))
    with app.app_context():
        result = verify()
    assert (result.ok, result.first_bad_seq) == (False, 5)
    assert result.reason == "the head says 5 entries, the trace ends at 4"

    with guard_lifted(app) as connection:
        connection.execute(text("DELETE FROM trace_entries WHERE seq = 1"))
    with app.app_context():
        result = verify()
    assert (result.ok, result.first_bad_seq) == (False, 1)
    assert result.reason == "entry 1 is missing (the trace starts at 2)"


def test_portal_audit_verify_says_intact_or_names_the_broken_entry(app):
    runner = app.test_cli_runner()
    result = runner.invoke(audit, ["verify"])
    assert (result.exit_code, result.output) == (0, "Trace intact: 0 entries checked.\n")

    record_many(app, 3)
    result = runner.invoke(audit, ["verify", "--batch-size", "1"])
    assert (result.exit_code, result.output) == (0, "Trace intact: 3 entries checked.\n")

    with guard_lifted(app) as connection:
        connection.execute(text("UPDATE trace_entries SET ip_address = '10.0.0.1' WHERE seq = 2"))
    result = runner.invoke(audit, ["verify"])
    assert result.exit_code == 1
    assert result.output == (
        "Trace broken at entry 2: entry 2 was altered (its hash does not match its content)\n"
    )


# --- concurrency --------------------------------------------------------------------------

THREADS, PER_THREAD = 8, 25


def test_on_sqlite_a_read_does_not_open_a_transaction(app, accounts):
    """Why read-then-record is safe on SQLite: the driver opens a transaction only at the first
    write, so that write waits for the lock (busy timeout) instead of failing on a stale read
    snapshot (SQLITE_BUSY_SNAPSHOT, "database is locked"). If this fails, the engine was set
    to BEGIN on every read: action transactions must then start with BEGIN IMMEDIATE."""
    user_id = accounts.user("ann@example.test", Role.APPROVER)
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("PostgreSQL locks the head row instead")
        db.session.get(User, user_id)
        raw = db.session.connection().connection.dbapi_connection
        assert raw.in_transaction is False
        record(event="commented", actor_id=user_id)
        assert raw.in_transaction is True
        db.session.commit()


@pytest.mark.parametrize("head_present", [True, False], ids=["head", "no-head"])
def test_concurrent_writers_chain_one_after_another(app, accounts, head_present):
    """8 threads × 25 transactions, each its own app context and session; every transaction
    reads first (loads its user, as an action route does) and then records and commits."""
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert db.engine.url.database  # a file, shared by every connection
        if not head_present:  # as the suite's clean-up leaves it
            db.session.execute(delete(TraceHead))
            db.session.commit()
    users = [accounts.user(f"u{n}@example.test", Role.APPROVER) for n in range(THREADS)]
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def work(user_id: int) -> None:
        try:
            with app.app_context():
                barrier.wait()
                for number in range(PER_THREAD):
                    user = db.session.get(User, user_id)
                    time.sleep(0.001)  # let others commit between this read and the write
                    record(event="commented", actor_id=user.id, data={"n": number})
                    db.session.commit()
                    db.session.expire_all()
        except BaseException as error:  # noqa: BLE001  (reported by the main thread)
            errors.append(error)

    threads = [threading.Thread(target=work, args=(user_id,)) for user_id in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    entries = all_entries(app)
    assert [e.seq for e in entries] == list(range(1, THREADS * PER_THREAD + 1))
    for user_id in users:
        mine = [e.data["n"] for e in entries if e.actor_id == user_id]
        assert mine == list(range(PER_THREAD))
    with app.app_context():
        assert verify() == verify().__class__(ok=True, checked=THREADS * PER_THREAD)
    assert head(app) == (THREADS * PER_THREAD, entries[-1].hash)


# --- schema and test clean-up -------------------------------------------------------------


def test_the_migration_builds_exactly_the_trace_models(app):
    def trace_only(item, name, type_, reflected, compare_to) -> bool:
        table = item if type_ == "table" else getattr(item, "table", None)
        return table is not None and table.name in TRACE_TABLES

    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": trace_only}
        )
        assert compare_metadata(context, db.metadata) == []


def test_the_suites_clean_up_can_empty_the_trace_in_one_transaction(
    app, accounts, change_request_form
):
    """The statements tests/conftest.py runs after each test: purge first, then DELETE every
    other table, all in one transaction; afterwards the guard is back in place."""
    request_id, requester = make_request(app, accounts, change_request_form)
    with app.app_context():
        record(event="submitted", request_id=request_id, actor_id=requester)
        db.session.commit()
        db.session.remove()
        with db.engine.begin() as connection:
            purge_for_tests(connection)
            for table in reversed(db.metadata.sorted_tables):
                if table.name not in TRACE_TABLES:
                    connection.execute(table.delete())
        assert db.session.scalar(select(func.count()).select_from(ChangeRequest)) == 0
        assert db.session.scalar(select(func.count()).select_from(TraceEntry)) == 0
    assert head(app) == (0, GENESIS_HASH)
    record_many(app, 1)
    with app.app_context():
        with pytest.raises(IntegrityError, match="append-only"):
            db.session.execute(delete(TraceEntry))
        db.session.rollback()
