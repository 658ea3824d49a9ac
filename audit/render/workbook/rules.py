"""The Rules sheet: one row per rule, its counts and score, and the reviewers' precision."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from openpyxl import Workbook

from audit.render.workbook.cells import Cells, score_colours, setup_sheet


def rules_sheet(wb: Workbook, summary: Mapping[str, Any]) -> None:
    ws = wb.create_sheet("Rules")
    c = Cells(ws)
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
    setup_sheet(ws, [9, 40, 14, 10, 8, 13, 9, 9, 9, 9, 9, 9, 11, 9, 10, 8, 70, 10], len(headers), len(rules))
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
    score_colours(ws, [headers.index("Score") + 1], len(rules))  # 1-based column
