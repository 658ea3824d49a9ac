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

One module per sheet; this one puts them together (:func:`write_workbook`).

    cells       what the sheets share: the cell builder, styles, widths, score colours, verdict columns
    summary     Summary (and the document properties it shows)
    entities    Technicians and Queues
    rules       Rules
    findings    Findings
    sample      Sample
    waivers     Waivers
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.packaging.custom import StringProperty
from openpyxl.workbook.child import INVALID_TITLE_REGEX

from audit.render.workbook.entities import entity_sheet
from audit.render.workbook.findings import findings_sheet
from audit.render.workbook.rules import rules_sheet
from audit.render.workbook.sample import sample_sheet
from audit.render.workbook.summary import document_properties, summary_sheet
from audit.render.workbook.waivers import waivers_sheet

__all__ = ["ReviewState", "write_workbook"]


@dataclass
class ReviewState:
    """What the store knows of earlier reviews, to pre-fill the workbook."""

    #: Finding key -> verdict record (audit.results.verdicts.load_verdicts).
    verdicts: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: ``step|ticket_id`` -> Sample answer record (audit.results.verdicts.load_samples).
    answers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: The Sample sheet's rows (audit.results.recall.draw_sample); None: no Sample sheet.
    sample: pd.DataFrame | None = None


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
    for key, value in document_properties(summary).items():
        wb.custom_doc_props.append(StringProperty(name=key, value=value))
    wb.properties.title = _safe_title(f"QA review {summary.get('period', {}).get('label', '')}")
    wb.properties.creator = "ticket-audit"
    # Fixed timestamps: the workbook's own dates would otherwise change at every run.
    fixed = datetime(2000, 1, 1)
    wb.properties.created = fixed
    wb.properties.modified = fixed
    steps = [s for s, _ in sorted(summary.get("steps", {}).items(), key=lambda kv: kv[1]["order"])]
    labels = {s: v["label"] for s, v in summary.get("steps", {}).items()}
    summary_sheet(wb, summary)
    entity_sheet(wb, "Technicians", summary.get("technicians", []), steps, labels)
    entity_sheet(wb, "Queues", summary.get("queues", []), steps, labels)
    rules_sheet(wb, summary)
    findings_sheet(
        wb, findings, {rid: r["title"] for rid, r in summary.get("rules", {}).items()}, review.verdicts
    )
    if review.sample is not None:
        sample_sheet(wb, review.sample, review.answers, labels)
    waivers_sheet(wb, summary)
    wb.save(path)
    return path
