"""How many SQL statements the busiest paths run: a budget per path, so that a change that
brings back a query per row or per person fails here, not in production.

Counts, never timings: they do not depend on the machine. Where the count may grow with the
people involved (an INSERT per task on a database that cannot batch them), the SELECTs may
not: nobody is looked up one by one.
"""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.accounts.models import Role
from portal.audit.trace import record, record_many, verify
from portal.extensions import db
from tests.approvals.test_chain_at_work import LOW, Team
from tests.approvals.test_chain_at_work import team as team  # noqa: F401  (the fixture)
from tests.conftest import csrf_token

# A submission of the change-request form (the POST, with the year's first number taken),
# its chain started and two approvers told: 21 statements on SQLite, 20 on PostgreSQL,
# two of them the outbox's (its event row and the INSERT … SELECT of the form's connector
# deliveries). Valid answers go straight to the request with no draft made on the way, and
# the new tasks, notifications and their deliveries are written in one statement each. It
# was 39 (and 11 flushes), then 28.
SUBMISSION_BUDGET = 21


class Statements:
    """The statements the app ran while counting, by kind (SELECT, INSERT, ...)."""

    def __init__(self) -> None:
        self.all: list[str] = []
        self.flushes = 0  # the ORM's units of work: each has a cost of its own

    @property
    def kinds(self) -> Counter:
        return Counter(s.split(None, 1)[0].upper() for s in self.all)

    def __len__(self) -> int:
        return len(self.all)


@contextmanager
def counting(app):
    found = Statements()
    with app.app_context():
        engine = db.engine

    def listener(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        found.all.append(statement)

    def flushed(session, context, instances):  # noqa: ANN001
        found.flushes += 1

    event.listen(engine, "before_cursor_execute", listener)
    event.listen(Session, "before_flush", flushed)
    try:
        yield found
    finally:
        event.remove(engine, "before_cursor_execute", listener)
        event.remove(Session, "before_flush", flushed)


def _submit(team: Team, title: str):
    dana = team.browsers["dana"]
    token = csrf_token(dana, "/forms/change-request/new")
    with counting(team.app) as statements:
        response = dana.post(
            "/forms/change-request/submit", data={**LOW, "title": title, "csrf_token": token}
        )
    assert response.status_code == 302 and "/submitted" in response.location
    return response.location.split("/")[2], statements


def test_a_submission_stays_within_its_statement_budget(app, team):
    number, statements = _submit(team, "Add a CSV export")
    assert len(statements) <= SUBMISSION_BUDGET, "\n".join(statements.all)
    # The request, then its revision and chain state, then the trace.
    assert statements.flushes <= 3
    inbox = team.browsers["bo"].get("/inbox").get_data(as_text=True)
    assert number in inbox  # the approvers were told and have their task


def test_more_approvers_add_no_query_per_person(app, team, accounts):
    _number, with_two = _submit(team, "First change")
    for name in ("eve", "finn", "gus"):
        accounts.user(f"{name}@portal.test", Role.APPROVER, name=name.title())
    number, with_five = _submit(team, "Second change")
    assert with_five.kinds["SELECT"] == with_two.kinds["SELECT"]
    assert with_five.kinds["UPDATE"] == with_two.kinds["UPDATE"]
    for name in ("eve", "finn", "gus"):
        browser = app.test_client()
        accounts.login(browser, f"{name}@portal.test")
        assert number in browser.get("/notifications").get_data(as_text=True)


def test_a_batch_of_trace_entries_moves_the_head_in_two_statements_and_chains_as_one_by_one(
    app_ctx,
):
    record(event="submitted", data={"title": "first"})
    with counting(app_ctx) as statements:
        written = record_many([{"event": "step_started", "step": f"step_{n}"} for n in range(5)])
    # The head is read and moved twice whatever the number; the entries are inserted in one
    # batch where the database returns ids for a batch (PostgreSQL), one by one on SQLite.
    assert statements.kinds["UPDATE"] == 2 and statements.kinds["SELECT"] == 0
    assert statements.kinds["INSERT"] == (1 if db.engine.dialect.name == "postgresql" else 5)
    record(event="completed")
    db.session.commit()
    assert [e.seq for e in written] == [2, 3, 4, 5, 6]
    result = verify()
    assert result.ok and result.checked == 7


def test_a_batch_of_nothing_writes_nothing(app_ctx):
    with counting(app_ctx) as statements:
        assert record_many([]) == []
    assert len(statements) == 0


def _page_statements(app, browser, path: str) -> tuple[str, Statements]:
    with counting(app) as statements:
        response = browser.get(path)
    assert response.status_code == 200
    return response.get_data(as_text=True), statements


def test_the_inbox_and_the_list_run_the_same_queries_for_two_rows_or_eight(app, team, accounts):
    """However many rows a page shows, it loads them, their people, organisations and form
    versions in a fixed number of queries; nothing is looked up row by row."""
    numbers = [team.submit({**LOW, "title": f"Change {n}"}) for n in range(2)]
    bo = team.browsers["bo"]
    inbox_two, inbox_before = _page_statements(app, bo, "/inbox")
    list_two, list_before = _page_statements(app, bo, "/")
    other = accounts.organisation("Globex", timezone="Asia/Tokyo")
    accounts.user("kim@globex.test", Role.CLIENT, other)
    kim = app.test_client()
    accounts.login(kim, "kim@globex.test")
    for n in range(6):
        browser = kim if n % 2 else team.browsers["dana"]
        token = csrf_token(browser, "/forms/change-request/new")
        response = browser.post(
            "/forms/change-request/submit",
            data={**LOW, "title": f"Later change {n}", "csrf_token": token},
        )
        numbers.append(response.location.split("/")[2])
    inbox_eight, inbox_after = _page_statements(app, bo, "/inbox")
    list_eight, list_after = _page_statements(app, bo, "/")
    assert all(number in inbox_eight and number in list_eight for number in numbers)
    assert "Globex" in inbox_eight and "Globex" in list_eight
    assert len(inbox_after) == len(inbox_before) <= 8, "\n".join(inbox_after.all)
    assert len(list_after) == len(list_before) <= 4, "\n".join(list_after.all)


def test_the_inbox_shows_a_page_at_a_time_with_more_on_demand(app, team, monkeypatch):
    from portal.approvals import routes

    monkeypatch.setattr(routes, "INBOX_LIMIT", 2)
    numbers = [team.submit({**LOW, "title": f"Change {n}"}) for n in range(3)]
    bo = team.browsers["bo"]
    first = bo.get("/inbox").get_data(as_text=True)
    assert sum(number in first for number in numbers) == 2
    assert "Show more" in first and "page=2" in first
    more = bo.get("/inbox?page=2&fragment=rows", headers={"HX-Request": "true"})
    rest = more.get_data(as_text=True)
    assert sum(number in rest for number in numbers) == 1
    assert "Show more" not in rest and "<html" not in rest
