"""The Waivers sheet: the waivers that need someone."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from openpyxl import Workbook

from audit.render.workbook.cells import Cells, setup_sheet


def waivers_sheet(wb: Workbook, summary: Mapping[str, Any]) -> None:
    """Waivers that need someone: expired ones, and active ones that matched no finding."""
    ws = wb.create_sheet("Waivers")
    c = Cells(ws)
    report = summary.get("waivers") or {}
    rows = [("expired", e) for e in report.get("expired", [])] + [
        ("matches nothing", e) for e in report.get("unmatched", [])
    ]
    headers = ["Problem", "Where", "Waiver", "Expires", "Reason", "Approved by"]
    setup_sheet(ws, [16, 30, 50, 12, 40, 20], len(headers), len(rows))
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
