"""The Sample sheet: tickets without findings, for reviewers to answer whether the step missed a
problem (the answers give the recall)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from audit.render.workbook.cells import Cells, list_validation, setup_sheet, verdict_cells
from audit.results.qa_workbook import (
    SAMPLE_HEADERS,
    SAMPLE_KEY_HEADER,
    SAMPLE_SHEET,
    SAMPLE_VERDICT_CHOICES,
    TICKET_ID_HEADER,
    VERDICT_HEADER,
)


def sample_sheet(
    wb: Workbook,
    sample: pd.DataFrame,
    answers: Mapping[str, Mapping[str, Any]],
    step_labels: Mapping[str, str],
) -> None:
    """Tickets without findings: did the step miss a problem? (answers give the recall)."""
    ws = wb.create_sheet(SAMPLE_SHEET)
    c = Cells(ws)
    n = len(sample)
    setup_sheet(ws, [18, 14, 15, 40, 18, 17, 50, 20, 11], len(SAMPLE_HEADERS), n)
    ws.freeze_panes = "B2"
    for name in (SAMPLE_KEY_HEADER, TICKET_ID_HEADER):
        ws.column_dimensions[get_column_letter(SAMPLE_HEADERS.index(name) + 1)].hidden = True
    list_validation(
        ws, get_column_letter(SAMPLE_HEADERS.index(VERDICT_HEADER) + 1), n, SAMPLE_VERDICT_CHOICES
    )
    ws.append([c.header(h) for h in SAMPLE_HEADERS])
    for row in sample.to_dict("records"):
        key = f"{row['step']}|{row['ticket_id']}"
        ws.append(
            [
                c.link(row["ticket_number"], row["ticket_url"]),
                c.text(step_labels.get(row["step"], row["step"])),
                *verdict_cells(c, answers.get(key)),
                c.text(row["ticket_title"]) or None,
                c.text(key),
                c.text(row["ticket_id"]),
            ]
        )
