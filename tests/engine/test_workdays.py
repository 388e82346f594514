"""Deadlines in working days by mainland China's calendar (holidays and 调休 shipped as data,
corrected by the administrator), on SQLite and PostgreSQL."""
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.core import workdays
from engine.core.db import unit_of_work
from engine.core.deployments import deploy, read_bundle
from engine.core.models import Task, User
from engine.errors import ValidationError
from tests.conftest import make_services
from tests.factories import make_world

DATA = Path(__file__).resolve().parent.parent / "data" / "engine"


def test_the_spring_festival_and_its_working_saturdays_count_as_they_are_set():
    holidays, worked, provisional = workdays.shipped()
    assert holidays[date(2026, 2, 17)] == "春节" and worked[date(2026, 2, 14)] == "春节调休上班"
    assert date(2025, 10, 8) in holidays and date(2025, 9, 28) in worked and 2027 in provisional


def test_five_working_days_skip_the_holiday_and_count_the_working_saturday(db_url):
    services = make_services(db_url)
    try:
        with unit_of_work(services.session_factory) as session:
            # Thursday 12 February 2026, 10:00 in Beijing: 13 Feb (Fri), 14 Feb (Sat, 调休), then
            # the holiday until 23 Feb; 24, 25 and 26 Feb are the 3rd to 5th working days.
            start = datetime(2026, 2, 12, 2, 0)
            assert workdays.due(session, start, 5) == datetime(2026, 2, 26, 2, 0)
            # Without the data it would be plain Monday to Friday.
            workdays.set_day(session, date(2026, 2, 24), False, "镇里另行放假", "admin")
            assert workdays.due(session, start, 5) == datetime(2026, 2, 27, 2, 0)
            assert [d.corrected for d in workdays.special_days(session, 2026) if d.day == date(2026, 2, 24)] == [True]
            workdays.set_day(session, date(2026, 2, 24), None, "", "admin")  # back to the shipped data
            assert workdays.due(session, start, 5) == datetime(2026, 2, 26, 2, 0)
            with pytest.raises(ValidationError):
                workdays.set_day(session, date(2026, 3, 1), True, "x" * 101, "admin")
    finally:
        services.db.dispose()


def test_a_task_due_in_working_days_gets_its_due_time_from_the_calendar(db_url):
    services = make_services(db_url)
    services.runtime.clock = lambda: datetime(2026, 9, 30, 2, 0)  # before the National Day holiday
    try:
        bpmn, forms = read_bundle([DATA])
        bpmn = {name: text.replace('name="dueIn" value="P7D"', 'name="dueInWorkingDays" value="3"')
                for name, text in bpmn.items()}
        with unit_of_work(services.session_factory) as session:
            deploy(session, services.runtime.spec_cache, bpmn, forms, "admin")
            world = make_world(session)
        with unit_of_work(services.session_factory) as session:
            org = session.get(User, world.users.org.id)
            instance = services.runtime.start_instance(session, "mini_project", org, {
                "title": "国庆前", "organization_id": world.org.id, "catalog_item_id": world.item.id})
            due = session.scalars(select(Task.due_at).where(Task.instance_id == instance.id)).one()
        # 30 Sep (Wed) + 3 working days: 1-7 Oct are holidays, 10 Oct (Sat) is worked: 8, 9, 10 Oct.
        assert due == datetime(2026, 10, 10, 2, 0)
    finally:
        services.db.dispose()
