"""Budgets: a town sets and raises its yearly budget and reads its execution (Excel too).

The town government keeps its own town's budgets, an administrator any town's. An earmark
that waits for a budget is shown here, in the inbox and on the project page; the town
either sets or raises the budget (the project goes on by itself) or decides otherwise.
"""
from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from engine.core.jobs import JobQueue
from engine.errors import ForbiddenError, ValidationError
from engine.method import funds
from engine.queries import budgets as budget_queries

from .context import me, services, settings, unit
from .i18n import INSTALLMENT_LABELS, money, translated

bp = Blueprint("budgets", __name__)

def this_year() -> int:
    return services().runtime.clock().year


def _year_arg(value: str | None) -> int:
    return funds.check_year(value) if value else this_year()


def _index_page(db, user, year: int, form=None, errors=None, status: int = 200):
    towns = budget_queries.readable_towns(db, user)
    if not towns:
        raise ForbiddenError(_("Only the town government or an administrator keeps budgets."))
    kept = budget_queries.managed_towns(db, user)  # the city bureau reads every town's and keeps none
    town_ids = [town.id for town in towns]
    rows = budget_queries.budget_rows(db, town_ids)
    notices = budget_queries.budget_notices(db, town_ids)
    years = sorted({row.year for row in rows} | {year, this_year(), this_year() + 1}, reverse=True)
    return render_template("budgets/index.html", towns=kept, rows=[r for r in rows if r.year == year],
                           all_rows=rows, year=year, years=years, notices=notices, form=form or {},
                           errors=errors or {}, can_act=bool(kept)), status


@bp.get("/budgets")
@login_required
def index():
    with unit(readonly=True) as db:
        return _index_page(db, me(db), _year_arg(request.args.get("year")))


@bp.post("/budgets")
@login_required
def set_budget():
    """Set or raise a town's budget; bad input shows the form again with field errors."""
    form = request.form
    back = form.get("back") or ""
    try:
        with unit() as db:
            user = me(db)
            try:
                town_id = int(form.get("town", ""))
            except ValueError:
                raise ValidationError(_("Choose a town."), errors={"town": [_("Choose a town.")]}) from None
            budget_queries.check_manages(db, user, town_id)
            budget = funds.set_budget(db, town_id, form.get("year", ""), form.get("total", "").replace(",", ""),
                                      actor=user.username, now=services().runtime.clock(),
                                      note=form.get("note", "").strip())
            year, total = budget.year, budget.total_fen
    except ValidationError as exc:
        with unit(readonly=True) as db:
            errors = {name: [translated(m) for m in messages] for name, messages in exc.errors.items()}
            try:
                year = funds.check_year(form.get("year"))
            except ValidationError:
                year = this_year()
            if back == "execution" and "town" not in errors:
                return _execution_page(db, me(db), int(form["town"]), year, form, errors, 422)
            return _index_page(db, me(db), year, form, errors, 422)
    flash(_("The %(year)s budget is now %(amount)s.", year=year, amount=_money(total)))
    if back == "execution":
        return redirect(url_for("budgets.execution", town_id=town_id, year=year), code=303)
    return redirect(url_for("budgets.index", year=year), code=303)


def _money(fen: int) -> str:
    return money(fen / 100)


def _execution_page(db, user, town_id: int, year: int, form=None, errors=None, status: int = 200):
    town = budget_queries.check_reads(db, user, town_id)
    keeps = town in budget_queries.managed_towns(db, user)
    report = budget_queries.execution(db, town.id, year) if funds.find_budget(db, town.id, year) else None
    notices = budget_queries.budget_notices(db, [town.id])
    return render_template("budgets/execution.html", town=town, year=year, report=report,
                           notices=[n for n in notices if n.year == year], form=form or {}, errors=errors or {},
                           labels=INSTALLMENT_LABELS, can_act=keeps), status


@bp.get("/budgets/<int:town_id>/<int:year>")
@login_required
def execution(town_id, year):
    with unit(readonly=True) as db:
        return _execution_page(db, me(db), town_id, funds.check_year(year))


@bp.get("/budgets/<int:town_id>/<int:year>.xlsx")
@login_required
def execution_xlsx(town_id, year):
    with unit(readonly=True) as db:
        budget_queries.check_reads(db, me(db), town_id)
        report = budget_queries.execution(db, town_id, funds.check_year(year))
    headers = {"town": _("Town"), "year": _("Fiscal year"), "total": _("Budget total (yuan)"),
               "earmarked": _("Earmarked (yuan)"), "paid": _("Paid (yuan)"), "remaining": _("Remaining (yuan)"),
               "project": _("Project"), "organization": _("Social organization"),
               "decided": _("Amount decided (yuan)"), "unpaid": _("Earmarked, not yet paid (yuan)"),
               "installment": _("Installment"), "amount": _("Amount paid (yuan)"), "paid_at": _("Paid on"),
               "summary": _("Budget execution"), "projects": _("Projects and payments")}
    body = budget_queries.execution_workbook(report, headers, {k: str(v) for k, v in INSTALLMENT_LABELS.items()})
    filename = f"budget-execution-{town_id}-{year}.xlsx"
    return Response(body, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.post("/budgets/waiting/<int:job_id>/decide-otherwise")
@login_required
def decide_otherwise(job_id):
    """The town does not wait for the budget: the purchase decision comes back to its inbox."""
    with unit() as db:
        queue = JobQueue(settings(), runtime=services().runtime)
        job = funds.decide_otherwise(db, queue, me(db), job_id)
        instance_id = job.instance_id
    flash(_("The purchase decision is back in the town's inbox."))
    return redirect(url_for("instances.show", instance_id=instance_id), code=303)
