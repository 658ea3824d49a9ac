"""Reading a reviewed QA workbook: the reviewers' answers, validated, and the run it is about.

A reviewer fills the Findings sheet's *Verdict* (and *Comment*, optionally *Reviewer*) cells and
answers the Sample sheet. Rows are matched by the finding key columns (rule id, row kind, row
id), never by position, so a reviewer may sort, filter, delete or edit rows freely; rows without
a verdict are ignored. Every column is found by its header (:mod:`audit.results.qa_workbook`).

The workbook is untrusted input: its inflated size, the rows of a sheet and a comment's length
are bounded, and a verdict that is a formula without a computed value is an error, never
skipped. Whether the workbook is about the right tenant and rule set is :mod:`audit.results.review`'s check.
"""

from __future__ import annotations

import zipfile
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.workbook.workbook import Workbook

from audit.core.errors import ConfigError
from audit.results.qa_workbook import (
    COMMENT_HEADER,
    FINDING_KEY_COLUMNS,
    FINDING_KEY_HEADER,
    FINDINGS_SHEET,
    REVIEWER_HEADER,
    SAMPLE_KEY_HEADER,
    SAMPLE_SHEET,
    SAMPLE_VERDICT_READINGS,
    TICKET_HEADER,
    TICKET_ID_HEADER,
    VERDICT_HEADER,
    VERDICT_READINGS,
    finding_key,
)
from audit.results.qa_workbook import normalise_header as _norm
from audit.results.waivers import key_text

__all__ = [
    "MAX_COMMENT_CHARS",
    "MAX_SHEET_ROWS",
    "MAX_WORKBOOK_UNCOMPRESSED",
    "Reviewed",
    "ReviewRow",
    "SampleRow",
    "read_review",
    "read_reviewed",
    "sheet_named",
]

#: Limits on an imported workbook (a zip bomb must not exhaust memory or grow the store):
#: the uncompressed size of all its parts, the rows of one sheet, the characters of a comment.
MAX_WORKBOOK_UNCOMPRESSED = 256 * 1024 * 1024
MAX_SHEET_ROWS = 250_000
MAX_COMMENT_CHARS = 2_000
# openpyxl stamps its own name as the creator: that is no reviewer.
_NOT_A_PERSON = frozenset({"", "openpyxl", "ticket-audit"})


@dataclass(frozen=True)
class ReviewRow:
    """One reviewed finding read from the workbook."""

    rule_id: str
    row_kind: str
    row_id: str
    ticket: str | None
    verdict: str  # waived / false_positive / confirmed
    comment: str
    reviewer: str | None
    cell: str  # e.g. "Findings!K12", for messages
    ticket_id: str | None = None  # the "Ticket ID" cell (a ticket-kind row's row id is its ticket id)

    @property
    def audited_ticket(self) -> str | None:
        """The id of the ticket the finding is about, when the row says."""
        return self.ticket_id or (self.row_id if self.row_kind == "ticket" else None)

    @property
    def key(self) -> str:
        return finding_key(self.rule_id, self.row_kind, self.row_id)


@dataclass(frozen=True)
class SampleRow:
    """One answered row of the Sample sheet: was a problem missed in this step of this ticket?"""

    step: str
    ticket_id: str
    ticket: str | None
    verdict: str  # correct / missed
    comment: str
    reviewer: str | None
    cell: str

    @property
    def key(self) -> str:
        return f"{self.step}|{self.ticket_id}"


