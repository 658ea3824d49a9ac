"""The Findings sheet: one row per failing check, in findings.csv's order, with the reviewer columns
(pre-filled from the recorded verdicts) after Ticket, Rule and Message, and the identifying
columns ``review import`` reads back hidden at the end."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from audit.render.csv_out import CSV_COLUMNS, findings_rows
from audit.render.workbook.cells import Cells, list_validation, setup_sheet, verdict_cells
from audit.results.qa_workbook import (
    FINDINGS_HEADERS,
    FINDINGS_SHEET,
    HIDDEN_FINDINGS_HEADERS,
    VERDICT_CHOICES,
    VERDICT_HEADER,
    finding_key,
)

_WIDTHS = (18, 9, 60, 15, 40, 18, 17, 40, 34, 10, 13, 22, 20, 17, 13, 26, 10, 12, 11, 13, 10, 10)


def _excused(waived: bool, false_positive: bool) -> str | None:
    """The Waived cell: a false positive is named so, never "waived"."""
    return "false positive" if false_positive else ("waived" if waived else None)


def findings_sheet(
    wb: Workbook,
    findings: pd.DataFrame,
    rule_titles: Mapping[str, str],
    verdicts: Mapping[str, Mapping[str, Any]],
) -> None:
    ws = wb.create_sheet(FINDINGS_SHEET)
    c = Cells(ws)
    # The CSV's order and text (plus the ticket title): Findings rows equal findings.csv rows.
    rows = findings_rows(findings, (*CSV_COLUMNS, "ticket_title"))
    n = len(rows)
    setup_sheet(ws, _WIDTHS, len(FINDINGS_HEADERS), n)
    ws.freeze_panes = "B2"  # the header and the Ticket column stay in view
    first_hidden = FINDINGS_HEADERS.index(HIDDEN_FINDINGS_HEADERS[0]) + 1
    for col in range(first_hidden, len(FINDINGS_HEADERS) + 1):
        ws.column_dimensions[get_column_letter(col)].hidden = True
    list_validation(ws, get_column_letter(FINDINGS_HEADERS.index(VERDICT_HEADER) + 1), n, VERDICT_CHOICES)
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
                *verdict_cells(c, verdicts.get(key)),
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
