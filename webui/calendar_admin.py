"""The working-day calendar for administrators: the year's holidays and working weekends
(调休) as shipped, and corrections of single days."""
from datetime import date

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from engine.core import audit, workdays
from engine.errors import ForbiddenError, ValidationError
from engine.queries.inbox import parse_int

from .context import me, unit

bp = Blueprint("calendar", __name__)
CHOICES = ("holiday", "working", "shipped")


@bp.before_request
def administrators_only():
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()  # pyright: ignore[reportAttributeAccessIssue] (set by flask-login)
    if not current_user.has_role("administrator"):
        raise ForbiddenError(_("Only administrators can open this page."))
    return None


def _year() -> int:
    year = parse_int(request.values.get("year")) or date.today().year
    if not 2000 <= year <= 2100:
        raise ValidationError(_("No calendar for that year."), errors={"year": [_("No calendar for that year.")]})
    return year


@bp.get("/calendar")
def index():
    year = _year()
    with unit(readonly=True) as db:
        days = workdays.special_days(db, year)
    return render_template("calendar/index.html", year=year, days=days, provisional=workdays.is_provisional(year))


@bp.post("/calendar")
def set_day():
    year = _year()
    try:
        day = date.fromisoformat(request.form.get("day", ""))
    except ValueError as exc:
        raise ValidationError(_("Choose a date."), errors={"day": [_("Choose a date.")]}) from exc
    choice = request.form.get("kind", "")
    if choice not in CHOICES:
        raise ValidationError(_("Choose holiday, working day or as shipped."), errors={"kind": [_("Required.")]})
    note = request.form.get("note", "").strip()
    with unit() as db:
        user = me(db)
        working = None if choice == "shipped" else choice == "working"
        workdays.set_day(db, day, working, note, user.username)
        audit.record(db, user.username, "calendar_day", day.isoformat(), {"working": working, "note": note})
    flash(_("%(day)s is saved.", day=day.isoformat()))
    return redirect(url_for("calendar.index", year=year))