def _check_size(path: Path) -> None:
    """Refuse (exit 2) a workbook whose parts would inflate beyond MAX_WORKBOOK_UNCOMPRESSED.

    The sizes are the zip directory's; zipfile never inflates a member beyond its declared
    size, so this bound holds for what openpyxl will read.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            total = sum(info.file_size for info in archive.infolist())
    except FileNotFoundError as exc:
        raise ConfigError("QA workbook not found", file=str(path)) from exc
    except (zipfile.BadZipFile, OSError) as exc:
        raise ConfigError(
            f"not a readable .xlsx workbook: {type(exc).__name__}: {exc}", file=str(path)
        ) from exc
    if total > MAX_WORKBOOK_UNCOMPRESSED:
        raise ConfigError(
            f"the workbook inflates to {total:,} bytes, more than the {MAX_WORKBOOK_UNCOMPRESSED:,} "
            "a QA workbook may (a zip bomb, or not a ticket-audit workbook): refusing to read it",
            file=str(path),
        )


def _open(path: Path, *, data_only: bool = True) -> Workbook:
    _check_size(path)
    try:
        # read_only streams rows (a 20,000-finding workbook loads in seconds, not a minute);
        # data_only: a cell holding a formula gives its cached value, not the formula text.
        return load_workbook(path, read_only=True, data_only=data_only)
    except FileNotFoundError as exc:
        raise ConfigError("QA workbook not found", file=str(path)) from exc
    except Exception as exc:  # zipfile/openpyxl raise many types for a file that is not xlsx
        raise ConfigError(
            f"not a readable .xlsx workbook: {type(exc).__name__}: {exc}", file=str(path)
        ) from exc


def sheet_named(wb: Workbook, title: str) -> Any:
    """The sheet called ``title`` (case-insensitively), or None."""
    name = next((n for n in wb.sheetnames if n.casefold() == title.casefold()), None)
    return None if name is None else wb[name]


def _header(ws: Any, path: Path) -> tuple[int, dict[str, int]]:
    """Row number of the header and normalised header -> column index (1-based).

    The header row is the first of the top rows holding Verdict and the finding key (the
    Finding key column, or Rule + Row kind + Row ID).
    """
    split_key = {_norm(h) for h in FINDING_KEY_COLUMNS[1:]}
    for number, row in enumerate(ws.iter_rows(min_row=1, max_row=15, values_only=True), start=1):
        columns: dict[str, int] = {}
        for index, value in enumerate(row, start=1):
            if value not in (None, ""):
                columns.setdefault(_norm(value), index)  # the first column of a header wins
        if "ruleid" in columns and "rule" not in columns:
            columns["rule"] = columns["ruleid"]
        has_key = _norm(FINDING_KEY_HEADER) in columns or (split_key <= columns.keys() and "rule" in columns)
        if _norm(VERDICT_HEADER) in columns and has_key:
            return number, columns
    needed = f"{VERDICT_HEADER!r} and {FINDING_KEY_HEADER!r} (or {', '.join(repr(h) for h in FINDING_KEY_COLUMNS)})"
    raise ConfigError(f"sheet {ws.title!r} has no header row with the columns {needed}", file=str(path))


def _split_key(text: str) -> tuple[str, str, str] | None:
    parts = [p.strip() for p in text.split("|")]
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 and all(parts) else None


def _cell_text(value: Any) -> str:
    return "" if value is None else str(value).strip()


@dataclass
class Reviewed:
    """What the reviewer filled in, read from both sheets."""

    findings: list[ReviewRow]
    samples: list[SampleRow]


def read_review(path: str | Path, *, reviewer: str | None = None) -> tuple[Workbook, list[ReviewRow]]:
    """The reviewed rows of a QA workbook's Findings sheet (rows with a verdict), validated.

    See :func:`read_reviewed` (which also reads the Sample sheet). The workbook is returned open
    (read-only); the caller closes it.
    """
    wb, reviewed = read_reviewed(path, reviewer=reviewer)
    return wb, reviewed.findings


def read_reviewed(path: str | Path, *, reviewer: str | None = None) -> tuple[Workbook, Reviewed]:
    """The answered rows of the Findings and Sample sheets, validated; duplicates merged.

    ``reviewer`` is used for rows whose Reviewer cell is empty (else the workbook's
    last-modified-by). An unknown verdict, a Waived row without a comment, a verdict row without
    its key, two different verdicts for one finding, a comment longer than MAX_COMMENT_CHARS, a
    sheet longer than MAX_SHEET_ROWS, or a verdict that is a formula without a computed value
    are errors naming the cell (exit 2). The workbook is returned open; the caller closes it.
    """
    p = Path(path)
    wb = _open(p)
    try:
        default = _default_reviewer(wb, reviewer)
        findings = _reviewed_rows(wb, p, default)
        samples = _sample_rows(wb, p, default)
        return wb, Reviewed(findings, samples)
    except BaseException:
        wb.close()
        raise


def _default_reviewer(wb: Workbook, reviewer: str | None) -> str | None:
    default_reviewer = (reviewer or "").strip() or None
    if default_reviewer is None:
        modified_by = (wb.properties.lastModifiedBy or "").strip()
        if modified_by.casefold() not in _NOT_A_PERSON:
            default_reviewer = modified_by
    return default_reviewer


def _header_row(ws: Any, path: Path, required: Collection[str]) -> tuple[int, dict[str, int]]:
    """Row number and normalised header -> column (1-based) of the first top row holding ``required``."""
    for number, row in enumerate(ws.iter_rows(min_row=1, max_row=15, values_only=True), start=1):
        columns: dict[str, int] = {}
        for index, value in enumerate(row, start=1):
            if value not in (None, ""):
                columns.setdefault(_norm(value), index)
        if all(_norm(name) in columns for name in required):
            return number, columns
    raise ConfigError(
        f"sheet {ws.title!r} has no header row with the columns {', '.join(repr(h) for h in required)}",
        file=str(path),
    )


def _answered_rows(ws: Any, path: Path, header_row: int) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """(row number, values) of the rows below the header, refusing a sheet over MAX_SHEET_ROWS."""
    # Read-only sheets yield every row from min_row on (missing ones as empty), so counting gives row numbers.
    for number, values in enumerate(
        ws.iter_rows(min_row=header_row + 1, values_only=True), start=header_row + 1
    ):
        if number - header_row > MAX_SHEET_ROWS:
            raise ConfigError(
                f"sheet {ws.title!r} has more than {MAX_SHEET_ROWS:,} rows, more than a QA workbook "
                "may: refusing to read it",
                file=str(path),
            )
        yield number, values


def _formula_verdicts(path: Path, sheet: str, header_row: int, verdict_col: int) -> list[str]:
    """Cells of the verdict column holding a formula (read without cached values).

    A formula that was never calculated (written by a script, not saved by a spreadsheet
    application) has no value: its verdict would be read as empty and skipped unnoticed.
    """
    wb = _open(path, data_only=False)
    try:
        ws = sheet_named(wb, sheet)
        found = []
        letter = get_column_letter(verdict_col)
        for number, row in enumerate(
            ws.iter_rows(min_row=header_row + 1, min_col=verdict_col, max_col=verdict_col),
            start=header_row + 1,
        ):
            if number - header_row > MAX_SHEET_ROWS:
                break
            cell = row[0] if row else None
            if cell is not None and getattr(cell, "data_type", None) == "f":
                found.append(f"{ws.title}!{letter}{number}")
        return found
    finally:
        wb.close()


def _check_formulas(path: Path, ws: Any, header_row: int, verdict_col: int, empty: list[int]) -> None:
    """Empty verdict cells that are uncalculated formulas are an error (exit 2), never skipped."""
    if not empty:
        return
    empty_cells = {f"{ws.title}!{get_column_letter(verdict_col)}{n}" for n in empty}
    formulas = [c for c in _formula_verdicts(path, ws.title, header_row, verdict_col) if c in empty_cells]
    if formulas:
        shown = ", ".join(formulas[:10]) + (f" … and {len(formulas) - 10} more" if len(formulas) > 10 else "")
        raise ConfigError(
            f"{shown}: the verdict is a formula without a computed value (the workbook was not "
            "recalculated and saved by a spreadsheet application); type the verdict, or open and "
            "save the workbook, then import it again",
            file=str(path),
        )


def _comment(raw: Any, where: str, path: Path) -> str:
    comment = _cell_text(raw)
    if len(comment) > MAX_COMMENT_CHARS:
        raise ConfigError(
            f"{where}: the comment has {len(comment):,} characters, more than the "
            f"{MAX_COMMENT_CHARS:,} a verdict comment may",
            file=str(path),
        )
    return comment


def _add(rows: dict[str, Any], row: ReviewRow | SampleRow, path: Path) -> None:
    """Keep ``row`` (a row repeated with the same answer is merged); another answer for its key is an error."""
    previous = rows.get(row.key)
    if previous is not None and (previous.verdict, previous.comment) != (row.verdict, row.comment):
        raise ConfigError(
            f"{row.cell}: {row.key} was already given another verdict at {previous.cell}", file=str(path)
        )
    rows.setdefault(row.key, row)


def _no_reviewer(where: str, path: Path, has_column: bool) -> ConfigError:
    fill = (
        f"fill the {REVIEWER_HEADER} column or pass --reviewer NAME" if has_column else "pass --reviewer NAME"
    )
    return ConfigError(f"{where}: no reviewer: {fill}", file=str(path))


def _reviewed_rows(wb: Workbook, p: Path, default_reviewer: str | None) -> list[ReviewRow]:
    ws = sheet_named(wb, FINDINGS_SHEET)
    if ws is None:
        raise ConfigError(f"no {FINDINGS_SHEET!r} sheet: not a ticket-audit QA workbook", file=str(p))
    header_row, columns = _header(ws, p)
    col = {
        "key": columns.get(_norm(FINDING_KEY_HEADER)),
        "rule_id": columns.get(_norm(FINDING_KEY_COLUMNS[0])),
        "row_kind": columns.get(_norm(FINDING_KEY_COLUMNS[1])),
        "row_id": columns.get(_norm(FINDING_KEY_COLUMNS[2])),
        "verdict": columns[_norm(VERDICT_HEADER)],
        "comment": columns.get(_norm(COMMENT_HEADER)),
        "reviewer": columns.get(_norm(REVIEWER_HEADER)),
        "ticket": columns.get(_norm(TICKET_HEADER)) or columns.get("ticketnumber"),
        "ticket_id": columns.get(_norm(TICKET_ID_HEADER)),
    }
    verdict_col = columns[_norm(VERDICT_HEADER)]
    verdict_letter = get_column_letter(verdict_col)

    rows: dict[str, ReviewRow] = {}
    empty: list[int] = []
    for number, values in _answered_rows(ws, p, header_row):

        def value(name: str, values: tuple[Any, ...] = values) -> Any:
            index = col[name]
            return values[index - 1] if index is not None and index - 1 < len(values) else None

        raw_verdict = _cell_text(value("verdict"))
        if not raw_verdict:
            if any(v not in (None, "") for v in values):
                empty.append(number)
            continue  # not reviewed (or an emptied row)
        where = f"{ws.title}!{verdict_letter}{number}"
        verdict = VERDICT_READINGS.get(_norm(raw_verdict))
        if verdict is None:
            raise ConfigError(
                f"{where}: unknown verdict {raw_verdict!r}; expected Waived, False positive or Confirmed",
                file=str(p),
            )
        # The one-cell key is what the writer made for matching; the split columns are the fallback.
        parts = _split_key(_cell_text(value("key")))
        if parts is None:
            parts = (_cell_text(value("rule_id")), _cell_text(value("row_kind")), _cell_text(value("row_id")))
        rule_id = parts[0].upper()
        row_kind = parts[1].lower().replace(" ", "_")
        row_id = key_text(parts[2])
        if not (rule_id and row_kind and row_id):
            raise ConfigError(
                f"{where}: a verdict is given but the row's finding key ({FINDING_KEY_HEADER}, or "
                f"{', '.join(FINDING_KEY_COLUMNS)}) is not filled",
                file=str(p),
            )
        comment = _comment(value("comment"), where, p)
        who = _cell_text(value("reviewer")) or default_reviewer
        if verdict == "waived" and not comment:
            raise ConfigError(
                f"{where}: a Waived verdict needs a Comment (it becomes the waiver's reason)", file=str(p)
            )
        if not who:
            raise _no_reviewer(where, p, col["reviewer"] is not None)
        ticket = key_text(value("ticket")) or None
        row = ReviewRow(
            rule_id,
            row_kind,
            row_id,
            ticket,
            verdict,
            comment,
            who,
            where,
            key_text(value("ticket_id")) or None,
        )
        _add(rows, row, p)
    _check_formulas(p, ws, header_row, verdict_col, empty)
    return list(rows.values())


def _sample_rows(wb: Workbook, p: Path, default_reviewer: str | None) -> list[SampleRow]:
    """The answered rows of the Sample sheet (none when the workbook has no Sample sheet)."""
    ws = sheet_named(wb, SAMPLE_SHEET)
    if ws is None:
        return []
    header_row, columns = _header_row(ws, p, (VERDICT_HEADER, SAMPLE_KEY_HEADER))
    verdict_col = columns[_norm(VERDICT_HEADER)]
    letter = get_column_letter(verdict_col)

    def get(values: tuple[Any, ...], header: str) -> Any:
        index = columns.get(_norm(header))
        return values[index - 1] if index is not None and index - 1 < len(values) else None

    rows: dict[str, SampleRow] = {}
    empty: list[int] = []
    for number, values in _answered_rows(ws, p, header_row):
        raw = _cell_text(get(values, VERDICT_HEADER))
        if not raw:
            if any(v not in (None, "") for v in values):
                empty.append(number)
            continue
        where = f"{ws.title}!{letter}{number}"
        verdict = SAMPLE_VERDICT_READINGS.get(_norm(raw))
        if verdict is None:
            raise ConfigError(
                f"{where}: unknown answer {raw!r}; expected Correct or Missed problem", file=str(p)
            )
        step, _, ticket_id = _cell_text(get(values, SAMPLE_KEY_HEADER)).partition("|")
        if not (step.strip() and ticket_id.strip()):
            raise ConfigError(
                f"{where}: an answer is given but the row's {SAMPLE_KEY_HEADER} is not filled", file=str(p)
            )
        comment = _comment(get(values, COMMENT_HEADER), where, p)
        who = _cell_text(get(values, REVIEWER_HEADER)) or default_reviewer
        if not who:
            raise _no_reviewer(where, p, _norm(REVIEWER_HEADER) in columns)
        row = SampleRow(
            step.strip(),
            key_text(ticket_id),
            key_text(get(values, TICKET_HEADER)) or None,
            verdict,
            comment,
            who,
            where,
        )
        _add(rows, row, p)
    _check_formulas(p, ws, header_row, verdict_col, empty)
    return list(rows.values())
