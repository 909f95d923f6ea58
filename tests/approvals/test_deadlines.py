"""Deadlines: the task's deadline in its assignee's working calendar, one reminder before
it, and after it the trace says the deadline was missed and the step goes to the people
of its ``escalate_to``, once; two schedulers at once do each only once.

The clock is fixed: a request is submitted at a known moment (the approvals service's
clock is pinned while the browser submits it), and the deadline functions are given the
moment they run at. Every fixed moment lies before these tests were written, so trace
times never run ahead of the real clock.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy import select

from portal.accounts.models import Role, User
from portal.approvals import service
from portal.approvals.calendar import WorkingCalendar, due_after
from portal.approvals.deadlines import escalate_missed, run_deadlines, send_reminders
from portal.approvals.models import Task
from portal.audit.trace import entries_for, verify
from portal.extensions import db
from portal.forms.definition import parse_definition_text
from portal.forms.service import publish
from portal.notifications.models import Notification
from portal.requests.models import ChangeRequest
from portal.scheduler import Job
from tests.conftest import csrf_token

BERLIN = ZoneInfo("Europe/Berlin")
SUBMITTED = datetime(2026, 11, 6, 15, 0, tzinfo=BERLIN)  # a Friday afternoon in Berlin
DUE = datetime(2026, 11, 11, 15, 0, tzinfo=BERLIN)  # Monday, Tuesday, Wednesday: 3 working days
REMIND = datetime(2026, 11, 11, 11, 0, tzinfo=BERLIN)  # 4 working hours before: 2 + 2 on Wed
MINUTE = timedelta(minutes=1)
# The analysis step's label in every language, as the shipped chain gives it.
ANALYSIS_LABEL = next(
    step["label"]
    for step in yaml.safe_load(
        (
            Path(__file__).resolve().parents[2] / "portal/forms/library/change-request.yaml"
        ).read_text()
    )["chain"]["steps"]
    if step.get("name") == "analysis"
)

ANSWERS = {
    "title": "Add a CSV export",
    "description": "The monthly report needs a CSV export.",
    "reason": "business",
    "business_value": "medium",
    "affected_systems": ["reporting"],
}

QUICK_FIX = """
name: quick-fix
number_prefix: QF
default_language: en
title: {en: Quick fix}
fields:
  - name: title
    type: text
    label: {en: Title}
    required: true
chain:
  steps:
    - name: fix
      kind: task
      label: {en: Fix}
      assignees: {role: approver}
      deadline: 8 hours
      remind_before: 2 hours
"""


@dataclass
class People:
    approver: int
    admin: int
    client: int


@pytest.fixture
def people(accounts) -> People:
    acme = accounts.organisation("Acme Ltd", timezone="Europe/London")
    return People(
        approver=accounts.user("bo@portal.test", Role.APPROVER, timezone="Europe/Berlin"),
        admin=accounts.user("ada@portal.test", Role.ADMIN, timezone="America/New_York"),
        client=accounts.user("dana@acme.test", Role.CLIENT, acme),
    )


@pytest.fixture
def quick_fix_form(app):
    """A form whose one step has a deadline and no escalate_to."""
    with app.app_context():
        publish(parse_definition_text(QUICK_FIX, "quick-fix.yaml"))
        db.session.commit()


def pinned(monkeypatch_context: pytest.MonkeyPatch, at: datetime) -> None:
    monkeypatch_context.setattr(service, "utcnow", lambda: at.astimezone(UTC))


def submit(app, accounts, *, form: str = "change-request", answers=None, at=SUBMITTED) -> int:
    """The client submits a request in the browser at ``at``; returns the request's id."""
    browser = app.test_client()
    accounts.login(browser, "dana@acme.test")
    token = csrf_token(browser, f"/forms/{form}/new")
    with pytest.MonkeyPatch.context() as clock:
        pinned(clock, at)
        response = browser.post(
            f"/forms/{form}/submit", data={**(answers or ANSWERS), "csrf_token": token}
        )
    assert response.status_code == 302, response.get_data(as_text=True)
    number = response.location.split("/")[2]
    with app.app_context():
        return db.session.scalar(select(ChangeRequest.id).where(ChangeRequest.number == number))


