"""The Technicians and Queues sheets: one row per technician or queue, its score overall and per
step, against the previous period."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from openpyxl import Workbook

from audit.render.workbook.cells import COMPLIANCE_HEADERS, Cells, compliance, score_colours, setup_sheet


def entity_sheet(
    wb: Workbook,
    title: str,
    entities: Sequence[Mapping[str, Any]],
    steps: Sequence[str],
    step_labels: Mapping[str, str],
) -> None:
    ws = wb.create_sheet(title)
    c = Cells(ws)
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
        *COMPLIANCE_HEADERS,
    ]
    setup_sheet(
        ws,
        [28, 12, 9, 9, 9, 9, 9, 9, 11, 10, 9, *([14] * len(steps)), 9, 10, 12],
        len(headers),
        len(entities),
    )
    ws.append([c.header(h) for h in headers])
    for e in entities:
        step_cells = [c.number(e["steps"][s]["score"], "0.0") if s in e["steps"] else None for s in steps]
        tickets, compliant, rate = compliance(e)
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
    score_colours(ws, [3, *range(12, 12 + len(steps))], len(entities))
