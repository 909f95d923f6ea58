"""Working time: when "2 working days" or "4 working hours" from now falls due.

Counted in the calendar of the person who must act: their zone, their working days and
hours, their public holidays. Pure Python: times go in and come out aware; daylight saving
changes are handled by doing the arithmetic on local wall-clock times.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays as holiday_tables


@dataclass(frozen=True)
class WorkingCalendar:
    """Working days (0 = Monday), the working hours of each, a zone, and public holidays:
    those of a country (and region) from the ``holidays`` package, plus any listed."""

    zone: str = "UTC"
    workdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    day_starts: time = time(9, 0)
    day_ends: time = time(17, 0)
    holidays: frozenset[date] = field(default_factory=frozenset)
    country: str | None = None
    subdivision: str | None = None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    def is_working_day(self, day: date) -> bool:
        if day.weekday() not in self.workdays or day in self.holidays:
            return False
        return not (
            self.country and day in public_holidays(self.country, self.subdivision, day.year)
        )

    def hours_per_day(self) -> float:
        start = datetime.combine(date.min, self.day_starts)
        end = datetime.combine(date.min, self.day_ends)
        return (end - start).total_seconds() / 3600


def _local(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def _aware(wall: datetime, zone: ZoneInfo) -> datetime:
    return wall.replace(tzinfo=zone)


def add_working_hours(start: datetime, hours: float, calendar: WorkingCalendar) -> datetime:
    """The moment ``hours`` of working time after ``start``, in the same zone as ``start``."""
    zone = calendar.tz
    wall = _local(start, zone)
    remaining = timedelta(hours=hours)
    for _ in range(3700):  # ten years of days: a calendar with no working day never loops forever
        day = wall.date()
        opens = datetime.combine(day, calendar.day_starts)
        closes = datetime.combine(day, calendar.day_ends)
        if calendar.is_working_day(day) and wall < closes:
            begin = max(wall, opens)
            available = closes - begin
            if remaining <= available:
                return _aware(begin + remaining, zone).astimezone(start.tzinfo)
            remaining -= available
        wall = datetime.combine(day + timedelta(days=1), time(0, 0))
    raise ValueError("the calendar has no working time")


def add_working_days(start: datetime, days: int, calendar: WorkingCalendar) -> datetime:
    """The same time of day ``days`` working days later (a Friday 15:00 plus one working day
    is Monday 15:00, or Tuesday 15:00 after a Monday holiday). A start outside working hours
    counts from the next opening."""
    zone = calendar.tz
    wall = _local(start, zone)
    day = wall.date()
    opens = datetime.combine(day, calendar.day_starts)
    closes = datetime.combine(day, calendar.day_ends)
    if not calendar.is_working_day(day) or wall >= closes:
        day = _next_working_day(day, calendar)
        wall = datetime.combine(day, calendar.day_starts)
    elif wall < opens:
        wall = opens
    for _ in range(days):
        day = _next_working_day(day, calendar)
    due = datetime.combine(day, wall.time())
    return _aware(due, zone).astimezone(start.tzinfo)


def _next_working_day(day: date, calendar: WorkingCalendar) -> date:
    for _ in range(3700):
        day += timedelta(days=1)
        if calendar.is_working_day(day):
            return day
    raise ValueError("the calendar has no working day")


def due_after(start: datetime, amount: int, unit: str, working: bool, calendar: WorkingCalendar):
    """When a duration such as "2 working days" or "36 hours" from ``start`` ends."""
    if not working:
        return start + (timedelta(days=amount) if unit == "days" else timedelta(hours=amount))
    if unit == "days":
        return add_working_days(start, amount, calendar)
    return add_working_hours(start, amount, calendar)


@lru_cache(maxsize=256)
def public_holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    """A country's (or region's) public holidays in one year."""
    return frozenset(holiday_tables.country_holidays(country, subdiv=subdivision, years=year))


def known_country(country: str, subdivision: str | None = None) -> bool:
    try:
        holiday_tables.country_holidays(country, subdiv=subdivision)
    except (NotImplementedError, KeyError):
        return False
    return True
