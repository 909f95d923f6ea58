"""Deadlines counted in the assignee's working calendar, right across daylight saving
changes and public holidays: Berlin and New York change their clocks, Shanghai does not.

A one-step form ("1 working day", reminder 4 working hours before) is submitted at a
frozen moment; the deadline and the reminder are checked in UTC and in the assignee's
local time, and the scheduler's functions are run with a frozen clock either side.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from portal.accounts.models import Role, User
from portal.approvals import service
from portal.approvals.calendar import WorkingCalendar, due_after
from portal.approvals.cli import calendars
from portal.approvals.deadlines import escalate_missed, send_reminders
from portal.approvals.models import Calendar, Task
from portal.extensions import db
from portal.forms.definition import parse_definition_text
from portal.forms.service import publish
from portal.notifications.models import Notification
from tests.conftest import csrf_token

ONE_DAY = """
name: one-day
number_prefix: OD
title: {en: One day}
fields:
  - {name: title, type: text, label: {en: Title}, required: true}
chain:
  steps:
    - name: answer
      kind: task
      label: {en: Answer}
      assignees: {role: approver}
      deadline: 1 working day
      remind_before: 4 working hours
      escalate_to: {role: admin}
"""
MINUTE = timedelta(minutes=1)


@pytest.fixture
def one_day_form(app):
    with app.app_context():
        publish(parse_definition_text(ONE_DAY, "one-day.yaml"))
        db.session.commit()


def setup_people(app, accounts, zone: str, country: str | None = None) -> None:
    org = accounts.organisation("Acme Ltd")
    accounts.user("dana@acme.test", Role.CLIENT, org)
    approver = accounts.user("bo@portal.test", Role.APPROVER, timezone=zone)
    accounts.user("ada@portal.test", Role.ADMIN)
    runner = app.test_cli_runner()
    args = ["set", "team", "--zone", zone] + (["--country", country] if country else [])
    assert runner.invoke(calendars, args).exit_code == 0
    assert runner.invoke(calendars, ["assign", "team", "--user", "bo@portal.test"]).exit_code == 0
    with app.app_context():
        assert db.session.get(User, approver).calendar_id is not None


def submit_at(app, accounts, moment: datetime) -> Task:
    browser = app.test_client()
    accounts.login(browser, "dana@acme.test")
    token = csrf_token(browser, "/forms/one-day/new")
    with pytest.MonkeyPatch.context() as clock:
        clock.setattr(service, "utcnow", lambda: moment.astimezone(UTC))
        response = browser.post("/forms/one-day/submit", data={"title": "Hi", "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        task = db.session.scalar(select(Task))
        db.session.expunge(task)
        return task


def in_app(app, job, now: datetime) -> int:
    """Run one of the scheduler's deadline functions with a frozen clock."""
    with app.app_context():
        return job(now=now)


def reminders(app) -> int:
    with app.app_context():
        return len(
            db.session.scalars(select(Notification).where(Notification.kind == "reminder")).all()
        )


def local(moment: datetime, zone: str) -> datetime:
    return moment.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def test_friday_afternoon_in_berlin_is_due_monday_afternoon(app, accounts, one_day_form):
    setup_people(app, accounts, "Europe/Berlin")
    task = submit_at(app, accounts, datetime(2026, 11, 20, 15, 0, tzinfo=ZoneInfo("Europe/Berlin")))
    assert local(task.due_at, "Europe/Berlin") == datetime(2026, 11, 23, 15, 0)


def test_after_a_public_holiday_monday_it_is_due_tuesday(app, accounts, one_day_form):
    setup_people(app, accounts, "Europe/Berlin", country="DE")
    friday = datetime(2027, 5, 14, 15, 0, tzinfo=ZoneInfo("Europe/Berlin"))  # Whit Monday next
    task = submit_at(app, accounts, friday)
    assert local(task.due_at, "Europe/Berlin") == datetime(2027, 5, 18, 15, 0)
    # The reminder: 4 working hours before, so Tuesday 11:00 (Friday 2 h, Tuesday 2 h).
    assert local(task.remind_at, "Europe/Berlin") == datetime(2027, 5, 18, 11, 0)


