"""The QA review loop: reviewers' verdicts in ``qa-review.xlsx`` come back into the audit.

A reviewer fills the Findings sheet's *Verdict* (and *Comment*, optionally *Reviewer*) cells:

* ``Waived`` — the finding is a real exception the desk accepts: a waiver is appended to the
  waivers file (the comment is the reason, the reviewer the approver, expiring after
  ``[waivers] default_expiry_days``), so the next run shows it as waived and counts it passed;
* ``False positive`` / ``Confirmed`` — recorded per rule and finding in the verdicts store
  (``<store>/reviews/verdicts.json``), from which :func:`rule_precision` measures each rule.

Rows are matched by the finding key columns (rule id, row kind, row id), never by position, so
a reviewer may sort, filter, delete or edit rows freely; rows without a verdict are ignored.
Importing the same workbook twice changes nothing the second time. A workbook of another tenant
or another rule-set version is refused (exit 2): its keys would point at other findings.

The tenant is compared by id (``ticket_audit.tenant_id`` / Summary "Tenant ID": the zone name,
else the web URL — :func:`audit.app.pipeline.tenant_id`), not by display name: two tenants may both
be called "Sandbox". The display name is compared only where an id is missing on one side — a
workbook written before ids were recorded, or a store with no snapshot yet (nothing else to
compare then). Rows whose ticket is not among the store's tickets are skipped (reported), so
verdicts about another tenant's findings never count in a rule's precision.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import zipfile
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.workbook.workbook import Workbook

from audit.core.errors import ConfigError
from audit.results.waivers import Waiver, append_waivers, key_text

__all__ = [
    "COMMENT_HEADER",
    "FINDINGS_SHEET",
    "FINDING_KEY_COLUMNS",
    "FINDING_KEY_HEADER",
    "MAX_COMMENT_CHARS",
    "MAX_SHEET_ROWS",
    "MAX_WORKBOOK_UNCOMPRESSED",
    "REVIEWED_AT_HEADER",
    "REVIEWER_HEADER",
    "SAMPLES_FILE",
    "SAMPLE_KEY_HEADER",
    "SAMPLE_SHEET",
    "SAMPLE_VERDICTS",
    "RULESET_LABELS",
    "RULESET_PROPERTY",
    "SCHEMA_PREFIX",
    "SCHEMA_PROPERTY",
    "SUMMARY_SHEET",
    "TENANT_ID_LABELS",
    "TENANT_ID_PROPERTY",
    "TENANT_LABELS",
    "TENANT_NAME_PROPERTY",
    "TENANT_PROPERTIES",
    "TICKET_HEADER",
    "VERDICTS",
    "VERDICTS_FILE",
    "VERDICT_HEADER",
    "ImportReport",
    "ReviewRow",
    "import_review",
    "load_verdicts",
    "load_samples",
    "read_review",
    "review_lock",
    "rule_precision",
    "SampleRow",
    "samples_path",
    "verdicts_path",
]

# --- the workbook contract (shared with audit/render/workbook.py) ----------------------------

#: Sheet holding one row per finding.
FINDINGS_SHEET = "Findings"
#: Sheet holding the run's identity (label in one cell, value in the next cell to its right).
SUMMARY_SHEET = "Summary"
#: Headers of the finding key columns, in (rule_id, row_kind, row_id) order ("Rule ID" is accepted for "Rule").
FINDING_KEY_COLUMNS: tuple[str, str, str] = ("Rule", "Row kind", "Row ID")
#: One-cell form of the key, ``rule_id|row_kind|row_id``; preferred when present.
FINDING_KEY_HEADER = "Finding key"
TICKET_HEADER = "Ticket"
VERDICT_HEADER = "Verdict"
COMMENT_HEADER = "Comment"
#: Optional: who reviewed the row (else ``--reviewer`` or the workbook's last-modified-by).
REVIEWER_HEADER = "Reviewer"
#: Written by the report from the verdicts store (when the verdict was imported); never read back.
REVIEWED_AT_HEADER = "Reviewed at"
#: Sheet of tickets without findings, answered Correct / Missed problem (recall).
SAMPLE_SHEET = "Sample"
#: One-cell key of a Sample row, ``step|ticket_id``.
SAMPLE_KEY_HEADER = "Sample key"
#: Labels (normalised: lower case, letters and digits only) of the identity cells on the Summary sheet.
TENANT_LABELS: frozenset[str] = frozenset({"tenant", "tenantname"})
TENANT_ID_LABELS: frozenset[str] = frozenset({"tenantid"})
RULESET_LABELS: frozenset[str] = frozenset({"rulesetversion", "rulesversion"})
#: Custom document properties carrying the same identity (read first; audit/render/workbook.py writes them).
TENANT_NAME_PROPERTY = "ticket_audit.tenant_name"
TENANT_ID_PROPERTY = "ticket_audit.tenant_id"
TENANT_PROPERTIES: tuple[str, ...] = (TENANT_NAME_PROPERTY, TENANT_ID_PROPERTY)
RULESET_PROPERTY = "ticket_audit.ruleset_version"
SCHEMA_PROPERTY = "ticket_audit.schema"
#: Workbook layouts this reader understands (``ticket_audit.schema`` property).
SCHEMA_PREFIX = "ticket-audit/qa-review/1"

#: Verdict cell text (normalised) -> stored verdict.
VERDICTS: dict[str, str] = {
    "waived": "waived",
    "waive": "waived",
    "waiver": "waived",
    "falsepositive": "false_positive",
    "fp": "false_positive",
    "confirmed": "confirmed",
    "confirm": "confirmed",
}
#: Sample verdict cell text (normalised) -> stored answer.
SAMPLE_VERDICTS: dict[str, str] = {"correct": "correct", "missedproblem": "missed", "missed": "missed"}
#: Where the verdicts live inside the store folder (outside snapshots/, which the store rotates).
VERDICTS_FILE = Path("reviews") / "verdicts.json"
#: The Sample sheet's answers, keyed ``step|ticket_id``.
SAMPLES_FILE = Path("reviews") / "samples.json"
#: Limits on an imported workbook (a zip bomb must not exhaust memory or grow the store):
#: the uncompressed size of all its parts, the rows of one sheet, the characters of a comment.
MAX_WORKBOOK_UNCOMPRESSED = 256 * 1024 * 1024
MAX_SHEET_ROWS = 250_000
MAX_COMMENT_CHARS = 2_000
_VERDICTS_FORMAT = 1
# openpyxl stamps its own name as the creator: that is no reviewer.
_NOT_A_PERSON = frozenset({"", "openpyxl", "ticket-audit"})


def _norm(value: Any) -> str:
    return re.sub(r"[^a-z0-9]", "", str(value or "").casefold())


def verdicts_path(store_dir: str | Path) -> Path:
    """The verdicts store of a snapshot store folder."""
    return Path(store_dir) / VERDICTS_FILE


def samples_path(store_dir: str | Path) -> Path:
    """The Sample answers of a snapshot store folder."""
    return Path(store_dir) / SAMPLES_FILE


@contextlib.contextmanager
def review_lock(reviews_dir: Path) -> Iterator[None]:
    """Exclusive hold of a store's review files while one import reads, merges and writes them.

    Two imports at once each read the file, add their rows and replace it: without the lock
    the second replace drops the first one's verdicts. ``flock`` waits for the other import
    (seconds at most) rather than failing, and the kernel releases it when a holder dies, so
    it can never be left stale.
    """
    reviews_dir.mkdir(parents=True, exist_ok=True)
    with open(reviews_dir / ".lock", "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@dataclass(frozen=True)
class ReviewRow:
    """One reviewed finding read from the workbook."""

    rule_id: str
    row_kind: str
    row_id: str
    ticket: str | None
    verdict: str  # waived / false_positive / confirmed
    comment: str
    reviewer: str | None
    cell: str  # e.g. "Findings!K12", for messages
    ticket_id: str | None = None  # the "Ticket ID" cell (a ticket-kind row's row id is its ticket id)

    @property
    def audited_ticket(self) -> str | None:
        """The id of the ticket the finding is about, when the row says."""
        return self.ticket_id or (self.row_id if self.row_kind == "ticket" else None)

    @property
    def key(self) -> str:
        return f"{self.rule_id}|{self.row_kind}|{self.row_id}"


@dataclass(frozen=True)
class SampleRow:
    """One answered row of the Sample sheet: was a problem missed in this step of this ticket?"""

    step: str
    ticket_id: str
    ticket: str | None
    verdict: str  # correct / missed
    comment: str
    reviewer: str | None
    cell: str

    @property
    def key(self) -> str:
        return f"{self.step}|{self.ticket_id}"


@dataclass
class ImportReport:
    """What an import did."""

    workbook: str
    tenant: str | None
    ruleset_version: str | None
    reviewed_rows: int = 0
    tenant_id: str | None = None
    #: Reviewed rows whose ticket is not in the store (another tenant's, or deleted): not imported.
    skipped: list[str] = field(default_factory=list)
    waivers_added: int = 0
    waivers_skipped: int = 0
    verdicts_added: int = 0
    verdicts_updated: int = 0
    verdicts_unchanged: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    samples_added: int = 0
    samples_updated: int = 0
    samples_unchanged: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def lines(self) -> list[str]:
        by_verdict = ", ".join(f"{v}: {n}" for v, n in sorted(self.counts.items())) or "none"
        out = [
            f"imported {self.reviewed_rows} reviewed finding(s) from {self.workbook} ({by_verdict})",
            f"waivers: {self.waivers_added} added, {self.waivers_skipped} already present",
            f"verdicts: {self.verdicts_added} added, {self.verdicts_updated} updated, "
            f"{self.verdicts_unchanged} unchanged",
        ]
        if self.samples_added or self.samples_updated or self.samples_unchanged:
            out.append(
                f"sample answers: {self.samples_added} added, {self.samples_updated} updated, "
                f"{self.samples_unchanged} unchanged"
            )
        if self.skipped:
            shown = ", ".join(self.skipped[:10]) + (
                f" … and {len(self.skipped) - 10} more" if len(self.skipped) > 10 else ""
            )
            out.append(
                f"skipped {len(self.skipped)} reviewed finding(s) whose ticket is not in the store: {shown}"
            )
        return out


# --- reading the workbook ---------------------------------------------------------------------


def _check_size(path: Path) -> None:
    """Refuse (exit 2) a workbook whose parts would inflate beyond MAX_WORKBOOK_UNCOMPRESSED.

    The sizes are the zip directory's; zipfile never inflates a member beyond its declared
    size, so this bound holds for what openpyxl will read.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            total = sum(info.file_size for info in archive.infolist())
    except FileNotFoundError as exc:
        raise ConfigError("QA workbook not found", file=str(path)) from exc
    except (zipfile.BadZipFile, OSError) as exc:
        raise ConfigError(
            f"not a readable .xlsx workbook: {type(exc).__name__}: {exc}", file=str(path)
        ) from exc
    if total > MAX_WORKBOOK_UNCOMPRESSED:
        raise ConfigError(
            f"the workbook inflates to {total:,} bytes, more than the {MAX_WORKBOOK_UNCOMPRESSED:,} "
            "a QA workbook may (a zip bomb, or not a ticket-audit workbook): refusing to read it",
            file=str(path),
        )


