"""Working-day calendar: durations that skip weekends and holidays.

A calendar turns wall-clock time into a *working clock*: the number of working seconds
since a fixed origin. Any duration is then the difference of two clock readings, so the
same SQL computes plain and working-day durations. Days are counted in local time
(``utc_offset_hours``; event timestamps are stored in UTC).
"""
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from engine.errors import Text, ValidationError

DAY = 86400
EPOCH = datetime(1970, 1, 1)
WEEKEND = (5, 6)  # Saturday, Sunday (date.weekday())


@dataclass(frozen=True)
class WorkingCalendar:
    """Weekends and ``holidays`` (dates) are not working days, except the ``workdays``
    (weekend days worked instead, 调休)."""

    holidays: frozenset[date] = field(default_factory=frozenset[date])
    utc_offset_hours: float = 0.0
    weekend: tuple[int, ...] = WEEKEND
    workdays: frozenset[date] = field(default_factory=frozenset[date])

    @classmethod
    def from_settings(cls, settings: Any) -> "WorkingCalendar":
        """The calendar configured by ``SANSHE_CALENDAR_HOLIDAYS`` and ``SANSHE_CALENDAR_UTC_OFFSET_HOURS``."""
        return cls(holidays=parse_holidays(getattr(settings, "calendar_holidays", "")),
                   utc_offset_hours=float(getattr(settings, "calendar_utc_offset_hours", 0.0)))

    def is_working(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() not in self.weekend and day not in self.holidays

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The same local time of day ``days`` working days after ``start`` (naive UTC)."""
        offset = timedelta(hours=self.utc_offset_hours)
        local = start + offset
        day, counted = local.date(), 0
        while counted < days:
            day += timedelta(days=1)
            if self.is_working(day):
                counted += 1
        return datetime.combine(day, local.time()) - offset

    def day_table(self, first_day: date, last_day: date) -> list[tuple[int, int, int]]:
        """Rows ``(day_number, working_days_before, working)`` for every day in the range.

        ``day_number`` counts days since 1970-01-01 (local time); ``working_days_before``
        counts the working days from ``first_day`` up to (not including) that day.
        """
        rows: list[tuple[int, int, int]] = []
        before = 0
        day = first_day
        while day <= last_day:
            working = 1 if self.is_working(day) else 0
            rows.append(((day - EPOCH.date()).days, before, working))
            before += working
            day += timedelta(days=1)
        return rows

    def working_seconds(self, start: datetime, end: datetime) -> float:
        """Working seconds between two naive UTC datetimes (the reference the SQL follows)."""
        if end < start:
            return -self.working_seconds(end, start)
        offset = timedelta(hours=self.utc_offset_hours)
        start, end = start + offset, end + offset
        total, cursor = 0.0, start
        while cursor < end:
            next_midnight = datetime.combine(cursor.date() + timedelta(days=1), datetime.min.time())
            stop = min(end, next_midnight)
            if self.is_working(cursor.date()):
                total += (stop - cursor).total_seconds()
            cursor = stop
        return total


def parse_holidays(text: str) -> frozenset[date]:
    """``"2024-10-01,2024-10-02 2024-10-03"`` -> a frozenset of dates."""
    days: set[date] = set()
    for token in (text or "").replace(",", " ").split():
        try:
            days.add(date.fromisoformat(token))
        except ValueError as exc:
            message = Text("%(value)r is not a date (YYYY-MM-DD).", value=token)
            raise ValidationError(message, errors={"holidays": [message]}) from exc
    return frozenset(days)
