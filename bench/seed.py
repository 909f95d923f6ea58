"""Fill a portal database with N change requests in seconds, as they would stand after a
year or two of use.

The schema is the real one, built by the migrations (``flask db upgrade``). The demo
workspace is made first through the portal's own code (``portal.demo.make_demo``): the
shipped change-request form, the demo people, the change control board, and eight
requests walked through the chain by the real service, so each of them stands at a
different step with its real chain state, inbox tasks, trace, notifications and
revisions. Those eight are the templates. Every seeded request is a copy of one of them,
written with bulk inserts through SQLAlchemy Core: another requester of another client
organisation, another title, its times moved to its own submission date, its trace
entries re-chained (``portal audit verify`` passes on a seeded database).

What the copies look like (``STAGES``): about 89 % finished (completed or rejected,
submitted one month to two years ago) and 11 % open (submitted in the last 30 days):
waiting at analysis, review, the change control board, the client's confirmation,
implementation, or sent back. So every approver's inbox holds thousands of open tasks, as
it would on a busy portal that is not kept tidy.

An open request gets its whole history: tasks, trace entries, notifications (read when
older than a week) and their deliveries (sent). A finished one gets its row, its chain
state and its revision, but not its history (about 45 rows more each: trace entries,
notifications, closed tasks), unless ``full_history`` is set: those rows are read one
request at a time (its page, its bell entries), never by the list or the inbox, and
writing them for 89,000 requests takes ten times as long.

    python -m bench.seed --database-url sqlite:////tmp/x/portal.db --requests 100000
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, text, update

DEMO_PASSWORD = "demo-password"  # portal.demo's; every seeded person signs in with it too

# Template key -> (share of the seeded requests, open?). "completed" takes what is left.
STAGES: dict[str, tuple[float, bool]] = {
    "analysis": (0.04, True),
    "review": (0.03, True),
    "ccb_review": (0.02, True),
    "confirmation": (0.02, True),
    "implementation": (0.02, True),
    "sent_back": (0.01, True),
    "rejected": (0.08, False),
    "completed": (0.0, False),
}
OPEN_WITHIN = timedelta(days=30)
HISTORY = timedelta(days=730)
READ_AFTER = timedelta(days=7)  # notifications older than this have been read
CHUNK = 2000  # requests per transaction

TITLE_VERBS = [
    "Add",
    "Change",
    "Remove",
    "Rework",
    "Automate",
    "Speed up",
    "Translate",
    "Split",
    "Merge",
    "Archive",
    "Export",
    "Import",
    "Secure",
    "Simplify",
    "Document",
]
TITLE_OBJECTS = [
    "the monthly sales report",
    "the invoice footer",
    "the customer record",
    "the login page",
    "the order confirmation e-mail",
    "the stock level alerts",
    "the delivery status page",
    "the ERP supplier list",
    "the CRM contact import",
    "the price list export",
    "the website's contact form",
    "the holiday calendar",
    "the support ticket form",
    "the product catalogue",
    "the payroll interface",
    "the dashboard for managers",
]


@dataclass
class Seeded:
    """What the load generator needs to know about a seeded database."""

    requests: int
    seconds: float
    clients: list[str]  # client e-mails for the submitting threads, one each
    approvers: list[str]  # approver e-mails (inbox, approvals)
    staff: str  # the approver whose list and inbox are measured
    detail_number: str  # the demo's completed request: the longest timeline (request page)
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class _Template:
    key: str
    request: dict[str, Any]
    requester_id: int
    t0: datetime
    tasks: list[dict[str, Any]]
    trace: list[dict[str, Any]]
    notifications: list[tuple[dict[str, Any], list[dict[str, Any]]]]
    revisions: list[dict[str, Any]]


def build_schema(app) -> None:  # noqa: ANN001
    """The schema as an installation gets it: the migrations, through Flask-Migrate."""
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()


def seed_portal(
    app,  # noqa: ANN001
    requests: int,
    *,
    approvers: int = 4,
    organisations: int = 200,
    clients_per_organisation: int = 2,
    load_clients: int = 8,
    min_waiting: int = 2000,
    full_history: bool = False,
    seed: int = 7,
) -> Seeded:
    """Make the demo workspace, then ``requests`` copies of its requests (see the module)."""
    from portal.accounts.models import Role, User
    from portal.accounts.passwords import hash_password
    from portal.demo import make_demo
    from portal.extensions import db

    started = time.perf_counter()
    rng = random.Random(seed)
    with app.app_context():
        password_hash = hash_password(DEMO_PASSWORD)
        # Approvers beyond the demo's two exist before the walks, so the role {role: approver}
        # names them all, as it would on a team of that size.
        for number in range(3, approvers + 1):
            email = f"approver{number}@example.com"
            if db.session.scalar(select(User).where(User.email == email)) is None:
                db.session.add(
                    User(
                        email=email,
                        name=f"Approver {number}",
                        role=Role.APPROVER,
                        password_hash=password_hash,
                        locale="en",
                        timezone="Europe/Paris",
                    )
                )
        db.session.commit()
        make_demo()
        db.session.commit()
        templates = _templates()
        client_pool, load = _people(
            organisations, clients_per_organisation, load_clients, password_hash, rng
        )
        counts = _copy_requests(templates, requests, client_pool, min_waiting, rng, full_history)
        _finish(db.engine)
        detail = db.session.scalar(
            text(
                "SELECT number FROM change_requests WHERE status = 'completed' ORDER BY id LIMIT 1"
            )
        )
        db.session.remove()
        db.engine.dispose()
    return Seeded(
        requests=requests,
        seconds=time.perf_counter() - started,
        clients=load,
        approvers=[f"approver{n}@example.com" for n in range(1, approvers + 1)],
        staff="approver1@example.com",
        detail_number=detail,
        counts=counts,
    )


def waiting_at(app, step: str, limit: int = 100_000) -> list[tuple[str, int]]:  # noqa: ANN001
    """(number, revision) of requests with an open task at ``step``, oldest first."""
    from portal.approvals.models import Task
    from portal.extensions import db
    from portal.requests.models import ChangeRequest

    with app.app_context():
        rows = db.session.execute(
            select(ChangeRequest.number, ChangeRequest.revision)
            .where(
                ChangeRequest.id.in_(
                    select(Task.request_id).where(Task.step == step, Task.open.is_(True))
                )
            )
            .order_by(ChangeRequest.id)
            .limit(limit)
        ).all()
        db.session.remove()
        db.engine.dispose()
    return [(row.number, row.revision) for row in rows]


# -- the templates ----------------------------------------------------------------------------


def _templates() -> dict[str, _Template]:
    from portal.approvals.models import RequestRevision, Task
    from portal.audit.models import TraceEntry
    from portal.demo import SAMPLES, find_sample
    from portal.extensions import db
    from portal.notifications.models import Notification, NotificationDelivery
    from portal.requests.models import ChangeRequest

    def rows(table, *where, order=None) -> list[dict[str, Any]]:  # noqa: ANN001
        statement = select(table).where(*where)
        if order is not None:
            statement = statement.order_by(order)
        return [dict(row._mapping) for row in db.session.execute(statement)]

    found = {}
    for sample in SAMPLES:
        change = find_sample(sample)
        key = "sent_back" if sample.status == "sent_back" else (sample.step or sample.status.value)
        request_table = ChangeRequest.__table__
        request = rows(request_table, request_table.c.id == change.id)[0]
        deliveries = NotificationDelivery.__table__
        notes = Notification.__table__
        notifications = [
            (note, rows(deliveries, deliveries.c.notification_id == note["id"]))
            for note in rows(notes, notes.c.request_id == change.id)
        ]
        found[key] = _Template(
            key=key,
            request=request,
            requester_id=request["requester_id"],
            t0=request["submitted_at"],
            tasks=rows(Task.__table__, Task.__table__.c.request_id == change.id),
            trace=rows(
                TraceEntry.__table__,
                TraceEntry.__table__.c.request_id == change.id,
                order=TraceEntry.__table__.c.seq,
            ),
            notifications=notifications,
            revisions=rows(
                RequestRevision.__table__, RequestRevision.__table__.c.request_id == change.id
            ),
        )
    missing = set(STAGES) - set(found)
    if missing:
        raise RuntimeError(f"the demo no longer has requests at: {', '.join(sorted(missing))}")
    return found


# -- people -----------------------------------------------------------------------------------

ZONES = ["Europe/London", "Europe/Berlin", "America/New_York", "Asia/Shanghai", "UTC"]


def _people(organisations: int, per_org: int, load: int, password_hash: str, rng: random.Random):  # noqa: ANN202
    """Client organisations with their people; returns (requester pool, load clients' e-mails).

    The pool is (user id, organisation id) of everyone who may be a seeded requester; the
    load clients (one per submitting thread) have their own addresses, so their drafts never
    collide.
    """
    from portal.accounts.models import Organisation, User
    from portal.extensions import db

    orgs, users = Organisation.__table__, User.__table__
    now = datetime.now(UTC)
    with db.engine.begin() as conn:
        first_org = (conn.scalar(select(func.max(orgs.c.id))) or 0) + 1
        conn.execute(
            insert(orgs),
            [
                {
                    "id": first_org + i,
                    "name": f"Client {i + 1:03d} Ltd",
                    "timezone": ZONES[i % len(ZONES)],
                    "created_at": now,
                }
                for i in range(organisations)
            ],
        )
        first_user = (conn.scalar(select(func.max(users.c.id))) or 0) + 1
        people = []
        for i in range(organisations):
            for j in range(per_org):
                people.append(
                    {
                        "email": f"client{i + 1:03d}-{j + 1}@bench.example",
                        "name": f"Client {i + 1:03d}/{j + 1}",
                        "organisation_id": first_org + i,
                    }
                )
        emails = [f"load-client{k + 1}@bench.example" for k in range(load)]
        for k, email in enumerate(emails):
            people.append(
                {
                    "email": email,
                    "name": f"Load client {k + 1}",
                    "organisation_id": first_org + k % organisations,
                }
            )
        for offset, person in enumerate(people):
            person.update(
                id=first_user + offset,
                password_hash=password_hash,
                role="client",
                locale="en",
                timezone=ZONES[offset % len(ZONES)],
                active=True,
                created_at=now,
            )
        conn.execute(insert(users), people)
    pool = [(p["id"], p["organisation_id"]) for p in people if p["email"] not in emails]
    rng.shuffle(pool)
    return pool, emails


# -- the copies -------------------------------------------------------------------------------


def _plan(requests: int, min_waiting: int, rng: random.Random) -> list[tuple[datetime, str]]:
    """(submission time, template key) for every copy, oldest first."""
    counts = {key: int(requests * share) for key, (share, _open) in STAGES.items()}
    counts["analysis"] = min(max(counts["analysis"], min_waiting), requests // 2)
    counts["completed"] = requests - sum(v for k, v in counts.items() if k != "completed")
    now = datetime.now(UTC)
    plan = []
    for key, count in counts.items():
        is_open = STAGES[key][1]
        for _ in range(count):
            if is_open:
                age = timedelta(seconds=rng.uniform(3600, OPEN_WITHIN.total_seconds()))
            else:
                age = timedelta(
                    seconds=rng.uniform(OPEN_WITHIN.total_seconds(), HISTORY.total_seconds())
                )
            plan.append((now - age, key))
    plan.sort()
    return plan


def _title(rng: random.Random) -> str:
    return f"{rng.choice(TITLE_VERBS)} {rng.choice(TITLE_OBJECTS)}"


def _shift_iso(value: str | None, delta: timedelta) -> str | None:
    return (datetime.fromisoformat(value) + delta).isoformat() if value else value


def _remap(value: Any, old: int, new: int, key: str | None = None) -> Any:
    """JSON with the template requester's id replaced wherever it names a person."""
    if isinstance(value, dict):
        return {k: _remap(v, old, new, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_remap(v, old, new, key) for v in value]
    if key in ("user_id", "actor_id", "assignees") and value == old and not isinstance(value, bool):
        return new
    return value


def _chain_state(state: dict, old: int, new: int, delta: timedelta) -> dict:
    state = _remap(state, old, new)
    for step in state["steps"]:
        for name in ("started_at", "finished_at", "deadline_at", "reminded_at", "escalated_at"):
            step[name] = _shift_iso(step.get(name), delta)
        for vote in step["votes"]:
            vote["at"] = _shift_iso(vote.get("at"), delta)
    return state


def _later(value: datetime | None, delta: timedelta) -> datetime | None:
    return value + delta if value is not None else None


class _Ids:
    """The next free id of each table: copies are written with their ids, so that their
    tasks, notifications and trace entries can name them in the same batch."""

    def __init__(self, conn, tables: Iterable) -> None:  # noqa: ANN001
        self.next = {t.name: (conn.scalar(select(func.max(t.c.id))) or 0) + 1 for t in tables}

    def take(self, table) -> int:  # noqa: ANN001
        value = self.next[table.name]
        self.next[table.name] = value + 1
        return value


def _copy_requests(
    templates: dict[str, _Template],
    requests: int,
    pool: list[tuple[int, int]],
    min_waiting: int,
    rng: random.Random,
    full_history: bool,
) -> dict[str, int]:
    from portal.approvals.models import RequestRevision, Task
    from portal.audit.models import TraceHead
    from portal.audit.trace import entry_hash
    from portal.extensions import db
    from portal.notifications.models import Notification, NotificationDelivery
    from portal.requests.models import ChangeRequest, RequestCounter

    t_req, t_rev, t_task = ChangeRequest.__table__, RequestRevision.__table__, Task.__table__
    t_note, t_del = Notification.__table__, NotificationDelivery.__table__
    from portal.audit.models import TraceEntry

    t_trace = TraceEntry.__table__
    plan = _plan(requests, min_waiting, rng)
    now = datetime.now(UTC)
    counts: dict[str, int] = {}
    with db.engine.begin() as conn:
        ids = _Ids(conn, [t_req, t_rev, t_task, t_note, t_del, t_trace])
        head = conn.execute(select(TraceHead.__table__)).one()
        seq, last_hash = head.last_seq, head.last_hash
        counter_rows = conn.execute(select(RequestCounter.__table__))
        counters = {(row.prefix, row.year): row.last for row in counter_rows}
    for batch in _chunks(plan, CHUNK):
        names = ("req", "rev", "task", "note", "del", "trace")
        out: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
        for submitted, key in batch:
            template = templates[key]
            counts[key] = counts.get(key, 0) + 1
            requester, organisation = rng.choice(pool)
            old = template.requester_id
            delta = submitted - template.t0
            request_id = ids.take(t_req)
            year = submitted.year
            counters[("CR", year)] = counters.get(("CR", year), 0) + 1
            title = _title(rng)
            answers = {**template.request["answers"], "title": title}
            base = template.request
            out["req"].append(
                {
                    "id": request_id,
                    "number": f"CR-{year}-{counters[('CR', year)]:05d}",
                    "draft_nonce": None,
                    "form_version_id": base["form_version_id"],
                    "organisation_id": organisation,
                    "requester_id": requester,
                    "title": title,
                    "answers": answers,
                    "status": base["status"],
                    "chain_state": _chain_state(base["chain_state"], old, requester, delta),
                    "state_version": base["state_version"],
                    "revision": base["revision"],
                    "impact": base["impact"],
                    "priority": base["priority"],
                    "closed_at": _later(base["closed_at"], delta),
                    "submitted_at": submitted,
                    "updated_at": _later(base["updated_at"], delta),
                }
            )
            for revision in template.revisions:
                out["rev"].append(
                    {
                        **revision,
                        "id": ids.take(t_rev),
                        "request_id": request_id,
                        "answers": answers,
                        "created_at": revision["created_at"] + delta,
                        "created_by_id": requester
                        if revision["created_by_id"] == old
                        else revision["created_by_id"],
                    }
                )
            history = full_history or STAGES[key][1]
            for task in template.tasks if history else ():
                out["task"].append(
                    {
                        **task,
                        "id": ids.take(t_task),
                        "request_id": request_id,
                        "user_id": requester if task["user_id"] == old else task["user_id"],
                        "created_at": task["created_at"] + delta,
                        "due_at": _later(task["due_at"], delta),
                        "remind_at": _later(task["remind_at"], delta),
                        "reminded_at": _later(task["reminded_at"], delta),
                        "escalated_at": _later(task["escalated_at"], delta),
                    }
                )
            for note, deliveries in template.notifications if history else ():
                created = note["created_at"] + delta
                note_id = ids.take(t_note)
                params = dict(note["params"])
                if params.get("deadline_at"):
                    params["deadline_at"] = _shift_iso(params["deadline_at"], delta)
                out["note"].append(
                    {
                        **note,
                        "id": note_id,
                        "request_id": request_id,
                        "params": params,
                        "user_id": requester if note["user_id"] == old else note["user_id"],
                        "created_at": created,
                        "read_at": created + timedelta(hours=1)
                        if now - created > READ_AFTER
                        else None,
                    }
                )
                for delivery in deliveries:
                    out["del"].append(
                        {
                            **delivery,
                            "id": ids.take(t_del),
                            "notification_id": note_id,
                            "status": "sent",
                            "attempts": 1,
                            "next_attempt_at": created,
                            "last_error": None,
                            "sent_at": created + timedelta(seconds=30),
                        }
                    )
            for entry in template.trace if history else ():
                seq += 1
                fields = {
                    "seq": seq,
                    "event": entry["event"],
                    "request_id": request_id,
                    "step": entry["step"],
                    "actor_id": requester if entry["actor_id"] == old else entry["actor_id"],
                    "on_behalf_of_id": requester
                    if entry["on_behalf_of_id"] == old
                    else entry["on_behalf_of_id"],
                    "ip_address": entry["ip_address"],
                    "at": entry["at"] + delta,
                    "before": _remap(entry["before"], old, requester),
                    "after": _remap(entry["after"], old, requester),
                    "data": _remap(entry["data"], old, requester),
                    "prev_hash": last_hash,
                }
                last_hash = entry_hash(fields)
                out["trace"].append({**fields, "id": ids.take(t_trace), "hash": last_hash})
        with db.engine.begin() as conn:
            for table, name in (
                (t_req, "req"),
                (t_rev, "rev"),
                (t_task, "task"),
                (t_note, "note"),
                (t_del, "del"),
                (t_trace, "trace"),
            ):
                if out[name]:
                    conn.execute(insert(table), out[name])
    with db.engine.begin() as conn:
        # The head moves one entry at a time (a trigger sees to it); the seed moved it by
        # thousands, so it is written anew: removed and put back at the end of the chain.
        conn.execute(delete(TraceHead.__table__))
        conn.execute(insert(TraceHead.__table__).values(id=1, last_seq=seq, last_hash=last_hash))
        for (prefix, year), last in counters.items():
            updated = conn.execute(
                update(RequestCounter.__table__)
                .where(RequestCounter.prefix == prefix, RequestCounter.year == year)
                .values(last=last)
            )
            if updated.rowcount == 0:
                conn.execute(
                    insert(RequestCounter.__table__).values(prefix=prefix, year=year, last=last)
                )
    return counts


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _finish(engine) -> None:  # noqa: ANN001
    """PostgreSQL: sequences past the ids written by hand, then VACUUM ANALYZE, as
    autovacuum would soon do after such a load. SQLite is left as an installation has it."""
    if engine.dialect.name != "postgresql":
        return
    tables = [
        "organisations",
        "users",
        "change_requests",
        "request_revisions",
        "tasks",
        "notifications",
        "notification_deliveries",
        "trace_entries",
    ]
    with engine.begin() as conn:
        for table in tables:
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
                )
            )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def make_app(database_url: str, instance_path: str, secret_key: str):  # noqa: ANN201
    """A portal app on ``database_url`` (the process's PORTAL_* variables aside)."""
    from config import Config
    from portal import create_app

    config = type(
        "BenchConfig",
        (Config,),
        {"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": secret_key},
    )
    return create_app(config, instance_path=instance_path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--instance-path", required=True)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--full-history", action="store_true")
    args = parser.parse_args(argv)
    app = make_app(args.database_url, args.instance_path, "bench-seed")
    build_schema(app)
    seeded = seed_portal(app, args.requests, full_history=args.full_history)
    print(f"seeded {seeded.requests} requests in {seeded.seconds:.1f} s: {seeded.counts}")


if __name__ == "__main__":
    main()