def _open(path: Path, *, data_only: bool = True) -> Workbook:
    _check_size(path)
    try:
        # read_only streams rows (a 20,000-finding workbook loads in seconds, not a minute);
        # data_only: a cell holding a formula gives its cached value, not the formula text.
        return load_workbook(path, read_only=True, data_only=data_only)
    except FileNotFoundError as exc:
        raise ConfigError("QA workbook not found", file=str(path)) from exc
    except Exception as exc:  # zipfile/openpyxl raise many types for a file that is not xlsx
        raise ConfigError(
            f"not a readable .xlsx workbook: {type(exc).__name__}: {exc}", file=str(path)
        ) from exc


def _sheet(wb: Workbook, title: str) -> Any:
    name = next((n for n in wb.sheetnames if n.casefold() == title.casefold()), None)
    return None if name is None else wb[name]


def _identity(wb: Workbook, path: Path) -> tuple[list[str], list[str], list[str]]:
    """Tenant names, tenant ids and rule-set versions the workbook declares (properties, Summary cells)."""
    tenants: list[str] = []
    ids: list[str] = []
    versions: list[str] = []
    props = getattr(wb, "custom_doc_props", None)
    for prop in getattr(props, "props", None) or []:
        value = str(getattr(prop, "value", "") or "").strip()
        if not value:
            continue
        if prop.name == TENANT_NAME_PROPERTY:
            tenants.append(value)
        elif prop.name == TENANT_ID_PROPERTY:
            ids.append(value)
        elif prop.name == RULESET_PROPERTY:
            versions.append(value)
        elif prop.name == SCHEMA_PROPERTY and not value.startswith(SCHEMA_PREFIX):
            raise ConfigError(
                f"workbook layout {value!r} is not one this ticket-audit reads ({SCHEMA_PREFIX})",
                file=str(path),
            )
    sheet = _sheet(wb, SUMMARY_SHEET)
    if sheet is not None:
        for row in sheet.iter_rows(min_row=1, max_row=40, max_col=8, values_only=True):
            for index, cell in enumerate(row[:-1]):
                label = _norm(cell)
                target = (
                    tenants
                    if label in TENANT_LABELS
                    else ids
                    if label in TENANT_ID_LABELS
                    else versions
                    if label in RULESET_LABELS
                    else None
                )
                if target is None:
                    continue
                found = next((v for v in row[index + 1 :] if v not in (None, "")), None)
                if found is not None:
                    target.append(str(found).strip())
                break
    return list(dict.fromkeys(tenants)), list(dict.fromkeys(ids)), list(dict.fromkeys(versions))


