"""Deadlines in working time, in the calendar of the person who must act."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from portal.approvals.calendar import WorkingCalendar, add_working_hours, due_after

BERLIN = WorkingCalendar(zone="Europe/Berlin")
NEW_YORK = WorkingCalendar(zone="America/New_York")


def berlin(*args) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo("Europe/Berlin"))


def test_one_working_day_from_friday_afternoon_is_monday_afternoon():
    friday = berlin(2026, 11, 20, 15, 0)
    assert due_after(friday, 1, "days", True, BERLIN) == berlin(2026, 11, 23, 15, 0)


def test_a_monday_holiday_moves_it_to_tuesday():
    calendar = WorkingCalendar(zone="Europe/Berlin", holidays=frozenset({date(2026, 11, 23)}))
    friday = berlin(2026, 11, 20, 15, 0)
    assert due_after(friday, 1, "days", True, calendar) == berlin(2026, 11, 24, 15, 0)


def test_working_hours_carry_over_the_night_and_the_weekend():
    friday = berlin(2026, 11, 20, 15, 0)
    # two hours on Friday (until 17:00), two more from Monday 09:00
    assert add_working_hours(friday, 4, BERLIN) == berlin(2026, 11, 23, 11, 0)


def test_a_start_at_night_counts_from_the_next_opening():
    saturday = berlin(2026, 11, 21, 23, 30)
    assert due_after(saturday, 2, "hours", True, BERLIN) == berlin(2026, 11, 23, 11, 0)


def test_across_the_spring_change_in_new_york_the_local_time_holds():
    friday = datetime(2027, 3, 12, 15, 0, tzinfo=ZoneInfo("America/New_York"))  # EST
    due = due_after(friday, 1, "days", True, NEW_YORK)
    assert due.astimezone(ZoneInfo("America/New_York")).hour == 15  # 15:00 EDT on Monday
    assert due.astimezone(UTC) == datetime(2027, 3, 15, 19, 0, tzinfo=UTC)


def test_plain_hours_ignore_the_calendar():
    start = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    assert due_after(start, 36, "hours", False, BERLIN) == datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
