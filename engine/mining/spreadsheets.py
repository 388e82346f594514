"""Report tables as files people open in a spreadsheet: .xlsx, and CSV that Excel reads right.

A :class:`Table` is already in people's words (its caller translates headings and names);
this module only writes it. Durations are written as numbers of days, so a spreadsheet can
sum and sort them.
"""
import csv
import io
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from engine.mining.exports import csv_cell

DAY = 86400.0
# Excel opens a CSV as UTF-8 only when it starts with a byte order mark.
BOM = "\ufeff"


@dataclass(frozen=True)
class Column:
    """A column: its heading and what its values are (``text``, ``count``, ``days`` from
    seconds, ``share`` from 0-1, ``date`` from epoch seconds)."""

    label: str
    kind: str = "text"


@dataclass
class Table:
    key: str
    title: str
    columns: list[Column]
    rows: list[list[Any]] = field(default_factory=list)


def cell_value(value: Any, kind: str) -> Any:
    """The value a spreadsheet cell gets for a table value of ``kind``."""
    if value is None:
        return None
    if kind == "days":
        return round(float(value) / DAY, 2)
    if kind == "share":
        return round(float(value) * 100, 1)
    if kind == "date":
        return datetime.fromtimestamp(float(value), timezone.utc).replace(tzinfo=None)
    if isinstance(value, tuple):  # (text, link): the text
        return value[0]
    return value


def csv_bytes(table: Table) -> bytes:
    """The table as CSV with a byte order mark (Excel then reads UTF-8) and CRLF lines."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([column.label for column in table.columns])
    for row in table.rows:
        cells = [cell_value(value, column.kind) for value, column in zip(row, table.columns)]
        writer.writerow(["" if c is None else c.strftime("%Y-%m-%d") if isinstance(c, datetime) else csv_cell(c)
                         for c in cells])
    return (BOM + out.getvalue()).encode("utf-8")


def workbook_bytes(tables: list[Table]) -> bytes:
    """An .xlsx workbook with one sheet per table, bold headings, dates as dates."""
    book = Workbook()
    for sheet in list(book.worksheets):  # the empty default sheet
        book.remove(sheet)
    for table in tables:
        sheet = book.create_sheet(_sheet_name(table.title, book.sheetnames))
        sheet.append([column.label for column in table.columns])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in table.rows:
            sheet.append([cell_value(value, column.kind) for value, column in zip(row, table.columns)])
        for index, column in enumerate(table.columns, start=1):
            letter = sheet.cell(row=1, column=index).column_letter
            sheet.column_dimensions[letter].width = max(10, min(40, 2 * len(column.label) + 4))
            if column.kind == "date":
                for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                    cell.number_format = "yyyy-mm-dd"
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet_name(title: str, taken: list[str]) -> str:
    # Excel: at most 31 characters, none of []:*?/\ and unique in the book.
    name = "".join(c for c in title if c not in "[]:*?/\\")[:31] or "Sheet"
    base, number = name, 2
    while name in taken:
        name = f"{base[:28]} {number}"
        number += 1
    return name


__all__ = ["Column", "Table", "cell_value", "csv_bytes", "workbook_bytes", "BOM"]
