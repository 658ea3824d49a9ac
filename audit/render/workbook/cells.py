"""What the workbook's sheets share: the cell builder, the styles, a sheet's column widths, frozen
header and filter, the score colours, the reviewer columns (verdict drop-down and pre-filled
verdict cells) and the ticket compliance columns."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell
from openpyxl.formatting.rule import CellIsRule
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.datavalidation import DataValidation

from audit.core.safetext import is_formula_like, xml_text
from audit.results.qa_workbook import VERDICT_TEXT

_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="D9D9D9")
_LINK_FONT = Font(color="0563C1", underline="single")
_GOOD = PatternFill("solid", fgColor="C6EFCE")
_WARN = PatternFill("solid", fgColor="FFEB9C")
_BAD = PatternFill("solid", fgColor="FFC7CE")

#: Ticket compliance (scoring's ``ticket_compliance`` cell) as three columns.
COMPLIANCE_HEADERS = ("Tickets", "Tickets OK", "Ticket compliance %")


class Cells:
    """Builds cells for one write-only sheet; raw values where safe (fast), WriteOnlyCell where not."""

    def __init__(self, ws: WriteOnlyWorksheet) -> None:
        self.ws = ws

    def text(self, value: Any) -> Any:
        if value is None or value is pd.NA or (isinstance(value, float) and value != value):
            return None
        text = xml_text(str(value))  # a NUL or BEL in a title would make openpyxl refuse the cell
        # openpyxl reads a str starting with "=" as a formula; force a literal string cell and the
        # quote prefix (so Excel keeps it literal even when a reviewer edits the cell).
        if is_formula_like(text):
            cell = WriteOnlyCell(self.ws, value=text)
            cell.data_type = "s"
            cell.quotePrefix = True
            return cell
        return text

    def header(self, value: str) -> Cell:
        cell = WriteOnlyCell(self.ws, value=value)
        cell.font = _HEADER_FONT
        cell.fill = _HEADER_FILL
        return cell

    def link(self, text: str, url: str | None) -> Any:
        if not url or not url.lower().startswith(("https://", "http://")):
            return self.text(text)  # only web links: never file:, javascript: or anything odd
        cell = self.text(text)
        if not isinstance(cell, Cell):
            cell = WriteOnlyCell(self.ws, value=cell)
        cell.hyperlink = url
        cell.font = _LINK_FONT
        return cell

    def number(self, value: Any, fmt: str) -> Any:
        if value is None or value is pd.NA or (isinstance(value, float) and value != value):
            return None
        cell = WriteOnlyCell(self.ws, value=value)
        cell.number_format = fmt
        return cell

    def date(self, value: Any) -> Any:
        if value is None or value is pd.NA or value is pd.NaT:
            return None
        stamp = pd.Timestamp(value)
        if stamp is pd.NaT:
            return None
        if stamp.tzinfo is not None:  # Excel has no time zones: anchors are shown in UTC
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        cell = WriteOnlyCell(self.ws, value=stamp.to_pydatetime())
        cell.number_format = "yyyy-mm-dd hh:mm"
        return cell


def setup_sheet(ws: WriteOnlyWorksheet, widths: Sequence[int], ncols: int, nrows: int) -> None:
    for index, width in enumerate(widths[:ncols], start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(ncols)}{max(1, nrows + 1)}"


def score_colours(ws: WriteOnlyWorksheet, columns: Iterable[int], nrows: int) -> None:
    """Conditional colours on score columns (the number is always shown too: colour is a hint)."""
    if nrows <= 0:
        return
    for col in columns:
        letter = get_column_letter(col)
        ref = f"{letter}2:{letter}{nrows + 1}"
        ws.conditional_formatting.add(ref, CellIsRule(operator="lessThan", formula=["75"], fill=_BAD))
        ws.conditional_formatting.add(
            ref, CellIsRule(operator="between", formula=["75", "89.99"], fill=_WARN)
        )
        ws.conditional_formatting.add(
            ref, CellIsRule(operator="greaterThanOrEqual", formula=["90"], fill=_GOOD)
        )


def compliance(cell: Mapping[str, Any]) -> tuple[int | None, int | None, float | None]:
    """The :data:`COMPLIANCE_HEADERS` values of a summary cell."""
    tc = cell.get("ticket_compliance") or {}
    return tc.get("tickets"), tc.get("compliant"), tc.get("rate")


def verdict_cells(c: Cells, record: Mapping[str, Any] | None) -> list[Any]:
    """Verdict, Comment, Reviewer, Reviewed at of a recorded verdict (blank when none)."""
    if not record:
        return [None, None, None, None]
    reviewed = record.get("imported_at")
    return [
        VERDICT_TEXT.get(str(record.get("verdict")), record.get("verdict")),
        c.text(record.get("comment")) or None,
        c.text(record.get("reviewer")) or None,
        c.date(reviewed) if reviewed else None,
    ]


def list_validation(ws: WriteOnlyWorksheet, column: str, n: int, choices: Sequence[str]) -> None:
    """A drop-down of ``choices`` on rows 2..n+1 of ``column`` (write-only sheets lack add_data_validation())."""
    if not n:
        return
    shown = ", ".join(choices)
    validation = DataValidation(
        type="list",
        formula1='"' + ",".join(choices) + '"',
        allow_blank=True,
        showDropDown=False,
        showInputMessage=True,
        showErrorMessage=True,
        errorTitle="Verdict",
        error=f"Choose {shown}",
        promptTitle="Verdict",
        prompt=" / ".join(choices),
    )
    validation.add(f"{column}2:{column}{n + 1}")
    ws.data_validations.append(validation)
