"""Read models of the towns' budgets: the overview, budget execution, earmarks waiting.

Budget execution (预算执行) is what a town's finance officer reads: per town and fiscal
year the total, what is earmarked and paid and what remains, and one line per project
with the amount decided, what is earmarked, and each installment paid with its date.
"""
from dataclasses import dataclass, field
from datetime import datetime
from io import BytesIO

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.core import access
from engine.core.models import Instance, Job, Organization, Town, User
from engine.errors import ForbiddenError, NotFoundError, Text, ValidationError
from engine.method import funds
from engine.method.models import Agreement, Budget, BudgetChange, LedgerEntry, Payment


def managed_towns(session: Session, user: User) -> list[Town]:
    """The towns whose budgets ``user`` keeps: their own as town government, all as administrator."""
    query = select(Town).order_by(Town.id)
    if not access.holds(session, user, "administrator", "global", 0):
        town_ids = [scope_id for role, scope_type, scope_id in access.grants_of(session, user)
                    if role == "town_government" and scope_type == "town"]
        query = query.where(Town.id.in_(town_ids))
    return list(session.scalars(query))


def readable_towns(session: Session, user: User) -> list[Town]:
    """The towns whose budgets ``user`` may read: those they keep, and every town for the city bureau."""
    if access.holds(session, user, "city_bureau", "global", 0):
        return list(session.scalars(select(Town).order_by(Town.id)))
    return managed_towns(session, user)


def check_reads(session: Session, user: User, town_id: int) -> Town:
    """The town, if ``user`` may read its budget (ForbiddenError otherwise)."""
    if access.holds(session, user, "city_bureau", "global", 0):
        town = session.get(Town, town_id)
        if town is None:
            raise NotFoundError(Text("No town %(town)s.", town=town_id))
        return town
    return check_manages(session, user, town_id)


def check_manages(session: Session, user: User, town_id: int) -> Town:
    """The town, if ``user`` keeps its budget (ForbiddenError otherwise)."""
    town = session.get(Town, town_id)
    if town is None:
        raise NotFoundError(Text("No town %(town)s.", town=town_id))
    if not access.holds_or_admin(session, user, "town_government", "town", town_id):
        raise ForbiddenError("Only the town government or an administrator keeps this budget.")
    return town


@dataclass(frozen=True)
class BudgetRow:
    """One town's budget for one year, in fen."""
    town_id: int
    town_name: str
    year: int
    total_fen: int
    committed_fen: int
    paid_fen: int

    @property
    def remaining_fen(self) -> int:
        return self.total_fen - self.committed_fen


def budget_rows(session: Session, town_ids: list[int] | None = None, year: int | None = None) -> list[BudgetRow]:
    """Budgets by town and year (newest year first); all towns for ``town_ids=None``."""
    query = (select(Budget, Town.name).join(Town, Town.id == Budget.town_id)
             .order_by(Budget.year.desc(), Town.id))
    if town_ids is not None:
        query = query.where(Budget.town_id.in_(town_ids))
    if year is not None:
        query = query.where(Budget.year == year)
    return [BudgetRow(b.town_id, name, b.year, b.total_fen, b.committed_fen, b.paid_fen)
            for b, name in session.execute(query)]


@dataclass(frozen=True)
class BudgetNotice:
    """An earmark waiting for a town's budget: what the town reads and can do about it."""
    job_id: int
    instance_id: int
    title: str
    town_id: int
    town_name: str
    year: int
    needed_fen: int | None
    total_fen: int | None  # None: the town has no budget for the year
    remaining_fen: int | None
    since: datetime

    @property
    def has_budget(self) -> bool:
        return self.total_fen is not None


def _needed_fen(variables: dict) -> int | None:
    params = (variables or {}).get("params") or {}
    amount = params.get("amount", ((variables or {}).get("project") or {}).get("budget_total"))
    try:
        return funds.to_fen(amount)
    except ValidationError:
        return None


def budget_notices(session: Session, town_ids: list[int] | None = None,
                   instance_id: int | None = None) -> list[BudgetNotice]:
    """Earmarks waiting for a budget, oldest first: of ``town_ids`` (None: every town) or of
    one project."""
    query = (select(Job.id, Job.instance_id, Job.waiting_for, Job.variables, Job.created_at, Instance.title)
             .join(Instance, Instance.id == Job.instance_id)
             .where(Job.state == "waiting", Job.waiting_for.startswith("budget:")).order_by(Job.id))
    if instance_id is not None:
        query = query.where(Job.instance_id == instance_id)
    notices, towns = [], {}
    for job_id, inst_id, waiting_for, variables, created_at, title in session.execute(query):
        key = funds.parse_key(waiting_for)
        if key is None or (town_ids is not None and key[0] not in town_ids):
            continue
        town_id, year = key
        if town_id not in towns:
            towns[town_id] = session.scalar(select(Town.name).where(Town.id == town_id)) or str(town_id)
        budget = funds.find_budget(session, town_id, year)
        notices.append(BudgetNotice(
            job_id, inst_id, title, town_id, towns[town_id], year, _needed_fen(variables),
            budget.total_fen if budget else None,
            budget.total_fen - budget.committed_fen if budget else None, created_at))
    return notices


def notices_for(session: Session, user: User) -> list[BudgetNotice]:
    """The notices a person acts on: their towns' as town government, all as administrator."""
    if access.holds(session, user, "administrator", "global", 0):
        return budget_notices(session)
    town_ids = [town.id for town in managed_towns(session, user)]
    return budget_notices(session, town_ids) if town_ids else []


