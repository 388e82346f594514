"""A due time in working days skips weekends and holidays, in local time."""
from datetime import date, datetime

from engine.core.calendar import WorkingCalendar


def test_working_days_skip_the_weekend_and_holidays():
    friday_morning = datetime(2027, 4, 30, 1, 0)  # 09:00 in Beijing, a Friday
    calendar = WorkingCalendar(holidays=frozenset({date(2027, 5, 3)}), utc_offset_hours=8)
    # Monday 3 May is a holiday: Tuesday is the first working day, Wednesday the second.
    assert calendar.add_working_days(friday_morning, 2) == datetime(2027, 5, 5, 1, 0)
    assert calendar.add_working_days(friday_morning, 0) == friday_morning


def test_local_time_decides_the_day():
    # 17:00 UTC on Friday is already Saturday 01:00 in Beijing: one working day is Monday.
    late_friday = datetime(2027, 4, 30, 17, 0)
    assert WorkingCalendar(utc_offset_hours=8).add_working_days(late_friday, 1) == datetime(2027, 5, 2, 17, 0)


def test_a_tasks_due_time_takes_working_days_before_its_duration():
    from engine.core.runtime import task_due

    friday_morning = datetime(2027, 4, 30, 1, 0)
    calendar = WorkingCalendar(holidays=frozenset({date(2027, 5, 3)}), utc_offset_hours=8)
    both = {"dueIn": "P7D", "dueInWorkingDays": "2"}
    assert task_due(both, friday_morning, calendar.add_working_days) == datetime(2027, 5, 5, 1, 0)
    # Anything but a whole number of working days leaves the duration; neither: no due time.
    assert task_due({**both, "dueInWorkingDays": "two"}, friday_morning, calendar.add_working_days) == \
        datetime(2027, 5, 7, 1, 0)
    assert task_due({}, friday_morning, calendar.add_working_days) is None
