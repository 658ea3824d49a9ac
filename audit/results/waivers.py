"""Waivers: approved exceptions that turn matching findings into *waived* ones.

A waivers file is YAML or TOML (chosen by extension) holding a list of entries::

    waivers:                         # YAML (a bare top-level list works too)
      - rule: CLO-03                 # a rule id, or "*" for every rule
        ticket: T20261118.0042       # ticket number or ticket id ...
        reason: Warranty swap, no billable time
        approved_by: Jane Doe
        expires: 2026-12-31
      - rule: "*"
        technician: Sam Smith        # ... or a filter: technician, queue, tickets, row_kind/row_id
        reason: On leave, covering tickets
        approved_by: Jane Doe
        expires: 2026-12-31

    [[waivers]]                      # TOML
    rule = "CLO-03"
    ticket = "T20261118.0042"
    ...

Every selector given must match (AND). An entry must name at least one selector besides the
rule (``row_kind`` alone does not count), so a typo cannot waive a whole rule. An unknown key
(``approvedby:``) is reported as such, at its own line. The user documentation of the format
is ``docs/waivers.md``. A waiver applies while ``as_of <= expires``
(inclusive); expired waivers stop applying and are reported, as are waivers matching nothing.
An invalid file is a configuration error (exit 2) naming the file and line.

Waived findings stay in the findings (``waived=True``) and count as passed in scoring.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from audit.core.atomic import write_text_atomic
from audit.core.errors import ConfigError
from audit.core.tomlload import TomlLines, load_toml_text
from audit.core.yamlload import LineDict, LineList, YamlSyntaxError, line_at, line_of, load_yaml_text

__all__ = [
    "stale_waiver_lines",
    "Waiver",
    "WaiverFile",
    "WaiverReport",
    "key_text",
    "append_waivers",
    "mark_waived",
    "load_waivers",
    "parse_waivers",
]

_RULE_ID = re.compile(r"^[A-Z]{2,5}-\d{2,3}$")


def key_text(value: Any) -> str:
    """Comparable text of an id/number cell: 12, 12.0 and "12" are the same (CSV/Excel round-trips)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    if text.endswith(".0") and text[:-2].lstrip("-").isdigit():
        return text[:-2]
    return text