def test_across_the_spring_change_in_berlin(app, accounts, one_day_form):
    """Friday 26 March 2027 is CET (UTC+1); Monday 29 March is CEST (UTC+2)."""
    setup_people(app, accounts, "Europe/Berlin")
    task = submit_at(app, accounts, datetime(2027, 3, 26, 15, 0, tzinfo=ZoneInfo("Europe/Berlin")))
    assert task.due_at == datetime(2027, 3, 29, 13, 0, tzinfo=UTC)  # 15:00 CEST
    assert task.remind_at == datetime(2027, 3, 29, 9, 0, tzinfo=UTC)  # 11:00 CEST
    assert in_app(app, send_reminders, task.remind_at - MINUTE) == 0
    assert in_app(app, send_reminders, task.remind_at + MINUTE) == 1
    assert reminders(app) == 1
    assert in_app(app, escalate_missed, task.due_at - MINUTE) == 0
    assert in_app(app, escalate_missed, task.due_at + MINUTE) == 1


def test_across_the_spring_change_in_new_york(app, accounts, one_day_form):
    """Friday 12 March 2027 is EST (UTC-5); Monday 15 March is EDT (UTC-4)."""
    setup_people(app, accounts, "America/New_York", country="US")
    task = submit_at(
        app, accounts, datetime(2027, 3, 12, 15, 0, tzinfo=ZoneInfo("America/New_York"))
    )
    assert task.due_at == datetime(2027, 3, 15, 19, 0, tzinfo=UTC)
    assert local(task.due_at, "America/New_York") == datetime(2027, 3, 15, 15, 0)
    assert in_app(app, send_reminders, datetime(2027, 3, 15, 14, 59, tzinfo=UTC)) == 0
    assert in_app(app, send_reminders, datetime(2027, 3, 15, 15, 1, tzinfo=UTC)) == 1  # 11:01 EDT


def test_across_the_autumn_change_in_berlin(app, accounts, one_day_form):
    """Friday 29 October 2027 is CEST; Monday 1 November is CET."""
    setup_people(app, accounts, "Europe/Berlin")
    task = submit_at(app, accounts, datetime(2027, 10, 29, 15, 0, tzinfo=ZoneInfo("Europe/Berlin")))
    assert task.due_at == datetime(2027, 11, 1, 14, 0, tzinfo=UTC)  # 15:00 CET


def test_shanghai_has_no_clock_change(app, accounts, one_day_form):
    setup_people(app, accounts, "Asia/Shanghai", country="CN")
    task = submit_at(app, accounts, datetime(2027, 3, 26, 15, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    assert task.due_at == datetime(2027, 3, 29, 7, 0, tzinfo=UTC)  # 15:00 CST, UTC+8 all year
    assert task.remind_at == datetime(2027, 3, 29, 3, 0, tzinfo=UTC)


def test_the_calendar_belongs_to_the_person_who_acts(app, accounts, one_day_form):
    """Two approvers on the same step, in Berlin and in New York: each has their own clock."""
    setup_people(app, accounts, "Europe/Berlin")
    accounts.user("nina@portal.test", Role.APPROVER, timezone="America/New_York")
    submit_at(app, accounts, datetime(2026, 11, 20, 15, 0, tzinfo=ZoneInfo("Europe/Berlin")))
    with app.app_context():
        tasks = {t.user.email: t for t in db.session.scalars(select(Task))}
        berlin = local(tasks["bo@portal.test"].due_at, "Europe/Berlin")
        new_york = local(tasks["nina@portal.test"].due_at, "America/New_York")
    assert berlin == datetime(2026, 11, 23, 15, 0)
    assert new_york == datetime(2026, 11, 23, 9, 0)  # 09:00 Friday in New York, plus one day


def test_calendar_commands_refuse_bad_input(app, accounts):
    runner = app.test_cli_runner()
    bad = runner.invoke(
        calendars,
        [
            "set",
            "x",
            "--zone",
            "Mars/Base",
            "--country",
            "XX",
            "--days",
            "fun-day",
            "--hours",
            "17:00-09:00",
        ],
    )
    assert bad.exit_code != 0
    for message in (
        "unknown time zone",
        "no public holidays are known for XX",
        "days must be like",
        "must end after",
    ):
        assert message in bad.output
    with app.app_context():
        assert db.session.scalar(select(Calendar)) is None
    made = runner.invoke(
        calendars,
        ["set", "berlin", "--zone", "Europe/Berlin", "--country", "de", "--days", "mon-thu"],
    )
    assert (
        "Made calendar berlin: mon, tue, wed, thu 09:00-17:00 Europe/Berlin, holidays of DE."
        in made.output
    )
    assert "berlin:" in runner.invoke(calendars, ["list"]).output


def test_a_four_day_week(app):
    calendar = WorkingCalendar(zone="Europe/Berlin", workdays=frozenset({0, 1, 2, 3}))
    thursday = datetime(2026, 11, 19, 15, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert due_after(thursday, 1, "days", True, calendar).day == 23  # Monday, not Friday