def _same(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


def _check_identity(
    path: Path,
    wb: Workbook,
    expected_tenant: str | None,
    expected_ruleset_version: str | None,
    expected_tenant_id: str | None = None,
) -> tuple[str | None, str | None, str | None]:
    """The workbook's (tenant name, tenant id, rule-set version), refused (exit 2) when they are
    not the expected ones. Ids are compared when both sides have one; else the names."""
    tenants, ids, versions = _identity(wb, path)
    if expected_tenant_id is not None and ids:
        if not any(_same(expected_tenant_id, i) for i in ids):
            shown = f" ({tenants[0]!r})" if tenants else ""
            raise ConfigError(
                f"the workbook is from tenant id {ids[0]!r}{shown}, this store audits tenant id "
                f"{expected_tenant_id!r}: refusing to import it",
                file=str(path),
            )
    elif expected_tenant_id is not None or expected_tenant is not None:
        # No id on one side (a workbook from before tenant ids, or a store without a snapshot):
        # the display name is all there is to compare.
        if not tenants:
            raise ConfigError(
                "the workbook does not say which tenant it audits (Summary sheet 'Tenant ID' and "
                "'Tenant' cells missing): refusing to import it",
                file=str(path),
            )
        if expected_tenant is None:
            raise ConfigError(
                f"the workbook does not carry a tenant id, only the name {tenants[0]!r}; this store "
                f"audits tenant id {expected_tenant_id!r}: refusing to import it "
                "(export a fresh workbook, or pass --tenant NAME)",
                file=str(path),
            )
        if not any(_same(expected_tenant, t) for t in tenants):
            raise ConfigError(
                f"the workbook is from tenant {tenants[0]!r}, this store audits "
                f"{expected_tenant!r}: refusing to import it",
                file=str(path),
            )
    if expected_ruleset_version is not None:
        if not versions:
            raise ConfigError(
                "the workbook does not say which rule-set version produced it "
                "(Summary sheet 'Rule-set version' cell missing): refusing to import it",
                file=str(path),
            )
        if str(expected_ruleset_version).strip() not in versions:
            raise ConfigError(
                f"the workbook was produced by rule-set version {versions[0]!r}, the current "
                f"rule set is {expected_ruleset_version!r}: its findings may not exist any more; "
                "refusing to import it (export a fresh workbook)",
                file=str(path),
            )
    return (tenants[0] if tenants else None), (ids[0] if ids else None), (versions[0] if versions else None)


def _header(ws: Any, path: Path) -> tuple[int, dict[str, int]]:
    """Row number of the header and normalised header -> column index (1-based).

    The header row is the first of the top rows holding Verdict and the finding key (the
    Finding key column, or Rule + Row kind + Row ID).
    """
    split_key = {_norm(h) for h in FINDING_KEY_COLUMNS[1:]}
    for number, row in enumerate(ws.iter_rows(min_row=1, max_row=15, values_only=True), start=1):
        columns: dict[str, int] = {}
        for index, value in enumerate(row, start=1):
            if value not in (None, ""):
                columns.setdefault(_norm(value), index)  # the first column of a header wins
        if "ruleid" in columns and "rule" not in columns:
            columns["rule"] = columns["ruleid"]
        has_key = _norm(FINDING_KEY_HEADER) in columns or (split_key <= columns.keys() and "rule" in columns)
        if _norm(VERDICT_HEADER) in columns and has_key:
            return number, columns
    needed = f"{VERDICT_HEADER!r} and {FINDING_KEY_HEADER!r} (or {', '.join(repr(h) for h in FINDING_KEY_COLUMNS)})"
    raise ConfigError(f"sheet {ws.title!r} has no header row with the columns {needed}", file=str(path))


def _split_key(text: str) -> tuple[str, str, str] | None:
    parts = [p.strip() for p in text.split("|")]
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 and all(parts) else None


def _cell_text(value: Any) -> str:
    return "" if value is None else str(value).strip()


@dataclass
class _Reviewed:
    """What the reviewer filled in, read from both sheets."""

    findings: list[ReviewRow]
    samples: list[SampleRow]


def read_review(path: str | Path, *, reviewer: str | None = None) -> tuple[Workbook, list[ReviewRow]]:
    """The reviewed rows of a QA workbook's Findings sheet (rows with a verdict), validated.

    See :func:`read_reviewed` (which also reads the Sample sheet). The workbook is returned open
    (read-only); the caller closes it.
    """
    wb, reviewed = read_reviewed(path, reviewer=reviewer)
    return wb, reviewed.findings


def read_reviewed(path: str | Path, *, reviewer: str | None = None) -> tuple[Workbook, _Reviewed]:
    """The answered rows of the Findings and Sample sheets, validated; duplicates merged.

    ``reviewer`` is used for rows whose Reviewer cell is empty (else the workbook's
    last-modified-by). An unknown verdict, a Waived row without a comment, a verdict row without
    its key, two different verdicts for one finding, a comment longer than MAX_COMMENT_CHARS, a
    sheet longer than MAX_SHEET_ROWS, or a verdict that is a formula without a computed value
    are errors naming the cell (exit 2). The workbook is returned open; the caller closes it.
    """
    p = Path(path)
    wb = _open(p)
    try:
        default = _default_reviewer(wb, reviewer)
        findings = _reviewed_rows(wb, p, default)
        samples = _sample_rows(wb, p, default)
        return wb, _Reviewed(findings, samples)
    except BaseException:
        wb.close()
        raise


def _default_reviewer(wb: Workbook, reviewer: str | None) -> str | None:
    default_reviewer = (reviewer or "").strip() or None
    if default_reviewer is None:
        modified_by = (wb.properties.lastModifiedBy or "").strip()
        if modified_by.casefold() not in _NOT_A_PERSON:
            default_reviewer = modified_by
    return default_reviewer


def _header_row(ws: Any, path: Path, required: Collection[str]) -> tuple[int, dict[str, int]]:
    """Row number and normalised header -> column (1-based) of the first top row holding ``required``."""
    for number, row in enumerate(ws.iter_rows(min_row=1, max_row=15, values_only=True), start=1):
        columns: dict[str, int] = {}
        for index, value in enumerate(row, start=1):
            if value not in (None, ""):
                columns.setdefault(_norm(value), index)
        if all(_norm(name) in columns for name in required):
            return number, columns
    raise ConfigError(
        f"sheet {ws.title!r} has no header row with the columns {', '.join(repr(h) for h in required)}",
        file=str(path),
    )


def _answered_rows(ws: Any, path: Path, header_row: int) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """(row number, values) of the rows below the header, refusing a sheet over MAX_SHEET_ROWS."""
    # Read-only sheets yield every row from min_row on (missing ones as empty), so counting gives row numbers.
    for number, values in enumerate(
        ws.iter_rows(min_row=header_row + 1, values_only=True), start=header_row + 1
    ):
        if number - header_row > MAX_SHEET_ROWS:
            raise ConfigError(
                f"sheet {ws.title!r} has more than {MAX_SHEET_ROWS:,} rows, more than a QA workbook "
                "may: refusing to read it",
                file=str(path),
            )
        yield number, values


def _formula_verdicts(path: Path, sheet: str, header_row: int, verdict_col: int) -> list[str]:
    """Cells of the verdict column holding a formula (read without cached values).

    A formula that was never calculated (written by a script, not saved by a spreadsheet
    application) has no value: its verdict would be read as empty and skipped unnoticed.
    """
    wb = _open(path, data_only=False)
    try:
        ws = _sheet(wb, sheet)
        found = []
        letter = get_column_letter(verdict_col)
        for number, row in enumerate(
            ws.iter_rows(min_row=header_row + 1, min_col=verdict_col, max_col=verdict_col),
            start=header_row + 1,
        ):
            if number - header_row > MAX_SHEET_ROWS:
                break
            cell = row[0] if row else None
            if cell is not None and getattr(cell, "data_type", None) == "f":
                found.append(f"{ws.title}!{letter}{number}")
        return found
    finally:
        wb.close()


def _check_formulas(path: Path, ws: Any, header_row: int, verdict_col: int, empty: list[int]) -> None:
    """Empty verdict cells that are uncalculated formulas are an error (exit 2), never skipped."""
    if not empty:
        return
    empty_cells = {f"{ws.title}!{get_column_letter(verdict_col)}{n}" for n in empty}
    formulas = [c for c in _formula_verdicts(path, ws.title, header_row, verdict_col) if c in empty_cells]
    if formulas:
        shown = ", ".join(formulas[:10]) + (f" … and {len(formulas) - 10} more" if len(formulas) > 10 else "")
        raise ConfigError(
            f"{shown}: the verdict is a formula without a computed value (the workbook was not "
            "recalculated and saved by a spreadsheet application); type the verdict, or open and "
            "save the workbook, then import it again",
            file=str(path),
        )


def _comment(raw: Any, where: str, path: Path) -> str:
    comment = _cell_text(raw)
    if len(comment) > MAX_COMMENT_CHARS:
        raise ConfigError(
            f"{where}: the comment has {len(comment):,} characters, more than the "
            f"{MAX_COMMENT_CHARS:,} a verdict comment may",
            file=str(path),
        )
    return comment


def _add(rows: dict[str, Any], row: ReviewRow | SampleRow, path: Path) -> None:
    """Keep ``row`` (a row repeated with the same answer is merged); another answer for its key is an error."""
    previous = rows.get(row.key)
    if previous is not None and (previous.verdict, previous.comment) != (row.verdict, row.comment):
        raise ConfigError(
            f"{row.cell}: {row.key} was already given another verdict at {previous.cell}", file=str(path)
        )
    rows.setdefault(row.key, row)


def _no_reviewer(where: str, path: Path, has_column: bool) -> ConfigError:
    fill = (
        f"fill the {REVIEWER_HEADER} column or pass --reviewer NAME" if has_column else "pass --reviewer NAME"
    )
    return ConfigError(f"{where}: no reviewer: {fill}", file=str(path))


def _reviewed_rows(wb: Workbook, p: Path, default_reviewer: str | None) -> list[ReviewRow]:
    ws = _sheet(wb, FINDINGS_SHEET)
    if ws is None:
        raise ConfigError(f"no {FINDINGS_SHEET!r} sheet: not a ticket-audit QA workbook", file=str(p))
    header_row, columns = _header(ws, p)
    col = {
        "key": columns.get(_norm(FINDING_KEY_HEADER)),
        "rule_id": columns.get(_norm(FINDING_KEY_COLUMNS[0])),
        "row_kind": columns.get(_norm(FINDING_KEY_COLUMNS[1])),
        "row_id": columns.get(_norm(FINDING_KEY_COLUMNS[2])),
        "verdict": columns[_norm(VERDICT_HEADER)],
        "comment": columns.get(_norm(COMMENT_HEADER)),
        "reviewer": columns.get(_norm(REVIEWER_HEADER)),
        "ticket": columns.get(_norm(TICKET_HEADER)) or columns.get("ticketnumber"),
        "ticket_id": columns.get("ticketid"),
    }
    verdict_col = columns[_norm(VERDICT_HEADER)]
    verdict_letter = get_column_letter(verdict_col)

    rows: dict[str, ReviewRow] = {}
    empty: list[int] = []
    for number, values in _answered_rows(ws, p, header_row):

        def value(name: str, values: tuple[Any, ...] = values) -> Any:
            index = col[name]
            return values[index - 1] if index is not None and index - 1 < len(values) else None

        raw_verdict = _cell_text(value("verdict"))
        if not raw_verdict:
            if any(v not in (None, "") for v in values):
                empty.append(number)
            continue  # not reviewed (or an emptied row)
        where = f"{ws.title}!{verdict_letter}{number}"
        verdict = VERDICTS.get(_norm(raw_verdict))
        if verdict is None:
            raise ConfigError(
                f"{where}: unknown verdict {raw_verdict!r}; expected Waived, False positive or Confirmed",
                file=str(p),
            )
        # The one-cell key is what the writer made for matching; the split columns are the fallback.
        parts = _split_key(_cell_text(value("key")))
        if parts is None:
            parts = (_cell_text(value("rule_id")), _cell_text(value("row_kind")), _cell_text(value("row_id")))
        rule_id = parts[0].upper()
        row_kind = parts[1].lower().replace(" ", "_")
        row_id = key_text(parts[2])
        if not (rule_id and row_kind and row_id):
            raise ConfigError(
                f"{where}: a verdict is given but the row's finding key ({FINDING_KEY_HEADER}, or "
                f"{', '.join(FINDING_KEY_COLUMNS)}) is not filled",
                file=str(p),
            )
        comment = _comment(value("comment"), where, p)
        who = _cell_text(value("reviewer")) or default_reviewer
        if verdict == "waived" and not comment:
            raise ConfigError(
                f"{where}: a Waived verdict needs a Comment (it becomes the waiver's reason)", file=str(p)
            )
        if not who:
            raise _no_reviewer(where, p, col["reviewer"] is not None)
        ticket = key_text(value("ticket")) or None
        row = ReviewRow(
            rule_id,
            row_kind,
            row_id,
            ticket,
            verdict,
            comment,
            who,
            where,
            key_text(value("ticket_id")) or None,
        )
        _add(rows, row, p)
    _check_formulas(p, ws, header_row, verdict_col, empty)
    return list(rows.values())


def _sample_rows(wb: Workbook, p: Path, default_reviewer: str | None) -> list[SampleRow]:
    """The answered rows of the Sample sheet (none when the workbook has no Sample sheet)."""
    ws = _sheet(wb, SAMPLE_SHEET)
    if ws is None:
        return []
    header_row, columns = _header_row(ws, p, (VERDICT_HEADER, SAMPLE_KEY_HEADER))
    verdict_col = columns[_norm(VERDICT_HEADER)]
    letter = get_column_letter(verdict_col)

    def get(values: tuple[Any, ...], header: str) -> Any:
        index = columns.get(_norm(header))
        return values[index - 1] if index is not None and index - 1 < len(values) else None

    rows: dict[str, SampleRow] = {}
    empty: list[int] = []
    for number, values in _answered_rows(ws, p, header_row):
        raw = _cell_text(get(values, VERDICT_HEADER))
        if not raw:
            if any(v not in (None, "") for v in values):
                empty.append(number)
            continue
        where = f"{ws.title}!{letter}{number}"
        verdict = SAMPLE_VERDICTS.get(_norm(raw))
        if verdict is None:
            raise ConfigError(
                f"{where}: unknown answer {raw!r}; expected Correct or Missed problem", file=str(p)
            )
        step, _, ticket_id = _cell_text(get(values, SAMPLE_KEY_HEADER)).partition("|")
        if not (step.strip() and ticket_id.strip()):
            raise ConfigError(
                f"{where}: an answer is given but the row's {SAMPLE_KEY_HEADER} is not filled", file=str(p)
            )
        comment = _comment(get(values, COMMENT_HEADER), where, p)
        who = _cell_text(get(values, REVIEWER_HEADER)) or default_reviewer
        if not who:
            raise _no_reviewer(where, p, _norm(REVIEWER_HEADER) in columns)
        row = SampleRow(
            step.strip(),
            key_text(ticket_id),
            key_text(get(values, TICKET_HEADER)) or None,
            verdict,
            comment,
            who,
            where,
        )
        _add(rows, row, p)
    _check_formulas(p, ws, header_row, verdict_col, empty)
    return list(rows.values())


# --- the verdicts store ------------------------------------------------------------------------


def load_samples(path: str | Path) -> dict[str, dict[str, Any]]:
    """Sample answers keyed by ``step|ticket_id`` (empty when the store has none)."""
    return _load_records(path, "samples", "sample answers")


def _load_records(path: str | Path, key: str, what: str) -> dict[str, dict[str, Any]]:
    p = Path(path)
    if not p.exists():
        return {}
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"unreadable {what} store: {exc}", file=str(p)) from exc
    if not isinstance(data, dict) or not isinstance(data.get(key), dict):
        raise ConfigError(f"not a ticket-audit {what} store", file=str(p))
    return {str(k): dict(v) for k, v in data[key].items()}