@dataclass(frozen=True)
class Installment:
    no: int
    label: str
    amount_fen: int
    paid_at: datetime


@dataclass
class ProjectLine:
    """One project's money in a budget."""
    instance_id: int
    title: str
    organization: str
    status: str
    decided_fen: int = 0
    released_fen: int = 0
    paid_fen: int = 0
    installments: list[Installment] = field(default_factory=list)

    @property
    def earmarked_fen(self) -> int:
        """Earmarked and not given back (paid money stays earmarked)."""
        return self.decided_fen - self.released_fen

    @property
    def unpaid_fen(self) -> int:
        return self.earmarked_fen - self.paid_fen


@dataclass
class Execution:
    town_id: int
    town_name: str
    year: int
    total_fen: int
    committed_fen: int
    paid_fen: int
    lines: list[ProjectLine]
    changes: list[BudgetChange]
    changed_by_names: dict[str, str]

    @property
    def remaining_fen(self) -> int:
        return self.total_fen - self.committed_fen


def execution(session: Session, town_id: int, year: int) -> Execution:
    """The budget's execution: its figures and one line per project it funds."""
    town = session.get(Town, town_id)
    if town is None:
        raise NotFoundError(Text("No town %(town)s.", town=town_id))
    budget = funds.get_budget(session, town_id, year)
    lines: dict[int, ProjectLine] = {}
    rows = session.execute(
        select(LedgerEntry.instance_id, LedgerEntry.kind, func.sum(LedgerEntry.amount_fen), Instance.title,
               Instance.status, Organization.name)
        .join(Instance, Instance.id == LedgerEntry.instance_id)
        .join(Organization, Organization.id == Instance.organization_id, isouter=True)
        .where(LedgerEntry.budget_id == budget.id)
        .group_by(LedgerEntry.instance_id, LedgerEntry.kind, Instance.title, Instance.status, Organization.name)
        .order_by(LedgerEntry.instance_id))
    for instance_id, kind, total, title, status, organization in rows:
        line = lines.setdefault(instance_id, ProjectLine(instance_id, title, organization or "", status))
        attribute = {"earmark": "decided_fen", "release": "released_fen", "payment": "paid_fen"}[kind]
        setattr(line, attribute, getattr(line, attribute) + int(total))
    if lines:
        for payment in session.scalars(select(Payment).where(Payment.instance_id.in_(list(lines)))
                                       .join(Agreement, Agreement.id == Payment.agreement_id)
                                       .order_by(Payment.instance_id, Payment.installment)):
            lines[payment.instance_id].installments.append(
                Installment(payment.installment, payment.label, payment.amount_fen, payment.paid_at))
    changes = funds.budget_changes(session, budget.id)
    names = dict(session.execute(select(User.username, User.display_name)
                                 .where(User.username.in_({c.changed_by for c in changes}))).all())
    return Execution(town.id, town.name, year, budget.total_fen, budget.committed_fen, budget.paid_fen,
                     list(lines.values()), changes, {k: v or k for k, v in names.items()})


def execution_workbook(report: Execution, headers: dict[str, str], labels: dict[str, str]) -> bytes:
    """The execution as an .xlsx file: a summary sheet and a sheet of projects and payments.

    ``headers`` gives the column and row titles in the reader's language (keys: ``town``,
    ``year``, ``total``, ``earmarked``, ``paid``, ``remaining``, ``project``, ``organization``,
    ``decided``, ``unpaid``, ``installment``, ``amount``, ``paid_at``, ``summary``,
    ``projects``); ``labels`` names installments (``on_signing`` ...).
    """
    book = Workbook()
    summary = book.worksheets[0]
    summary.title = headers["summary"]
    bold = Font(bold=True)
    for row in ((headers["town"], report.town_name), (headers["year"], report.year),
                (headers["total"], report.total_fen / 100), (headers["earmarked"], report.committed_fen / 100),
                (headers["paid"], report.paid_fen / 100), (headers["remaining"], report.remaining_fen / 100)):
        summary.append(row)
        summary.cell(summary.max_row, 1).font = bold
    summary.column_dimensions["A"].width = 16
    summary.column_dimensions["B"].width = 28
    for number_row in range(3, 7):
        summary.cell(number_row, 2).number_format = "#,##0.00"
    sheet = book.create_sheet(headers["projects"])
    columns = ("project", "organization", "decided", "earmarked", "paid", "unpaid", "installment", "amount",
               "paid_at")
    sheet.append([headers[name] for name in columns])
    for cell in sheet[1]:
        cell.font = bold
    for line in report.lines:
        money = [line.decided_fen / 100, line.earmarked_fen / 100, line.paid_fen / 100, line.unpaid_fen / 100]
        if not line.installments:
            sheet.append([line.title, line.organization, *money, "", None, None])
        for index, payment in enumerate(line.installments):
            first = [line.title, line.organization, *money] if index == 0 else [line.title, line.organization,
                                                                                 None, None, None, None]
            sheet.append([*first, labels.get(payment.label, payment.label), payment.amount_fen / 100,
                          payment.paid_at.date()])
    for row in sheet.iter_rows(min_row=2):
        for cell in row[2:6] + (row[7],):
            cell.number_format = "#,##0.00"
        row[8].number_format = "yyyy-mm-dd"
    for letter, width in zip("ABCDEFGHI", (36, 32, 14, 14, 14, 14, 18, 14, 12)):
        sheet.column_dimensions[letter].width = width
    out = BytesIO()
    book.save(out)
    return out.getvalue()
