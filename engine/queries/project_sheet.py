"""The project list as an .xlsx workbook: what a town's office files and sums in a spreadsheet."""
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.core.models import User
from engine.method.models import Agreement, Payment
from engine.queries import listings

MAX_ROWS = 10_000
COLUMNS = ("project", "community", "organization", "step", "status", "started", "ended", "decided", "paid",
           "unpaid")


@dataclass(frozen=True)
class ProjectLine:
    title: str
    community: str
    organization: str
    step: int | None
    status: str
    started_at: datetime
    ended_at: datetime | None
    decided_fen: int | None
    paid_fen: int


def project_lines(session: Session, user: User, **filters: Any) -> list[ProjectLine]:
    """Every project the person sees (the list's filters applied), newest first, with its money."""
    listing = listings.list_instances(session, user, page=1, per_page=MAX_ROWS, **filters)
    ids = [row.instance.id for row in listing.rows]
    decided: dict[int, int] = {}
    for agreement in session.scalars(select(Agreement).where(Agreement.instance_id.in_(ids)).order_by(Agreement.id)):
        decided[agreement.instance_id] = int(agreement.content.get("amount_fen") or 0)  # the newest wins
    paid = dict(session.execute(select(Payment.instance_id, func.sum(Payment.amount_fen))
                                .where(Payment.instance_id.in_(ids)).group_by(Payment.instance_id)).all())
    return [ProjectLine(row.instance.title, row.community_name, row.organization_name, row.instance.current_step,
                        row.instance.status, row.instance.started_at, row.instance.ended_at,
                        decided.get(row.instance.id), int(paid.get(row.instance.id) or 0)) for row in listing.rows]


def workbook(lines: list[ProjectLine], headers: dict[str, str], steps: dict[int, str], statuses: dict[str, str],
             title: str) -> bytes:
    """One sheet, a row per project; ``headers`` names the columns (keys: ``COLUMNS``) in the
    reader's language, ``steps`` and ``statuses`` name the steps and states."""
    book = Workbook()
    sheet = book.worksheets[0]
    sheet.title = title[:31]
    sheet.append([headers[name] for name in COLUMNS])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for line in lines:
        decided = line.decided_fen / 100 if line.decided_fen is not None else None
        unpaid = (line.decided_fen - line.paid_fen) / 100 if line.decided_fen is not None else None
        sheet.append([line.title, line.community, line.organization,
                      steps.get(line.step, "") if line.step else "", statuses.get(line.status, line.status),
                      line.started_at.date(), line.ended_at.date() if line.ended_at else None,
                      decided, line.paid_fen / 100, unpaid])
    for row in sheet.iter_rows(min_row=2):
        for cell in row[5:7]:
            cell.number_format = "yyyy-mm-dd"
        for cell in row[7:10]:
            cell.number_format = "#,##0.00"
    for letter, width in zip("ABCDEFGHIJ", (36, 16, 30, 22, 10, 12, 12, 16, 16, 16)):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A2"
    out = BytesIO()
    book.save(out)
    return out.getvalue()