def load_verdicts(path: str | Path) -> dict[str, dict[str, Any]]:
    """Verdict records keyed by ``rule_id|row_kind|row_id`` (empty when the store has none)."""
    return _load_records(path, "verdicts", "verdicts")


def _write_records(path: Path, key: str, records: Mapping[str, Mapping[str, Any]]) -> None:
    document = {"format": _VERDICTS_FORMAT, key: {k: records[k] for k in sorted(records)}}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(
        json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    os.replace(tmp, path)  # a killed import never leaves half a store


def _merge(
    existing: Mapping[str, dict[str, Any]], records: Mapping[str, dict[str, Any]]
) -> tuple[dict[str, dict[str, Any]], int, int, int]:
    """``existing`` with ``records`` merged in: (merged, added, updated, unchanged).

    The same verdict again keeps the first import's record (and its time); a changed one
    replaces it and the old one goes into the record's ``history``.
    """
    merged = dict(existing)
    added = updated = unchanged = 0
    for key, record in records.items():
        before = existing.get(key)
        if before is None:
            merged[key] = record
            added += 1
        elif all(before.get(k) == record[k] for k in ("verdict", "comment", "reviewer")):
            unchanged += 1
        else:
            history = [
                *before.get("history", []),
                {k: before.get(k) for k in ("verdict", "comment", "reviewer", "workbook", "imported_at")},
            ]
            merged[key] = {**record, "history": history}
            updated += 1
    return merged, added, updated, unchanged


def _instant(as_of: date | datetime) -> datetime:
    if isinstance(as_of, datetime):
        return as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)
    return datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC)


