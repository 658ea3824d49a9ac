"""The QA review loop: reviewers' verdicts in ``qa-review.xlsx`` come back into the audit.

A reviewer fills the Findings sheet's *Verdict* (and *Comment*, optionally *Reviewer*) cells:

* ``Waived`` — the finding is a real exception the desk accepts: a waiver is appended to the
  waivers file (the comment is the reason, the reviewer the approver, expiring after
  ``[waivers] default_expiry_days``), so the next run shows it as waived and counts it passed;
* ``False positive`` / ``Confirmed`` — recorded per rule and finding in the verdicts store
  (``<store>/reviews/verdicts.json``, :mod:`audit.results.verdicts`), from which each rule's
  precision is measured.

Rows are matched by the finding key columns (rule id, row kind, row id), never by position, so
a reviewer may sort, filter, delete or edit rows freely; rows without a verdict are ignored.
Importing the same workbook twice changes nothing the second time. A workbook of another tenant
or another rule-set version is refused (exit 2): its keys would point at other findings.

The tenant is compared by id (``ticket_audit.tenant_id`` / Summary "Tenant ID": the zone name,
else the web URL — :func:`audit.app.assess.tenant_id`), not by display name: two tenants may both
be called "Sandbox". The display name is compared only where an id is missing on one side — a
workbook written before ids were recorded, or a store with no snapshot yet (nothing else to
compare then). Rows whose ticket is not among the store's tickets are skipped (reported), so
verdicts about another tenant's findings never count in a rule's precision.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from openpyxl.workbook.workbook import Workbook

from audit.core.errors import ConfigError
from audit.results.qa_workbook import (
    RULESET_LABELS,
    RULESET_PROPERTY,
    SCHEMA_PROPERTY,
    SUMMARY_SHEET,
    TENANT_ID_LABELS,
    TENANT_ID_PROPERTY,
    TENANT_LABELS,
    TENANT_NAME_PROPERTY,
    WORKBOOK_SCHEMA,
)
from audit.results.qa_workbook import normalise_header as _norm
from audit.results.review_reader import read_reviewed, sheet_named
from audit.results.verdicts import (
    SAMPLES_FILE,
    load_samples,
    load_verdicts,
    merge_records,
    review_lock,
    write_records,
)
from audit.results.waivers import Waiver, append_waivers, key_text

__all__ = ["ImportReport", "check_identity", "import_review"]


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


def _instant(as_of: date | datetime) -> datetime:
    if isinstance(as_of, datetime):
        return as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)
    return datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC)


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
        elif prop.name == SCHEMA_PROPERTY and not value.startswith(WORKBOOK_SCHEMA):
            raise ConfigError(
                f"workbook layout {value!r} is not one this ticket-audit reads ({WORKBOOK_SCHEMA})",
                file=str(path),
            )
    sheet = sheet_named(wb, SUMMARY_SHEET)
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


def check_identity(
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
        tenant, tenant_id, version = check_identity(
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
        merged, report.verdicts_added, report.verdicts_updated, report.verdicts_unchanged = merge_records(
            existing, records
        )
        if report.verdicts_added or report.verdicts_updated:
            write_records(verdicts_file, "verdicts", merged)
        merged, report.samples_added, report.samples_updated, report.samples_unchanged = merge_records(
            existing_samples, sample_records
        )
        if report.samples_added or report.samples_updated:
            write_records(samples_file, "samples", merged)
    return report


def _row_kind(value: str) -> str | None:
    # Only the engine's row kinds are valid waiver selectors; anything else falls back to the row id alone.
    return value if value in ("ticket", "note", "time_entry") else None
