"""The administrator corrects the working-day calendar; nobody else may; bad input changes nothing."""
from datetime import date

from sqlalchemy import select

from engine.core.db import unit_of_work
from engine.core.models import CalendarDay


def test_the_administrator_sees_the_year_and_corrects_a_day(web, as_user):
    admin = as_user("admin")
    page = admin.get("/calendar?year=2026").get_data(as_text=True)
    assert "2026-02-14" in page and "春节调休上班" in page and "只有法定节假日" not in page
    assert 'data-testid="provisional"' in admin.get("/calendar?year=2027").get_data(as_text=True)
    response = admin.post("/calendar", {"year": "2026", "day": "2026-03-02", "kind": "holiday", "note": "镇里停电"})
    assert response.status_code == 302
    page = admin.get("/calendar?year=2026").get_data(as_text=True)
    assert "2026-03-02" in page and "镇里停电" in page
    for bad in ({"day": "2026-13-40", "kind": "holiday"}, {"day": "2026-03-03", "kind": "sometimes"},
                {"day": "2026-03-03", "kind": "holiday", "note": "长" * 101}, {"year": "abc", "day": "2026-03-03"}):
        assert admin.post("/calendar", {"year": "2026", **bad}).status_code in (400, 422)
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        assert [d.day for d in session.scalars(select(CalendarDay))] == [date(2026, 3, 2)]


def test_only_administrators_open_the_calendar(web, as_user):
    town = as_user("town")
    assert town.get("/calendar").status_code == 403
    assert town.post("/calendar", {"day": "2026-03-02", "kind": "holiday"}).status_code == 403