# --- the import ----------------------------------------------------------------------------------


def import_review(
    workbook_path: str | Path,
    *,
    waivers_path: str | Path | None,
    verdicts_path: str | Path,
    expected_tenant: str | None,
    expected_ruleset_version: str | None,
    default_expiry_days: int = 90,
    as_of: date | datetime | None = None,
    reviewer: str | None = None,
    expected_tenant_id: str | None = None,
    known_tickets: Collection[Any] | None = None,
) -> ImportReport:
    """Import a reviewed QA workbook: Waived → waivers file, every verdict → verdicts store,
    Sample answers → the samples store next to it.

    ``expected_tenant_id`` (compared when the workbook carries an id), else ``expected_tenant``
    (the display name), and ``expected_ruleset_version`` (``None``: not checked) must match the
    workbook's, else :class:`ConfigError`. With ``known_tickets`` (the store's ticket ids), a
    row about a ticket not among them is skipped and listed in the report. Everything is
    validated before anything is written, and the files are read, merged and written under
    :func:`review_lock`, so concurrent imports both land. Re-importing the same workbook adds
    nothing (waivers already granted and verdicts already recorded are kept as they are).
    """
    path = Path(workbook_path)
    now = _instant(as_of or datetime.now(UTC).replace(microsecond=0))
    wb, reviewed = read_reviewed(path, reviewer=reviewer)
    try:
        tenant, tenant_id, version = _check_identity(
            path, wb, expected_tenant, expected_ruleset_version, expected_tenant_id
        )
    finally:
        wb.close()  # read-only workbooks keep the file open until closed
    rows, samples = reviewed.findings, reviewed.samples
    skipped: list[str] = []
    if known_tickets is not None:
        known = {key_text(t) for t in known_tickets}
        skipped = [r.key for r in rows if r.audited_ticket is not None and r.audited_ticket not in known]
        skipped += [s.key for s in samples if s.ticket_id not in known]
        rows = [r for r in rows if r.audited_ticket is None or r.audited_ticket in known]
        samples = [s for s in samples if s.ticket_id in known]
    report = ImportReport(
        workbook=path.name,
        tenant=tenant,
        ruleset_version=version,
        reviewed_rows=len(rows),
        tenant_id=tenant_id,
        skipped=skipped,
    )
    for row in rows:
        report.counts[row.verdict] = report.counts.get(row.verdict, 0) + 1

    waived = [row for row in rows if row.verdict == "waived"]
    if waived and waivers_path is None:
        raise ConfigError(
            f"{len(waived)} finding(s) are marked Waived but no waivers file is configured: "
            "pass --waivers FILE or set [waivers] file in the config"
        )
    verdicts_file = Path(verdicts_path)
    samples_file = verdicts_file.with_name(SAMPLES_FILE.name)
    stamp = now.isoformat().replace("+00:00", "Z")
    common = {
        "tenant": tenant,
        "tenant_id": tenant_id,
        "ruleset_version": version,
        "workbook": path.name,
        "imported_at": stamp,
    }
    records = {
        row.key: {
            "rule_id": row.rule_id,
            "row_kind": row.row_kind,
            "row_id": row.row_id,
            "ticket": row.ticket,
            "verdict": row.verdict,
            "comment": row.comment,
            "reviewer": row.reviewer,
            **common,
        }
        for row in rows
    }
    sample_records = {
        s.key: {
            "step": s.step,
            "ticket_id": s.ticket_id,
            "ticket": s.ticket,
            "verdict": s.verdict,
            "comment": s.comment,
            "reviewer": s.reviewer,
            **common,
        }
        for s in samples
    }
    with review_lock(verdicts_file.parent):
        # Read under the lock: another import may have written since this one started.
        existing = load_verdicts(verdicts_file)  # fail on a corrupt store before writing waivers
        existing_samples = load_samples(samples_file)
        if waived and waivers_path is not None:
            today = now.date()
            new = [
                Waiver(
                    rule=row.rule_id,
                    ticket=row.ticket,
                    row_kind=_row_kind(row.row_kind),
                    row_id=row.row_id,
                    reason=row.comment,
                    approved_by=row.reviewer or "",
                    expires=today + timedelta(days=default_expiry_days),
                    created=today,
                    source=f"QA review {path.name}",
                )
                for row in waived
            ]
            report.waivers_added, report.waivers_skipped = append_waivers(waivers_path, new, as_of=today)
        merged, report.verdicts_added, report.verdicts_updated, report.verdicts_unchanged = _merge(
            existing, records
        )
        if report.verdicts_added or report.verdicts_updated:
            _write_records(verdicts_file, "verdicts", merged)
        merged, report.samples_added, report.samples_updated, report.samples_unchanged = _merge(
            existing_samples, sample_records
        )
        if report.samples_added or report.samples_updated:
            _write_records(samples_file, "samples", merged)
    return report


