"""Writing an export: CSV (UTF-8 with a BOM, so that Excel reads Chinese; streamed line by line) and Excel (real
dates and numbers, Chinese headers, column widths).

Residents' texts are hostile input: a cell starting like a formula (=, +, -, @) is kept as text, never evaluated.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from services.intake.dashboards.models import SHANGHAI
from services.intake.exports.models import CellKind, Column

BOM = "\ufeff"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_EXCEL_FORMATS = {CellKind.TIME: "yyyy-mm-dd hh:mm", CellKind.DAY: "yyyy-mm-dd", CellKind.RATE: "0.0%"}


def local_time(value: datetime) -> datetime:
    """An aware time as Shanghai's wall clock, without zone (Excel has none)."""
    return value.astimezone(SHANGHAI).replace(tzinfo=None)


def csv_text(column: Column, value: Any) -> str:
    """A cell as CSV text: times in Shanghai, rates as percentages, formula-like texts quoted with '."""
    if value is None:
        return ""
    if column.kind is CellKind.TIME and isinstance(value, datetime):
        return local_time(value).strftime("%Y-%m-%d %H:%M:%S")
    if column.kind is CellKind.DAY and isinstance(value, date):
        return value.isoformat()
    if column.kind is CellKind.RATE:
        return f"{float(value) * 100:.1f}%"
    text = str(value)
    if column.kind is CellKind.TEXT and text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text


def csv_chunks(columns: tuple[Column, ...], rows: Iterable[tuple[Any, ...]]) -> Iterator[str]:
    """The CSV file line by line, the BOM and the header first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(cells: list[str]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(cells)
        return buffer.getvalue()

    yield BOM + line([column.header for column in columns])
    for row in rows:
        yield line([csv_text(column, value) for column, value in zip(columns, row, strict=True)])


def _excel_cell(sheet: WriteOnlyWorksheet, column: Column, value: Any) -> WriteOnlyCell:
    if isinstance(value, datetime):
        value = local_time(value)
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        cell.data_type = "s"  # never a formula, whatever the text starts with
    if column.kind in _EXCEL_FORMATS:
        cell.number_format = _EXCEL_FORMATS[column.kind]
    return cell


def xlsx_bytes(title: str, columns: tuple[Column, ...], rows: Iterable[tuple[Any, ...]]) -> bytes:
    """The Excel workbook of one sheet: bold headers, frozen header row, column widths, real dates and numbers."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title)
    for index, column in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=column.header)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for row in rows:
        sheet.append([_excel_cell(sheet, column, value) for column, value in zip(columns, row, strict=True)])
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()
