"""``findings.csv``: one row per failing check, in a stable order, byte-identical across runs.

Tenant text is made safe for the spreadsheet that opens the file (:mod:`audit.core.safetext`): a
technician, queue, ticket number or message starting with ``= + - @`` (or tab / CR) gets a
leading ``'`` so it shows as typed instead of running as a formula, and characters a text file
should not carry (NUL, other C0 controls, lone surrogates) are shown escaped (``\\x00``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from audit.core.safetext import neutralise_formula, xml_text

__all__ = ["CSV_COLUMNS", "TENANT_TEXT_COLUMNS", "findings_rows", "write_findings_csv"]

#: The contract's columns first (tests/render/test_render_outputs.py pins them), then the
#: identifying extras the engine provides.
CSV_COLUMNS: tuple[str, ...] = (
    "rule_id",
    "step",
    "severity",
    "ticket_id",
    "ticket_number",
    "row_kind",
    "row_id",
    "technician",
    "queue",
    "anchor_date",
    "message",
    "waived",
    "ticket_url",
    "rule_name",
    "weight",
    "technician_id",
    "queue_id",
    "week",
    "false_positive",
)
_SORT = ["rule_id", "ticket_number", "row_kind", "row_id"]
#: Columns holding tenant text (the others are ids, dates, numbers and the rule catalog's words).
TENANT_TEXT_COLUMNS: tuple[str, ...] = ("ticket_number", "technician", "queue", "message")


def _text(value: object) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, pd.Timestamp):
        # Anchor instants are UTC; one fixed format keeps the file byte-identical.
        stamp: str = (
            value.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ") if value.tzinfo else value.isoformat()
        )
        return stamp
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def findings_rows(findings: pd.DataFrame, columns: tuple[str, ...] = CSV_COLUMNS) -> pd.DataFrame:
    """The findings as the CSV shows them: every column as text, in the stable order."""
    frame = findings.copy()
    for column in columns:
        if column not in frame.columns:
            frame[column] = None
    sort = [c for c in _SORT if c in frame.columns]
    frame = frame.sort_values(sort, kind="stable") if len(frame) else frame
    for flag in ("waived", "false_positive"):  # a false positive is also waived: reports name it so
        if flag in columns:
            frame[flag] = frame[flag].map(lambda v: bool(v) if v is not None and v is not pd.NA else False)
    out = pd.DataFrame({c: [_text(v) for v in frame[c].tolist()] for c in columns}, columns=list(columns))
    return out.reset_index(drop=True)


def write_findings_csv(findings: pd.DataFrame, path: Path) -> Path:
    """Write ``findings.csv`` (UTF-8, ``\\n`` line ends, every field as text)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = findings_rows(findings)
    for column in rows.columns:
        safe = [xml_text(v) for v in rows[column].tolist()]
        if column in TENANT_TEXT_COLUMNS:
            safe = [neutralise_formula(v) for v in safe]
        rows[column] = safe
    rows.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")
    return path