def _row_kind(value: str) -> str | None:
    # Only the engine's row kinds are valid waiver selectors; anything else falls back to the row id alone.
    return value if value in ("ticket", "note", "time_entry") else None


# --- precision -----------------------------------------------------------------------------------


def rule_precision(
    verdicts: Mapping[str, Mapping[str, Any]] | Iterable[Mapping[str, Any]] | pd.DataFrame,
) -> dict[str, dict[str, Any]]:
    """Per rule: ``confirmed``, ``false_positive``, ``waived``, ``reviewed`` (= confirmed +
    false positive) and ``precision`` = confirmed / reviewed (``None`` when nothing was reviewed).

    Waived findings are real but accepted: they say nothing about the rule's precision.
    """
    if isinstance(verdicts, pd.DataFrame):
        records: Iterable[Mapping[str, Any]] = verdicts.to_dict("records")
    elif isinstance(verdicts, Mapping):
        records = verdicts.values()
    else:
        records = verdicts
    out: dict[str, dict[str, Any]] = {}
    for record in records:
        rule = str(record.get("rule_id") or "")
        if not rule:
            continue
        entry = out.setdefault(rule, {"confirmed": 0, "false_positive": 0, "waived": 0})
        verdict = str(record.get("verdict") or "")
        if verdict in entry:
            entry[verdict] += 1
    for entry in out.values():
        reviewed = entry["confirmed"] + entry["false_positive"]
        entry["reviewed"] = reviewed
        entry["precision"] = round(entry["confirmed"] / reviewed, 4) if reviewed else None
    return dict(sorted(out.items()))


