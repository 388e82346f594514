"""Mainland China's working-day calendar: public holidays and adjusted working weekends
(调休) shipped as data (``data/china_holidays.json``), corrected by the administrator.

Deadlines in working days (the ``dueInWorkingDays`` property of a user task) and on-time
figures count with it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core.calendar import WorkingCalendar
from engine.core.models import CalendarDay, utcnow
from engine.errors import Text, ValidationError

SHIPPED = Path(__file__).resolve().parent / "data" / "china_holidays.json"


@lru_cache(maxsize=1)
def shipped() -> tuple[dict[date, str], dict[date, str], frozenset[int]]:
    """``(holidays, working weekends, provisional years)`` of the shipped data, with their names."""
    data = json.loads(SHIPPED.read_text(encoding="utf-8"))
    return ({date.fromisoformat(d): n for d, n in data["holidays"].items()},
            {date.fromisoformat(d): n for d, n in data["workdays"].items()},
            frozenset(data.get("provisional_years", [])))


def china_calendar(session: Session, utc_offset_hours: float = 8.0) -> WorkingCalendar:
    """The shipped calendar with the administrator's corrections."""
    holidays, workdays, _ = shipped()
    off, on = set(holidays), set(workdays)
    for row in session.scalars(select(CalendarDay)):
        (on if row.working else off).add(row.day)
        (off if row.working else on).discard(row.day)
    return WorkingCalendar(holidays=frozenset(off), workdays=frozenset(on), utc_offset_hours=utc_offset_hours)


@dataclass
class SpecialDay:
    """A day that is not an ordinary weekday or weekend: its date, whether people work, its
    name, and whether the administrator set it."""
    day: date
    working: bool
    note: str
    corrected: bool


def special_days(session: Session, year: int) -> list[SpecialDay]:
    """The holidays and working weekends of ``year``, corrections included, by date."""
    holidays, workdays, _ = shipped()
    days = {d: SpecialDay(d, False, n, False) for d, n in holidays.items() if d.year == year}
    days |= {d: SpecialDay(d, True, n, False) for d, n in workdays.items() if d.year == year}
    for row in session.scalars(select(CalendarDay).where(CalendarDay.day.between(date(year, 1, 1),
                                                                                 date(year, 12, 31)))):
        days[row.day] = SpecialDay(row.day, row.working, row.note, True)
    return sorted(days.values(), key=lambda d: d.day)


def is_provisional(year: int) -> bool:
    """Whether the shipped data of ``year`` holds the statutory holidays only (no 调休 yet)."""
    return year in shipped()[2]


def set_day(session: Session, day: date, working: bool | None, note: str, actor: str) -> None:
    """Make ``day`` a working day or a holiday (``working``), or back to what the shipped data
    says (None)."""
    if not 2000 <= day.year <= 2100:
        raise ValidationError(Text("%(day)s is out of range.", day=day.isoformat()), errors={"day": ["out of range"]})
    if len(note) > 100:
        raise ValidationError("The note is too long (at most 100 characters).", errors={"note": ["too long"]})
    row = session.get(CalendarDay, day)
    if working is None:
        if row is not None:
            session.delete(row)
        return
    if row is None:
        session.add(CalendarDay(day=day, working=working, note=note, changed_by=actor, changed_at=utcnow()))
    else:
        row.working, row.note, row.changed_by, row.changed_at = working, note, actor, utcnow()
    session.flush()


def due(session: Session, start: datetime, working_days: int, utc_offset_hours: float = 8.0) -> datetime:
    """``working_days`` working days after ``start`` by the calendar with its corrections."""
    return china_calendar(session, utc_offset_hours).add_working_days(start, working_days)