def tasks_of(app, request_id: int, step: str = "analysis") -> dict[int, Task]:
    """The request's tasks on one step, by the id of the person they are for."""
    with app.app_context():
        found = db.session.scalars(
            select(Task).where(Task.request_id == request_id, Task.step == step)
        ).all()
        db.session.expunge_all()
        return {task.user_id: task for task in found}


def notified(app, user_id: int, kind: str) -> list[dict]:
    """The params of each notification of one kind the person has."""
    with app.app_context():
        return [
            n.params
            for n in db.session.scalars(
                select(Notification)
                .where(Notification.user_id == user_id, Notification.kind == kind)
                .order_by(Notification.id)
            )
        ]


def events(app, request_id: int, *kinds: str) -> list[tuple[str, str | None, dict | None]]:
    """The request's trace as (event, step, data), only the given kinds when any are given."""
    with app.app_context():
        return [
            (e.event, e.step, e.data)
            for e in entries_for(request_id)
            if not kinds or e.event in kinds
        ]


def signed_in(app, accounts, email: str):
    browser = app.test_client()
    accounts.login(browser, email)
    return browser


def all_at_once(app, work, times: int = 2) -> list:
    """Run ``work`` in ``times`` threads released together, each with its own session."""
    start = threading.Barrier(times)
    results, errors = [], []

    def worker():
        with app.app_context():
            start.wait()
            try:
                results.append(work())
            except Exception as error:  # surfaced below, in the test's own thread
                errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(results) == times
    return results