def mark_false_positives(findings: pd.DataFrame, verdicts: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """``findings`` with ``false_positive`` set on findings a reviewer marked *False positive*.

    A false positive is also ``waived``: it then goes through the one path waived findings
    take (scoring counts it passed; the gate, JUnit and the baseline treat it as not open),
    and every report names it a false positive rather than waived. The rule's precision
    drops through :func:`rule_precision`, which reads the same verdicts.
    """
    out = findings.copy()
    wrong = {key for key, v in verdicts.items() if v.get("verdict") == "false_positive"}
    if not len(out) or not wrong:
        out["false_positive"] = pd.Series(False, index=out.index, dtype=bool)
        return out
    parts = [out[c].astype(object).map(key_text) for c in ("rule_id", "row_kind", "row_id")]
    flag = (parts[0] + "|" + parts[1] + "|" + parts[2]).isin(wrong).to_numpy()
    out["false_positive"] = flag
    waived = out["waived"].fillna(False).astype(bool) if "waived" in out.columns else False
    out["waived"] = waived | flag
    return out


def flag_noisy(precision: Mapping[str, dict[str, Any]], *, below: float, min_verdicts: int) -> list[str]:
    """Mark each rule's precision entry ``noisy`` (precision below ``below`` percent with at least
    ``min_verdicts`` reviewed verdicts); returns the noisy rule ids."""
    noisy = []
    for rule_id, entry in precision.items():
        value = entry.get("precision")
        entry["noisy"] = bool(
            value is not None and entry.get("reviewed", 0) >= min_verdicts and value * 100 < below
        )
        if entry["noisy"]:
            noisy.append(rule_id)
    return sorted(noisy)