class Waiver(BaseModel):
    """One approved exception."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: str = Field(description='rule id (e.g. "CLO-01") or "*" for every rule')
    ticket: str | int | None = Field(default=None, description="ticket number or ticket id")
    tickets: list[str | int] | None = Field(default=None, description="several ticket numbers or ids")
    technician: str | int | None = Field(default=None, description="technician name or resource id")
    queue: str | int | None = Field(default=None, description="queue name or queue id")
    row_kind: str | None = Field(default=None, description="ticket, note or time_entry")
    row_id: str | int | None = Field(
        default=None, description="id of the failing row (note, time entry, ticket)"
    )
    reason: str = Field(min_length=1)
    approved_by: str = Field(min_length=1)
    expires: date
    created: date | None = Field(default=None, description="when the waiver was granted")
    source: str | None = Field(default=None, description="where it came from, e.g. the QA workbook imported")

    @field_validator("rule")
    @classmethod
    def _rule(cls, value: str) -> str:
        value = value.strip().upper()
        if value != "*" and not _RULE_ID.match(value):
            raise ValueError(f'not a rule id (like "CLO-01") nor "*": {value!r}')
        return value

    @field_validator("ticket", "tickets", "technician", "queue", "row_id", mode="before")
    @classmethod
    def _no_booleans(cls, value: Any) -> Any:
        """``ticket: true`` is a mistake, not ticket id 1 (pydantic would read it so)."""
        if isinstance(value, bool) or (isinstance(value, list) and any(isinstance(v, bool) for v in value)):
            raise ValueError("expected a number or text, got true/false")
        return value

    @field_validator("reason", "approved_by")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @field_validator("row_kind")
    @classmethod
    def _row_kind(cls, value: str | None) -> str | None:
        if value is not None and value not in ("ticket", "note", "time_entry"):
            raise ValueError("must be ticket, note or time_entry")
        return value

    @model_validator(mode="after")
    def _selector(self) -> Waiver:
        if self.ticket is not None and self.tickets is not None:
            raise ValueError("give either ticket or tickets, not both")
        # row_kind narrows a selector but selects nothing by itself (every note of a rule is the
        # whole rule for a note rule).
        if not any(name != "row_kind" for name in self.selectors()):
            raise ValueError(
                "a waiver needs a ticket, tickets, technician, queue or row_id: it may not waive a whole rule"
            )
        return self

    def selectors(self) -> dict[str, Any]:
        """The filters this waiver sets (besides the rule)."""
        names = ("ticket", "tickets", "technician", "queue", "row_kind", "row_id")
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}

    def identity(self) -> tuple[Any, ...]:
        """What it waives (rule + selectors), to recognise the same waiver granted twice."""
        sel = self.selectors()
        if "tickets" in sel:
            sel["tickets"] = tuple(sorted(key_text(t) for t in sel["tickets"]))
        return (self.rule, *sorted((k, key_text(v) if k != "tickets" else v) for k, v in sel.items()))

    def describe(self) -> str:
        parts = [self.rule, *(f"{k}={v}" for k, v in self.selectors().items())]
        return " ".join(str(p) for p in parts)

    def active(self, as_of: date) -> bool:
        return as_of <= self.expires


@dataclass(frozen=True)
class WaiverFile:
    """Waivers as loaded, with the line each one starts on (for messages)."""

    path: str | None
    waivers: tuple[Waiver, ...]
    lines: tuple[int | None, ...]

    def where(self, index: int) -> str:
        line = self.lines[index] if index < len(self.lines) else None
        if self.path is None:
            return f"waiver #{index + 1}"
        return f"{self.path}:{line}" if line is not None else f"{self.path} (waiver #{index + 1})"


@dataclass
class WaiverReport:
    """What applying the waivers did: per waiver counts, expired and unmatched waivers."""

    applied: dict[int, int] = field(default_factory=dict)  # waiver index -> findings it waived
    expired: list[dict[str, Any]] = field(default_factory=list)
    unmatched: list[dict[str, Any]] = field(default_factory=list)
    waived_findings: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "applied": {str(k): v for k, v in sorted(self.applied.items())},
            "expired": self.expired,
            "unmatched": self.unmatched,
            "waived_findings": self.waived_findings,
        }

    def lines(self) -> list[str]:
        """Human-readable notes for the console / job summary."""
        out = [
            f"waivers: {self.waived_findings} finding(s) waived by {sum(1 for v in self.applied.values() if v)} waiver(s)"
        ]
        return out + stale_waiver_lines(self.as_dict())


def stale_waiver_lines(report: Mapping[str, Any] | None) -> list[str]:
    """One line per expired waiver and per waiver that matched no finding, from a report's
    :meth:`WaiverReport.as_dict` (``summary["waivers"]``): the run output, summary.md and ``check``."""
    if not report:
        return []
    return [
        f"waiver expired on {e['expires']}: {e['where']}: {e['waiver']}" for e in report.get("expired", [])
    ] + [f"waiver matches no finding: {e['where']}: {e['waiver']}" for e in report.get("unmatched", [])]


# ---------------------------------------------------------------------------------------------
# loading


class _WaiversDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")
    waivers: list[Waiver] = Field(default=[])


def _describe_error(exc: ValidationError) -> tuple[tuple[Any, ...], str]:
    errors = exc.errors()
    # An unknown key first: a misspelled ``approvedby:`` also makes ``approved_by`` missing, and
    # "unknown key" at the key's own line is the message that explains both.
    err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = tuple(err["loc"])
    what = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
    shown = []
    for part in loc:
        shown.append(f"[{part}]" if isinstance(part, int) else f".{part}")
    return loc, f"{''.join(shown).lstrip('.') or 'waivers'}: {what}"


def parse_waivers(text: str, *, fmt: str, path: str | None = None) -> WaiverFile:
    """Parse waivers text (``fmt`` is ``yaml`` or ``toml``); errors name the file and line."""
    where: Callable[[Sequence[Any]], int | None]  # the line of a pydantic error location
    if fmt == "toml":
        data: Any = load_toml_text(text, path)
        where = TomlLines(text).line
    else:
        try:
            data = load_yaml_text(text, path or "<string>")
        except YamlSyntaxError as exc:
            raise ConfigError(f"invalid YAML: {exc.problem}", file=path, line=exc.line) from exc
        if data is None:
            return WaiverFile(path, (), ())
        if isinstance(data, LineList):  # a bare list of waivers is accepted
            bare = data
            data = LineDict(waivers=bare)
            data.line, data.key_lines = bare.line, {"waivers": bare.line}
        if not isinstance(data, LineDict):
            raise ConfigError(
                "a waivers file holds a list of waivers (or a 'waivers:' list)",
                file=path,
                line=line_of(data) or None,
            )
        where = partial(line_at, data)
    try:
        doc = _WaiversDocument.model_validate(data)
    except ValidationError as exc:
        loc, message = _describe_error(exc)
        raise ConfigError(f"invalid waiver: {message}", file=path, line=where(loc)) from exc
    lines = tuple(where(("waivers", index)) for index in range(len(doc.waivers)))
    return WaiverFile(path, tuple(doc.waivers), lines)


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".toml":
        return "toml"
    if suffix in (".yaml", ".yml"):
        return "yaml"
    raise ConfigError("waivers file: use a .yaml, .yml or .toml file", file=str(path))


def load_waivers(path: str | Path) -> WaiverFile:
    """Load and validate a waivers file (YAML or TOML by extension). Errors: exit 2, file:line."""
    p = Path(path)
    fmt = _format_of(p)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read waivers file: {exc.strerror or exc}", file=str(p)) from exc
    return parse_waivers(text, fmt=fmt, path=str(p))


# ---------------------------------------------------------------------------------------------
# applying


def _as_date(as_of: date | datetime) -> date:
    return as_of.date() if isinstance(as_of, datetime) else as_of


def _column_text(findings: pd.DataFrame, column: str) -> pd.Series:
    if column not in findings.columns:
        return pd.Series([""] * len(findings), index=findings.index, dtype=object)
    return findings[column].map(key_text)


def _match(findings: pd.DataFrame, waiver: Waiver, text: dict[str, pd.Series]) -> pd.Series:
    mask = pd.Series(True, index=findings.index)
    if waiver.rule != "*":
        mask &= text["rule_id"].str.upper() == waiver.rule
    tickets = (
        waiver.tickets
        if waiver.tickets is not None
        else ([waiver.ticket] if waiver.ticket is not None else None)
    )
    if tickets is not None:
        # A ticket is named by its number (T20261118.0042) or its id: accept either.
        wanted = {key_text(t).casefold() for t in tickets}
        mask &= text["ticket_number"].str.casefold().isin(wanted) | text["ticket_id"].isin(wanted)
    for name, id_column in (("technician", "technician_id"), ("queue", "queue_id")):
        value = getattr(waiver, name)
        if value is not None:
            wanted_text = key_text(value).casefold()
            mask &= (text[name].str.casefold() == wanted_text) | (text[id_column] == wanted_text)
    if waiver.row_kind is not None:
        mask &= text["row_kind"] == waiver.row_kind
    if waiver.row_id is not None:
        mask &= text["row_id"] == key_text(waiver.row_id)
    return mask


def mark_waived(
    findings: pd.DataFrame,
    waivers: WaiverFile | Sequence[Waiver],
    *,
    as_of: date | datetime,
) -> tuple[pd.DataFrame, WaiverReport]:
    """A copy of ``findings`` with ``waived=True`` where an active waiver matches, and a report.

    Findings already waived stay waived (waivers are only ever added by this step). Expired
    waivers do not apply and are listed; active waivers matching no finding are listed too.
    """
    wf = waivers if isinstance(waivers, WaiverFile) else WaiverFile(None, tuple(waivers), ())
    day = _as_date(as_of)
    out = findings.copy()
    if "waived" in out.columns:
        before = out["waived"].map(lambda v: str(v).strip().lower() in ("true", "1", "yes")).astype(bool)
    else:
        before = pd.Series(False, index=out.index)
    columns = (
        "rule_id",
        "ticket_number",
        "ticket_id",
        "technician",
        "technician_id",
        "queue",
        "queue_id",
        "row_kind",
        "row_id",
    )
    text = {c: _column_text(out, c) for c in columns}
    waived = before.copy()
    matched = pd.Series(False, index=out.index)
    report = WaiverReport()
    for index, waiver in enumerate(wf.waivers):
        entry = {
            "index": index,
            "where": wf.where(index),
            "waiver": waiver.describe(),
            "expires": waiver.expires.isoformat(),
            "reason": waiver.reason,
            "approved_by": waiver.approved_by,
        }
        if not waiver.active(day):
            report.expired.append(entry)
            continue
        mask = _match(out, waiver, text) if len(out) else pd.Series(False, index=out.index)
        count = int(mask.sum())
        report.applied[index] = count
        if count == 0:
            report.unmatched.append(entry)
        waived |= mask
        matched |= mask
    out["waived"] = waived.astype(bool)
    # Every finding an active waiver covers, also when it was already marked waived (a re-check
    # of a run's findings.csv): "0 finding(s) waived by 1 waiver(s)" would contradict itself.
    report.waived_findings = int(matched.sum())
    return out, report


# ---------------------------------------------------------------------------------------------
# writing (the QA review import appends waivers)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    # JSON string escapes (\" \\ \n \uXXXX) are valid TOML basic-string escapes.
    return json.dumps(str(value), ensure_ascii=False)


def _toml_block(waiver: Waiver) -> str:
    data = waiver.model_dump(exclude_none=True)
    return "[[waivers]]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in data.items())


def _yaml_item(waiver: Waiver, indent: str) -> str:
    data = waiver.model_dump(exclude_none=True)
    dumped = yaml.safe_dump([data], sort_keys=False, allow_unicode=True, default_flow_style=False)
    return "".join(indent + line + "\n" for line in dumped.splitlines())


def append_waivers(path: str | Path, new: Sequence[Waiver], *, as_of: date | datetime) -> tuple[int, int]:
    """Append waivers to a YAML/TOML waivers file, skipping any already granted and still active.

    The existing text is kept as is (comments and all): new entries are appended as text, then
    the whole file is re-parsed so a write never leaves an invalid file. Returns ``(added, skipped)``.
    """
    p = Path(path)
    fmt = _format_of(p)
    text = p.read_text(encoding="utf-8") if p.exists() else ""
    existing = parse_waivers(text, fmt=fmt, path=str(p)) if text.strip() else WaiverFile(str(p), (), ())
    day = _as_date(as_of)
    active = {w.identity() for w in existing.waivers if w.active(day)}
    to_add: list[Waiver] = []
    for waiver in new:
        if waiver.identity() in active:
            continue
        active.add(waiver.identity())
        to_add.append(waiver)
    skipped = len(new) - len(to_add)
    if not to_add:
        return 0, skipped
    if fmt == "toml":
        sep = "" if not text or text.endswith("\n\n") else ("\n" if text.endswith("\n") else "\n\n")
        updated = text + sep + "\n".join(_toml_block(w) for w in to_add)
    else:
        updated = _yaml_append(text, to_add)
    parse_waivers(updated, fmt=fmt, path=str(p))  # never write a file we could not read back
    write_text_atomic(p, updated)
    return len(to_add), skipped


def _yaml_append(text: str, to_add: Sequence[Waiver]) -> str:
    if not text.strip():
        return "waivers:\n" + "".join(_yaml_item(w, "  ") for w in to_add)
    # The node tree keeps the layout (columns, flow style) that appending text depends on.
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    seq: yaml.Node | None = root
    if isinstance(root, yaml.MappingNode):
        # Only a lone "waivers:" key: other keys may follow the list and appended text land there.
        only = root.value[0] if len(root.value) == 1 else None
        seq = only[1] if only is not None and str(only[0].value) == "waivers" else None
    if isinstance(seq, yaml.SequenceNode) and not seq.flow_style and seq.value:
        # Appending at the first item's dash column extends the block list.
        first = seq.value[0]
        line = text.splitlines()[first.start_mark.line]
        dash = line.rfind("-", 0, first.start_mark.column)
        indent = " " * max(dash, 0)
        body = text if text.endswith("\n") else text + "\n"
        return body + "".join(_yaml_item(w, indent) for w in to_add)
    # Empty or flow-style list, or an unusual layout: rewrite the document (comments are lost).
    current = parse_waivers(text, fmt="yaml")
    items = [w.model_dump(exclude_none=True) for w in (*current.waivers, *to_add)]
    return yaml.safe_dump({"waivers": items}, sort_keys=False, allow_unicode=True, default_flow_style=False)
