"""The Summary sheet: the tenant and rule set (the document properties, labelled), the overall
counts, and one row per workflow step."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from openpyxl import Workbook

from audit.core.safetext import xml_text
from audit.render.workbook.cells import COMPLIANCE_HEADERS, Cells, compliance
from audit.results.qa_workbook import (
    PROPERTY_LABELS,
    RULESET_PROPERTY,
    SCHEMA_PROPERTY,
    SUMMARY_SHEET,
    TENANT_ID_PROPERTY,
    TENANT_NAME_PROPERTY,
    WORKBOOK_SCHEMA,
)


def document_properties(summary: Mapping[str, Any]) -> dict[str, str]:
    """The ``ticket_audit.*`` custom document properties; the Summary sheet shows them too."""
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


def summary_sheet(wb: Workbook, summary: Mapping[str, Any]) -> None:
    ws = wb.create_sheet(SUMMARY_SHEET)
    c = Cells(ws)
    ws.column_dimensions["A"].width = 24
    ws.column_dimensions["B"].width = 44
    for col in "CDEFGHIJ":
        ws.column_dimensions[col].width = 11
    overall = summary.get("overall", {})
    # Before the first row: a write-only sheet writes its view with that row, later settings are lost.
    ws.freeze_panes = "A2"
    ws.append([c.header("Field"), c.header("Value")])
    for key, value in document_properties(summary).items():
        ws.append([PROPERTY_LABELS[key], c.text(value)])
    ws.append(["Overall score", c.number(summary.get("score"), "0.0")])
    ws.append(["Checks", overall.get("applicable", 0)])
    ws.append(["Failed", overall.get("failed", 0)])
    ws.append(["Waived", overall.get("waived", 0)])
    ws.append(["False positive", overall.get("false_positive", 0)])
    ws.append(["Low sample", bool(overall.get("low_sample"))])
    ws.append(["Noisy rules", c.text(", ".join(summary.get("noisy_rules") or [])) or "none"])
    tickets, compliant, rate = compliance(overall)
    ws.append(["Tickets checked", tickets])
    ws.append(["Tickets that broke no rule", compliant])
    ws.append(["Ticket compliance %", c.number(rate, "0.0")])
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
                *COMPLIANCE_HEADERS,
            )
        ]
    )
    for step, cell in sorted(summary.get("steps", {}).items(), key=lambda kv: kv[1]["order"]):
        measured = recall.get(step) or {}
        tickets, compliant, rate = compliance(cell)
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
