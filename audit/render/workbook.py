"""``qa-review.xlsx``: the QA reviewers' workbook (openpyxl, write-only mode for speed).

Sheets: Summary, Technicians, Queues, Rules, Findings, Sample, Waivers. The Findings sheet has one
row per failing check with the ticket number linking to the ticket in Autotask and reviewer
columns right after Ticket, Rule and Message (Verdict, a validated list, Comment, Reviewer, and
Reviewed at), pre-filled from the verdicts recorded in the store. The Sample sheet lists tickets
without findings to answer Correct / Missed problem (recall). ``review import`` reads both
back, so the identifying columns and properties are a contract, named in
:mod:`audit.results.qa_workbook`:

* Findings columns, located **by header text** (row 1): ``Finding key`` (``rule_id|row_kind|row_id``),
  ``Rule``, ``Row kind``, ``Row ID``, ``Ticket ID``, ``Technician ID``, ``Queue ID``, ``Week``
  (the last seven are hidden), ``Verdict``, ``Comment``, ``Reviewer``.
* Sample columns: ``Sample key`` (``step|ticket_id``, hidden), ``Verdict``, ``Comment``, ``Reviewer``.
* Tenant and rule set: custom document properties ``ticket_audit.*`` and the same values on the
  Summary sheet (column A label, column B value).

Security: ticket text is attacker-controlled (e-mail subjects become titles). Every text cell
that a spreadsheet could read as a formula (leading ``= + - @``, tab or CR) is written as a string
cell with the quote prefix set, never as a formula; characters XML cannot hold (NUL, BEL, lone
surrogates) are shown escaped (:mod:`audit.core.safetext` holds both rules).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell
from openpyxl.formatting.rule import CellIsRule
from openpyxl.packaging.custom import StringProperty
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.workbook.child import INVALID_TITLE_REGEX
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.datavalidation import DataValidation

from audit.core.safetext import is_formula_like, xml_text
from audit.render.csv_out import CSV_COLUMNS, findings_rows
from audit.results.qa_workbook import (
    FINDINGS_HEADERS,
    FINDINGS_SHEET,
    HIDDEN_FINDINGS_HEADERS,
    PROPERTY_LABELS,
    RULESET_PROPERTY,
    SAMPLE_HEADERS,
    SAMPLE_KEY_HEADER,
    SAMPLE_SHEET,
    SAMPLE_VERDICT_CHOICES,
    SCHEMA_PROPERTY,
    SUMMARY_SHEET,
    TENANT_ID_PROPERTY,
    TENANT_NAME_PROPERTY,
    TICKET_ID_HEADER,
    VERDICT_CHOICES,
    VERDICT_HEADER,
    VERDICT_TEXT,
    WORKBOOK_SCHEMA,
    finding_key,
)

__all__ = ["ReviewState", "is_formula_like", "write_workbook"]

_WIDTHS = (18, 9, 60, 15, 40, 18, 17, 40, 34, 10, 13, 22, 20, 17, 13, 26, 10, 12, 11, 13, 10, 10)
_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="D9D9D9")
_LINK_FONT = Font(color="0563C1", underline="single")
_WRAP = Alignment(wrap_text=False, vertical="top")
_GOOD = PatternFill("solid", fgColor="C6EFCE")
_WARN = PatternFill("solid", fgColor="FFEB9C")
_BAD = PatternFill("solid", fgColor="FFC7CE")


@dataclass
class ReviewState:
    """What the store knows of earlier reviews, to pre-fill the workbook."""

    #: Finding key -> verdict record (audit.results.verdicts.load_verdicts).
    verdicts: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: ``step|ticket_id`` -> Sample answer record (audit.results.verdicts.load_samples).
    answers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: The Sample sheet's rows (audit.results.recall.draw_sample); None: no Sample sheet.
    sample: pd.DataFrame | None = None


def _excused(waived: bool, false_positive: bool) -> str | None:
    """The Waived cell: a false positive is named so, never "waived"."""
    return "false positive" if false_positive else ("waived" if waived else None)


class _Cells:
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


def _setup_sheet(ws: WriteOnlyWorksheet, widths: Sequence[int], ncols: int, nrows: int) -> None:
    for index, width in enumerate(widths[:ncols], start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(ncols)}{max(1, nrows + 1)}"


def _score_colours(ws: WriteOnlyWorksheet, columns: Iterable[int], nrows: int) -> None:
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


def _props(summary: Mapping[str, Any]) -> dict[str, str]:
    tenant = summary.get("tenant", {})
    period = summary.get("period", {})
    values = {
        SCHEMA_PROPERTY: WORKBOOK_SCHEMA,
        TENANT_NAME_PROPERTY: tenant.get("name"),
        TENANT_ID_PROPERTY: tenant.get("id"),
        "ticket_audit.zone": tenant.get("zone"),
        "ticket_audit.web_url": tenant.get("web_url"),
        RULESET_PROPERTY: tenant.get("ruleset_version"),
        "ticket_audit.period_from": period.get("from"),
        "ticket_audit.period_to": period.get("to"),
        "ticket_audit.period_timezone": period.get("timezone", "UTC"),
        "ticket_audit.as_of": summary.get("as_of"),
    }
    return {k: "" if v is None else xml_text(str(v)) for k, v in values.items()}


def _summary_sheet(wb: Workbook, summary: Mapping[str, Any]) -> None:
    ws = wb.create_sheet(SUMMARY_SHEET)
    c = _Cells(ws)
    ws.column_dimensions["A"].width = 24
    ws.column_dimensions["B"].width = 44
    for col in "CDEFGHIJ":
        ws.column_dimensions[col].width = 11
    overall = summary.get("overall", {})
    # Before the first row: a write-only sheet writes its view with that row, later settings are lost.
    ws.freeze_panes = "A2"
    ws.append([c.header("Field"), c.header("Value")])
    for key, value in _props(summary).items():
        ws.append([PROPERTY_LABELS[key], c.text(value)])
    ws.append(["Overall score", c.number(summary.get("score"), "0.0")])
    ws.append(["Checks", overall.get("applicable", 0)])
    ws.append(["Failed", overall.get("failed", 0)])
    ws.append(["Waived", overall.get("waived", 0)])
    ws.append(["False positive", overall.get("false_positive", 0)])
    ws.append(["Low sample", bool(overall.get("low_sample"))])
    ws.append(["Noisy rules", c.text(", ".join(summary.get("noisy_rules") or [])) or "none"])
    compliance = _compliance(overall)
    ws.append(["Tickets checked", compliance[0]])
    ws.append(["Tickets that broke no rule", compliance[1]])
    ws.append(["Ticket compliance %", c.number(compliance[2], "0.0")])
    ws.append([])
    recall = summary.get("recall") or {}
    ws.append(
        [
            c.header(h)
            for h in (
                "Step",
                "Label",
                "Score",
                "Checks",
                "Passed",
                "Failed",
                "Waived",
                "False positive",
                "Recall",
                "Sample answers",
                *_COMPLIANCE_HEADERS,
            )
        ]
    )
    for step, cell in sorted(summary.get("steps", {}).items(), key=lambda kv: kv[1]["order"]):
        measured = recall.get(step) or {}
        tickets, compliant, rate = _compliance(cell)
        ws.append(
            [
                step,
                cell["label"],
                c.number(cell["score"], "0.0"),
                cell["applicable"],
                cell["passed"],
                cell["failed"],
                cell["waived"],
                cell.get("false_positive", 0),
                c.number(measured.get("recall"), "0%"),
                measured.get("answered", 0),
                tickets,
                compliant,
                c.number(rate, "0.0"),
            ]
        )


#: Ticket compliance (scoring's ``ticket_compliance`` cell) as three columns.
_COMPLIANCE_HEADERS = ("Tickets", "Tickets OK", "Ticket compliance %")


def _compliance(cell: Mapping[str, Any]) -> tuple[int | None, int | None, float | None]:
    tc = cell.get("ticket_compliance") or {}
    return tc.get("tickets"), tc.get("compliant"), tc.get("rate")


def _entity_sheet(
    wb: Workbook,
    title: str,
    entities: Sequence[Mapping[str, Any]],
    steps: Sequence[str],
    step_labels: Mapping[str, str],
) -> None:
    ws = wb.create_sheet(title)
    c = _Cells(ws)
    headers = [
        "Name",
        "ID",
        "Score",
        "Checks",
        "Passed",
        "Failed",
        "Waived",
        "False positive",
        "Low sample",
        "Previous score",
        "Change",
        *[f"{step_labels.get(s, s)} score" for s in steps],
        *_COMPLIANCE_HEADERS,
    ]
    _setup_sheet(
        ws,
        [28, 12, 9, 9, 9, 9, 9, 9, 11, 10, 9, *([14] * len(steps)), 9, 10, 12],
        len(headers),
        len(entities),
    )
    ws.append([c.header(h) for h in headers])
    for e in entities:
        step_cells = [c.number(e["steps"][s]["score"], "0.0") if s in e["steps"] else None for s in steps]
        tickets, compliant, rate = _compliance(e)
        ws.append(
            [
                c.text(e["name"]),
                e.get("id"),
                c.number(e["score"], "0.0"),
                e["applicable"],
                e["passed"],
                e["failed"],
                e["waived"],
                e.get("false_positive", 0),
                bool(e["low_sample"]),
                c.number(e.get("previous_score"), "0.0"),
                c.number(e.get("delta"), "+0.0;-0.0;0.0"),
                *step_cells,
                tickets,
                compliant,
                c.number(rate, "0.0"),
            ]
        )
    _score_colours(ws, [3, *range(12, 12 + len(steps))], len(entities))


def _rules_sheet(wb: Workbook, summary: Mapping[str, Any]) -> None:
    ws = wb.create_sheet("Rules")
    c = _Cells(ws)
    headers = [
        "Rule",
        "Title",
        "Step",
        "Severity",
        "Weight",
        "Status",
        "Checks",
        "Passed",
        "Failed",
        "Waived",
        "False positive",
        "Score",
        "Low sample",
        "Verdicts",
        "Precision",
        "Noisy",
        "Rationale",
        "Points lost",
    ]
    rules = summary.get("rules", {})
    precision = summary.get("precision") or {}
    _setup_sheet(ws, [9, 40, 14, 10, 8, 13, 9, 9, 9, 9, 9, 9, 11, 9, 10, 8, 70, 10], len(headers), len(rules))
    ws.append([c.header(h) for h in headers])
    for rid, r in sorted(rules.items()):
        measured = precision.get(rid) or {}
        ws.append(
            [
                rid,
                c.text(r["title"]),
                r["step"],
                r["severity"],
                r["weight"],
                r["status"],
                r["applicable"],
                r["passed"],
                r["failed"],
                r["waived"],
                r.get("false_positive", 0),
                c.number(r["score"], "0.0"),
                bool(r["low_sample"]),
                measured.get("reviewed", 0),
                c.number(measured.get("precision"), "0%"),
                "noisy" if measured.get("noisy") else None,
                c.text(r.get("rationale")),
                r.get("cost"),
            ]
        )
    _score_colours(ws, [11], len(rules))


def _verdict_cells(c: _Cells, record: Mapping[str, Any] | None) -> list[Any]:
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


def _findings_sheet(
    wb: Workbook,
    findings: pd.DataFrame,
    rule_titles: Mapping[str, str],
    verdicts: Mapping[str, Mapping[str, Any]],
) -> None:
    ws = wb.create_sheet(FINDINGS_SHEET)
    c = _Cells(ws)
    # The CSV's order and text (plus the ticket title): Findings rows equal findings.csv rows.
    rows = findings_rows(findings, (*CSV_COLUMNS, "ticket_title"))
    n = len(rows)
    _setup_sheet(ws, _WIDTHS, len(FINDINGS_HEADERS), n)
    ws.freeze_panes = "B2"  # the header and the Ticket column stay in view
    first_hidden = FINDINGS_HEADERS.index(HIDDEN_FINDINGS_HEADERS[0]) + 1
    for col in range(first_hidden, len(FINDINGS_HEADERS) + 1):
        ws.column_dimensions[get_column_letter(col)].hidden = True
    _list_validation(ws, get_column_letter(FINDINGS_HEADERS.index(VERDICT_HEADER) + 1), n, VERDICT_CHOICES)
    ws.append([c.header(h) for h in FINDINGS_HEADERS])
    anchors = pd.to_datetime(rows["anchor_date"].replace("", None), utc=True, errors="coerce")
    cols = {name: rows[name].tolist() for name in rows.columns}
    anchor_list = anchors.tolist()
    false_positive = cols.get("false_positive") or [""] * n
    for i in range(n):
        rid, kind, row_id = cols["rule_id"][i], cols["row_kind"][i], cols["row_id"][i]
        key = finding_key(rid, kind, row_id)
        ws.append(
            [
                c.link(cols["ticket_number"][i], cols["ticket_url"][i]),
                rid,
                c.text(cols["message"][i]),
                *_verdict_cells(c, verdicts.get(key)),
                c.text(cols["ticket_title"][i]) or None,
                c.text(rule_titles.get(rid, "")),
                cols["severity"][i],
                cols["step"][i],
                c.text(cols["technician"][i]) or None,
                c.text(cols["queue"][i]) or None,
                c.date(anchor_list[i]),
                _excused(cols["waived"][i] == "true", false_positive[i] == "true"),
                c.text(key),
                c.text(kind),
                c.text(row_id),
                c.text(cols["ticket_id"][i]),
                c.text(cols["technician_id"][i]) or None,
                c.text(cols["queue_id"][i]) or None,
                c.text(cols["week"][i]),
            ]
        )


def _list_validation(ws: WriteOnlyWorksheet, column: str, n: int, choices: Sequence[str]) -> None:
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


def _sample_sheet(
    wb: Workbook,
    sample: pd.DataFrame,
    answers: Mapping[str, Mapping[str, Any]],
    step_labels: Mapping[str, str],
) -> None:
    """Tickets without findings: did the step miss a problem? (answers give the recall)."""
    ws = wb.create_sheet(SAMPLE_SHEET)
    c = _Cells(ws)
    n = len(sample)
    _setup_sheet(ws, [18, 14, 15, 40, 18, 17, 50, 20, 11], len(SAMPLE_HEADERS), n)
    ws.freeze_panes = "B2"
    for name in (SAMPLE_KEY_HEADER, TICKET_ID_HEADER):
        ws.column_dimensions[get_column_letter(SAMPLE_HEADERS.index(name) + 1)].hidden = True
    _list_validation(
        ws, get_column_letter(SAMPLE_HEADERS.index(VERDICT_HEADER) + 1), n, SAMPLE_VERDICT_CHOICES
    )
    ws.append([c.header(h) for h in SAMPLE_HEADERS])
    for row in sample.to_dict("records"):
        key = f"{row['step']}|{row['ticket_id']}"
        ws.append(
            [
                c.link(row["ticket_number"], row["ticket_url"]),
                c.text(step_labels.get(row["step"], row["step"])),
                *_verdict_cells(c, answers.get(key)),
                c.text(row["ticket_title"]) or None,
                c.text(key),
                c.text(row["ticket_id"]),
            ]
        )


def _waivers_sheet(wb: Workbook, summary: Mapping[str, Any]) -> None:
    """Waivers that need someone: expired ones, and active ones that matched no finding."""
    ws = wb.create_sheet("Waivers")
    c = _Cells(ws)
    report = summary.get("waivers") or {}
    rows = [("expired", e) for e in report.get("expired", [])] + [
        ("matches nothing", e) for e in report.get("unmatched", [])
    ]
    headers = ["Problem", "Where", "Waiver", "Expires", "Reason", "Approved by"]
    _setup_sheet(ws, [16, 30, 50, 12, 40, 20], len(headers), len(rows))
    ws.append([c.header(h) for h in headers])
    for problem, entry in rows:
        ws.append(
            [
                problem,
                c.text(entry.get("where")),
                c.text(entry.get("waiver")),
                c.text(entry.get("expires")),
                c.text(entry.get("reason")),
                c.text(entry.get("approved_by")),
            ]
        )


def _safe_title(text: str) -> str:
    title: str = INVALID_TITLE_REGEX.sub("_", text)
    return title[:31]


def write_workbook(
    summary: Mapping[str, Any], findings: pd.DataFrame, path: Path, review: ReviewState | None = None
) -> Path:
    """Write ``qa-review.xlsx`` from the summary document and the period's findings, pre-filled
    from ``review`` (the verdicts and Sample answers recorded in the store)."""
    review = review or ReviewState()
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook(write_only=True)
    for key, value in _props(summary).items():
        wb.custom_doc_props.append(StringProperty(name=key, value=value))
    wb.properties.title = _safe_title(f"QA review {summary.get('period', {}).get('label', '')}")
    wb.properties.creator = "ticket-audit"
    # Fixed timestamps: the workbook's own dates would otherwise change at every run.
    fixed = datetime(2000, 1, 1)
    wb.properties.created = fixed
    wb.properties.modified = fixed
    steps = [s for s, _ in sorted(summary.get("steps", {}).items(), key=lambda kv: kv[1]["order"])]
    labels = {s: v["label"] for s, v in summary.get("steps", {}).items()}
    _summary_sheet(wb, summary)
    _entity_sheet(wb, "Technicians", summary.get("technicians", []), steps, labels)
    _entity_sheet(wb, "Queues", summary.get("queues", []), steps, labels)
    _rules_sheet(wb, summary)
    _findings_sheet(
        wb, findings, {rid: r["title"] for rid, r in summary.get("rules", {}).items()}, review.verdicts
    )
    if review.sample is not None:
        _sample_sheet(wb, review.sample, review.answers, labels)
    _waivers_sheet(wb, summary)
    wb.save(path)
    return path