def warnings_logged(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


# -- the deadline --------------------------------------------------------------------------------


def test_the_task_is_due_three_working_days_later_in_the_approvers_own_calendar(
    app, accounts, people, change_request_form
):
    request_id = submit(app, accounts)

    tasks = tasks_of(app, request_id)
    assert set(tasks) == {people.approver}  # the admin is not asked before the deadline
    task = tasks[people.approver]
    assert task.open
    assert task.due_at == DUE  # Friday 15:00 in Berlin + 3 working days: Wednesday 15:00
    assert task.remind_at == REMIND
    calendar = WorkingCalendar(zone="Europe/Berlin")
    assert task.due_at == due_after(SUBMITTED, 3, "days", True, calendar)
    assert due_after(task.remind_at, 4, "hours", True, calendar) == task.due_at
    assert task.reminded_at is None and task.escalated_at is None


# -- reminders -----------------------------------------------------------------------------------


def test_a_reminder_goes_to_the_approver_once_when_its_time_comes(
    app, accounts, people, change_request_form
):
    request_id = submit(app, accounts)

    with app.app_context():
        assert send_reminders(now=REMIND - MINUTE) == 0
    assert notified(app, people.approver, "reminder") == []

    with app.app_context():
        assert send_reminders(now=REMIND + MINUTE) == 1
    deadline = DUE.astimezone(UTC).isoformat()
    assert notified(app, people.approver, "reminder") == [
        {"step_label": ANALYSIS_LABEL,
         "deadline_at": deadline}
    ]  # fmt: skip
    assert events(app, request_id, "reminded") == [
        ("reminded", "analysis", {"user_id": people.approver, "deadline_at": deadline})
    ]
    assert tasks_of(app, request_id)[people.approver].reminded_at == REMIND + MINUTE

    with app.app_context():
        assert send_reminders(now=REMIND + 2 * MINUTE) == 0
        assert send_reminders(now=DUE + MINUTE) == 0
    assert len(notified(app, people.approver, "reminder")) == 1
    assert len(events(app, request_id, "reminded")) == 1
    assert notified(app, people.admin, "reminder") == notified(app, people.client, "reminder") == []

    page = signed_in(app, accounts, "bo@portal.test").get("/notifications")
    assert "Reminder: action needed: Add a CSV export" in page.get_data(as_text=True)


def test_someone_who_has_acted_is_not_reminded(app, accounts, people, change_request_form):
    request_id = submit(app, accounts)
    with app.test_request_context():
        approver = db.session.get(User, people.approver)
        service.perform(request_id, approver, step="analysis", verb="done", revision=1)
        db.session.commit()
    assert not tasks_of(app, request_id)[people.approver].open

    with app.app_context():
        assert send_reminders(now=REMIND + MINUTE) == 0
        assert escalate_missed(now=DUE + MINUTE) == 0
    assert notified(app, people.approver, "reminder") == []
    assert events(app, request_id, "reminded", "deadline_missed") == []


# -- escalation ----------------------------------------------------------------------------------


def test_after_the_deadline_the_step_goes_to_the_admins_as_well_once(
    app, accounts, people, change_request_form
):
    request_id = submit(app, accounts)

    with app.app_context():
        assert escalate_missed(now=DUE - MINUTE) == 0
    assert events(app, request_id, "deadline_missed", "escalated") == []

    with app.app_context():
        assert escalate_missed(now=DUE + MINUTE) == 1
    trace = events(app, request_id, "deadline_missed", "escalated")
    assert [(kind, step) for kind, step, _ in trace] == [
        ("deadline_missed", "analysis"),
        ("escalated", "analysis"),
    ]
    assert trace[1][2]["added"] == [people.admin]
    tasks = tasks_of(app, request_id)
    assert set(tasks) == {people.approver, people.admin}
    assert tasks[people.admin].open and tasks[people.approver].open  # both can act now
    assert tasks[people.approver].escalated_at == DUE + MINUTE
    assert notified(app, people.admin, "escalated") == [{"step_label": ANALYSIS_LABEL}]

    with app.app_context():
        assert escalate_missed(now=DUE + 2 * MINUTE) == 0
        # long after, past the admin's own deadline too: the step was escalated already
        assert escalate_missed(now=DUE + timedelta(days=30)) == 0
    assert events(app, request_id, "deadline_missed", "escalated") == trace
    assert len(tasks_of(app, request_id)) == 2
    assert len(notified(app, people.admin, "escalated")) == 1
    with app.app_context():
        assert verify().ok

    inbox = signed_in(app, accounts, "ada@portal.test").get("/inbox").get_data(as_text=True)
    assert "Add a CSV export" in inbox
    assert "Nothing waits on you." not in inbox


def test_a_step_without_escalate_to_records_the_missed_deadline_once_and_adds_nobody(
    app, accounts, people, quick_fix_form
):
    request_id = submit(app, accounts, form="quick-fix", answers={"title": "Fix the logo"})
    task = tasks_of(app, request_id, "fix")[people.approver]
    assert task.due_at == SUBMITTED + timedelta(hours=8)  # plain hours: the calendar is ignored

    with app.app_context():
        assert escalate_missed(now=task.due_at + MINUTE) == 1
        assert escalate_missed(now=task.due_at + 2 * MINUTE) == 0
        assert escalate_missed(now=task.due_at + timedelta(days=3)) == 0

    assert events(app, request_id, "deadline_missed", "escalated") == [
        ("deadline_missed", "fix", {"deadline_at": task.due_at.isoformat()})
    ]
    assert set(tasks_of(app, request_id, "fix")) == {people.approver}
    assert notified(app, people.admin, "escalated") == []


def test_a_blocked_step_is_escalated_after_its_deadline_and_can_go_on(
    app, accounts, change_request_form
):
    """Nobody has the approver role, so the analysis waits on nobody: the escalation to the
    admins is what gets it moving."""
    acme = accounts.organisation("Acme Ltd")
    accounts.user("dana@acme.test", Role.CLIENT, acme)
    admin = accounts.user("ada@portal.test", Role.ADMIN)
    request_id = submit(app, accounts)
    assert tasks_of(app, request_id) == {}
    # a step with nobody on it counts in the portal's calendar
    portal_calendar = WorkingCalendar(zone=app.config["BABEL_DEFAULT_TIMEZONE"])
    due = due_after(SUBMITTED, 3, "days", True, portal_calendar)

    with app.app_context():
        assert escalate_missed(now=due - MINUTE) == 0
        assert escalate_missed(now=due + MINUTE) == 1
        assert escalate_missed(now=due + 2 * MINUTE) == 0

    trace = events(app, request_id, "deadline_missed", "escalated", "step_unblocked")
    assert [kind for kind, _, _ in trace] == ["deadline_missed", "escalated", "step_unblocked"]
    assert set(tasks_of(app, request_id)) == {admin}
    assert len(notified(app, admin, "escalated")) == 1


def test_when_a_step_opens_again_after_a_revision_its_clock_starts_again(
    app, accounts, people, change_request_form
):
    request_id = submit(app, accounts)

    def at(moment: datetime, work) -> None:
        with app.test_request_context(), pytest.MonkeyPatch.context() as clock:
            pinned(clock, moment)
            work()
            db.session.commit()

    def act(user_id: int, step: str, verb: str, comment: str = "") -> None:
        user = db.session.get(User, user_id)
        revision = db.session.get(ChangeRequest, request_id).revision
        service.perform(request_id, user, step=step, verb=verb, revision=revision,
                        comment=comment)  # fmt: skip

    # Monday 10:00: the analysis is done; the review (2 working days) starts
    at(
        datetime(2026, 11, 9, 10, 0, tzinfo=BERLIN),
        lambda: act(people.approver, "analysis", "done"),
    )
    review = tasks_of(app, request_id, "review")[people.approver]
    assert review.due_at == datetime(2026, 11, 11, 10, 0, tzinfo=BERLIN)
    late = review.due_at + MINUTE
    at(late, lambda: (send_reminders(now=late), escalate_missed(now=late)))
    assert len(events(app, request_id, "escalated")) == 1

    # Wednesday noon: sent back; the next Monday the client sends the revision
    at(
        datetime(2026, 11, 11, 12, 0, tzinfo=BERLIN),
        lambda: act(people.approver, "review", "send_back", "Which report?"),
    )
    revised = datetime(2026, 11, 16, 9, 30, tzinfo=BERLIN)

    def revise() -> None:
        client = db.session.get(User, people.client)
        service.revise(request_id, client, {**ANSWERS, "description": "The monthly sales report."})

    at(revised, revise)

    review = tasks_of(app, request_id, "review")[people.approver]
    assert review.open
    assert review.due_at == datetime(2026, 11, 18, 9, 30, tzinfo=BERLIN)
    assert review.remind_at == datetime(2026, 11, 17, 13, 30, tzinfo=BERLIN)
    assert review.reminded_at is None and review.escalated_at is None

    late = review.due_at + MINUTE
    at(late, lambda: (send_reminders(now=late), escalate_missed(now=late)))
    trace = events(app, request_id, "reminded", "deadline_missed")
    assert [(kind, (data or {}).get("user_id")) for kind, _, data in trace] == [
        ("reminded", people.approver),
        ("deadline_missed", None),
        # after the revision: the approver again, and the admin (added by the escalation),
        # whose reminder fell due in New York on Tuesday afternoon
        ("reminded", people.approver),
        ("reminded", people.admin),
        ("deadline_missed", None),
    ]


# -- two schedulers at once ----------------------------------------------------------------------


def test_two_schedulers_at_once_remind_each_person_once(
    app, accounts, people, change_request_form, caplog
):
    requests = [submit(app, accounts) for _ in range(3)]

    results = all_at_once(app, lambda: send_reminders(now=REMIND + MINUTE))

    assert sum(results) == 3
    assert len(notified(app, people.approver, "reminder")) == 3
    for request_id in requests:
        assert len(events(app, request_id, "reminded")) == 1
    assert warnings_logged(caplog) == []
    with app.app_context():
        assert verify().ok


def test_two_schedulers_at_once_escalate_each_step_once(
    app, accounts, people, change_request_form, caplog
):
    requests = [submit(app, accounts) for _ in range(3)]

    results = all_at_once(app, lambda: escalate_missed(now=DUE + MINUTE))

    assert sum(results) == 3
    for request_id in requests:
        kinds = [kind for kind, _, _ in events(app, request_id, "deadline_missed", "escalated")]
        assert kinds == ["deadline_missed", "escalated"]
        assert set(tasks_of(app, request_id)) == {people.approver, people.admin}
    assert len(notified(app, people.admin, "escalated")) == 3
    assert warnings_logged(caplog) == []
    with app.app_context():
        assert verify().ok


# -- the scheduled job ---------------------------------------------------------------------------


def test_the_scheduler_runs_deadlines_every_minute(app, accounts, people, change_request_form):
    job = app.extensions["portal.registries"].jobs["deadlines"]
    assert isinstance(job, Job) and job.every_seconds == 60

    request_id = submit(app, accounts)
    with app.app_context(), pytest.MonkeyPatch.context() as clock:
        clock.setattr("portal.approvals.deadlines.utcnow", lambda: DUE + MINUTE)
        job.function()
    assert [kind for kind, _, _ in events(app, request_id, "reminded", "escalated")] == [
        "reminded",
        "escalated",
    ]
    with app.app_context():
        assert run_deadlines(now=DUE + 2 * MINUTE) == (0, 0)
