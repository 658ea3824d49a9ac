"""The QA workbook's contract: the names ``qa-review.xlsx`` is written with and read back by.

:mod:`audit.render.workbook` writes the workbook from these names; :mod:`audit.results.review_reader`
finds the reviewers' answers by them (``review import``). Columns are located by header text,
never by position, so the order here is only the order a new workbook is written in.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "COMMENT_HEADER",
    "FINDINGS_HEADERS",
    "FINDINGS_SHEET",
    "FINDING_KEY_COLUMNS",
    "FINDING_KEY_HEADER",
    "HIDDEN_FINDINGS_HEADERS",
    "PROPERTY_LABELS",
    "PROPERTY_NAMES",
    "REVIEWED_AT_HEADER",
    "REVIEWER_HEADER",
    "RULESET_LABELS",
    "RULESET_PROPERTY",
    "SAMPLE_HEADERS",
    "SAMPLE_KEY_HEADER",
    "SAMPLE_SHEET",
    "SAMPLE_VERDICT_CHOICES",
    "SAMPLE_VERDICT_READINGS",
    "SCHEMA_PROPERTY",
    "SUMMARY_SHEET",
    "TENANT_ID_LABELS",
    "TENANT_ID_PROPERTY",
    "TENANT_LABELS",
    "TENANT_NAME_PROPERTY",
    "TICKET_HEADER",
    "TICKET_ID_HEADER",
    "VERDICT_CHOICES",
    "VERDICT_HEADER",
    "VERDICT_READINGS",
    "VERDICT_TEXT",
    "WORKBOOK_SCHEMA",
    "finding_key",
    "normalise_header",
]

#: The layout version, in the ``ticket_audit.schema`` property; the reader accepts this prefix.
WORKBOOK_SCHEMA = "ticket-audit/qa-review/1"

# --- sheets --------------------------------------------------------------------------------------

#: Sheet holding one row per finding.
FINDINGS_SHEET = "Findings"
#: Sheet holding the run's identity (label in one cell, value in the next cell to its right).
SUMMARY_SHEET = "Summary"
#: Sheet of tickets without findings, answered Correct / Missed problem (recall).
SAMPLE_SHEET = "Sample"

# --- columns read back ---------------------------------------------------------------------------

#: Headers of the finding key columns, in (rule_id, row_kind, row_id) order ("Rule ID" is accepted for "Rule").
FINDING_KEY_COLUMNS: tuple[str, str, str] = ("Rule", "Row kind", "Row ID")
#: One-cell form of the key, ``rule_id|row_kind|row_id``; preferred when present.
FINDING_KEY_HEADER = "Finding key"
TICKET_HEADER = "Ticket"
#: The audited ticket's id (a row's own id is a note's or time entry's for those row kinds).
TICKET_ID_HEADER = "Ticket ID"
VERDICT_HEADER = "Verdict"
COMMENT_HEADER = "Comment"
#: Optional: who reviewed the row (else ``--reviewer`` or the workbook's last-modified-by).
REVIEWER_HEADER = "Reviewer"
#: Written by the report from the verdicts store (when the verdict was imported); never read back.
REVIEWED_AT_HEADER = "Reviewed at"
#: One-cell key of a Sample row, ``step|ticket_id``.
SAMPLE_KEY_HEADER = "Sample key"

_RULE, _ROW_KIND, _ROW_ID = FINDING_KEY_COLUMNS

#: The Findings sheet. What a reviewer works with comes first (Ticket stays frozen on the
#: left); then the context; then the hidden columns the import matches rows by.
HIDDEN_FINDINGS_HEADERS: tuple[str, ...] = (
    FINDING_KEY_HEADER,
    _ROW_KIND,
    _ROW_ID,
    TICKET_ID_HEADER,
    "Technician ID",
    "Queue ID",
    "Week",
)
FINDINGS_HEADERS: tuple[str, ...] = (
    TICKET_HEADER,
    _RULE,
    "Message",
    VERDICT_HEADER,
    COMMENT_HEADER,
    REVIEWER_HEADER,
    REVIEWED_AT_HEADER,
    "Ticket title",
    "Rule title",
    "Severity",
    "Step",
    "Technician",
    "Queue",
    "Anchor date",
    "Waived",
    *HIDDEN_FINDINGS_HEADERS,
)
#: The Sample sheet (the key and the ticket id are hidden).
SAMPLE_HEADERS: tuple[str, ...] = (
    TICKET_HEADER,
    "Step",
    VERDICT_HEADER,
    COMMENT_HEADER,
    REVIEWER_HEADER,
    REVIEWED_AT_HEADER,
    "Ticket title",
    SAMPLE_KEY_HEADER,
    TICKET_ID_HEADER,
)

# --- verdicts ------------------------------------------------------------------------------------

#: The Verdict cells' drop-down choices.
VERDICT_CHOICES: tuple[str, ...] = ("Confirmed", "False positive", "Waived")
SAMPLE_VERDICT_CHOICES: tuple[str, ...] = ("Correct", "Missed problem")
#: Stored verdict -> the text the Verdict cell shows (pre-filled from the store).
VERDICT_TEXT: dict[str, str] = {
    "confirmed": "Confirmed",
    "false_positive": "False positive",
    "waived": "Waived",
    "correct": "Correct",
    "missed": "Missed problem",
}
#: Verdict cell text (normalised, :func:`normalise_header`) -> stored verdict; a reviewer may type
#: a short form.
VERDICT_READINGS: dict[str, str] = {
    "waived": "waived",
    "waive": "waived",
    "waiver": "waived",
    "falsepositive": "false_positive",
    "fp": "false_positive",
    "confirmed": "confirmed",
    "confirm": "confirmed",
}
SAMPLE_VERDICT_READINGS: dict[str, str] = {
    "correct": "correct",
    "missedproblem": "missed",
    "missed": "missed",
}

# --- the run's identity --------------------------------------------------------------------------

SCHEMA_PROPERTY = "ticket_audit.schema"
TENANT_NAME_PROPERTY = "ticket_audit.tenant_name"
TENANT_ID_PROPERTY = "ticket_audit.tenant_id"
RULESET_PROPERTY = "ticket_audit.ruleset_version"
#: Custom document properties (all strings) -> their label on the Summary sheet, in order.
PROPERTY_LABELS: dict[str, str] = {
    SCHEMA_PROPERTY: "Workbook schema",
    TENANT_NAME_PROPERTY: "Tenant",
    TENANT_ID_PROPERTY: "Tenant ID",
    "ticket_audit.zone": "Zone",
    "ticket_audit.web_url": "Web URL",
    RULESET_PROPERTY: "Rule-set version",
    "ticket_audit.period_from": "Period from",
    "ticket_audit.period_to": "Period to",
    "ticket_audit.period_timezone": "Time zone",
    "ticket_audit.as_of": "As of",
}
PROPERTY_NAMES: tuple[str, ...] = tuple(PROPERTY_LABELS)
#: Summary-sheet labels (normalised) the reader takes the identity from; the older spellings
#: are accepted for workbooks written by earlier versions.
TENANT_LABELS: frozenset[str] = frozenset({"tenant", "tenantname"})
TENANT_ID_LABELS: frozenset[str] = frozenset({"tenantid"})
RULESET_LABELS: frozenset[str] = frozenset({"rulesetversion", "rulesversion"})


def normalise_header(value: Any) -> str:
    """A header or verdict as compared: lower case, letters and digits only ("Row ID" -> "rowid")."""
    return re.sub(r"[^a-z0-9]", "", str(value or "").casefold())


def finding_key(rule_id: str, row_kind: str, row_id: Any) -> str:
    """The key ``review import`` matches verdicts on: ``rule_id|row_kind|row_id``."""
    return f"{rule_id}|{row_kind}|{row_id}"
