"""The run history of a store: what each nightly run fetched, spent and scored.

Two sources, merged by run id:

- the store's run log (``state.json`` ``runs``, plus ``failed-runs.jsonl`` for runs that stopped
  since the last publish): one :class:`audit.store.snapshot.RunEntry` per extraction run — started,
  finished, as-of, status, rows fetched per entity, requests spent, deleted tickets, error;
- ``<store>/history.jsonl``: one JSON object per line, appended by the pipeline with
  :func:`record_run` when it starts evaluating (``status`` ``running``) and when the run ends
  (``ok``, ``threshold``, or ``failed`` with its ``error``; plus ``score``, ``ruleset_version``,
  ``period``, ``exit_code``, ``seconds`` — the whole run's duration —, …). A run killed while
  evaluating stays ``running`` (shown "unfinished"). Its ``run_id`` is the extraction run's id
  (the store's ``state.run_id`` after publish), so both halves of a run land in one entry.

Why a separate append-only file rather than ``state.json``: the state belongs to a snapshot and is
rewritten only by a publish; scores are known after the publish, and an append of one line needs
no staging. A crash mid-append can leave a truncated last line: readers skip it, and the next
append starts on a fresh line so only that one record is lost.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import asdict, is_dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from audit.store.snapshot import Store

__all__ = [
    "HISTORY_FILE",
    "format_table",
    "latest",
    "read_history",
    "read_records",
    "record_run",
]

log = logging.getLogger("audit.store.history")

HISTORY_FILE = "history.jsonl"


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _json_default(value: Any) -> Any:
    """What ``json`` cannot encode on its own: instants as UTC ISO strings (like state.json),
    dates, paths, numpy/pandas scalars, dataclasses and sets."""
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    item = getattr(value, "item", None)  # numpy / pandas scalars
    if callable(item):
        return item()
    raise TypeError(f"history entry: {type(value).__name__} is not JSON-serialisable")


def record_run(store_path: str | os.PathLike[str], entry: Mapping[str, Any]) -> dict[str, Any]:
    """Append ``entry`` as one line of ``<store>/history.jsonl`` (flushed and fsynced).

    ``entry`` needs a ``run_id`` (the extraction run's id); ``recorded`` (now, UTC) is added when
    absent. Returns the line as written. Raises ``ValueError`` without a run id and ``TypeError``
    for a value JSON cannot hold, before anything is written.
    """
    run_id = entry.get("run_id")
    if not isinstance(run_id, str) or not run_id.strip():
        raise ValueError("history entry needs a non-empty 'run_id' (the extraction run's id)")
    line = dict(entry)
    line.setdefault("recorded", _iso(datetime.now(UTC)))
    # json.dumps without indent never emits a raw newline (strings escape it): one record, one line.
    data = (json.dumps(line, sort_keys=True, ensure_ascii=False, default=_json_default) + "\n").encode(
        "utf-8"
    )
    folder = Path(store_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / HISTORY_FILE
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            # A writer killed mid-line left a partial record: end it, so ours stays parseable.
            data = b"\n" + data
        # One write on an O_APPEND descriptor: concurrent appenders' lines never interleave.
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)
    appended: dict[str, Any] = json.loads(data)
    return appended


def _read_lines(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    lines = text.split("\n")
    out: list[dict[str, Any]] = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except ValueError:
            # The last line may be cut by a crash mid-append (expected, quiet); any other bad
            # line is damage worth a warning. Both are skipped: history must stay readable.
            is_last = all(not rest.strip() for rest in lines[number:])
            (log.debug if is_last else log.warning)("%s:%d: unreadable history line skipped", path, number)
            continue
        if isinstance(record, dict) and isinstance(record.get("run_id"), str):
            if "rule_set_version" in record:  # 0.1 spelled the key so; one spelling from here on
                record.setdefault("ruleset_version", record.pop("rule_set_version"))
            out.append(record)
    return out


def read_records(store_path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The lines of ``history.jsonl`` as written, oldest first, not merged by run id (a run's
    ``running`` line and its outcome are two records)."""
    return _read_lines(Path(store_path) / HISTORY_FILE)


def read_history(store_path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every run known to the store, oldest first, as JSON-ready dicts.

    Keys from the run log: ``run_id, started, finished, as_of, status, fetched, requests,
    deleted_tickets, error``; ``ruleset_version`` of the published snapshot is attached to its
    run. ``history.jsonl`` lines are merged into the entry with the same ``run_id`` (their
    non-null values win, later lines over earlier ones); a line without a run-log entry (e.g. an
    evaluation of a store whose run log was trimmed) is an entry of its own.
    A missing store gives ``[]``; an unreadable one raises :class:`audit.core.errors.StoreError`.
    """
    path = Path(store_path)
    if not path.is_dir():
        return []
    store = Store(path)
    entries: dict[str, dict[str, Any]] = {}
    if store.exists():
        state = store.state
        for run in state.runs:
            entries[run.run_id] = run.to_json()
        if state.run_id in entries and state.ruleset_version:
            entries[state.run_id]["ruleset_version"] = state.ruleset_version
    for run in store.failed_runs():  # not yet folded into the log by a publish
        entries.setdefault(run.run_id, run.to_json())
    for record in _read_lines(path / HISTORY_FILE):
        entry = entries.setdefault(record["run_id"], {"run_id": record["run_id"]})
        entry.update({k: v for k, v in record.items() if v is not None})
        if "status" in record:
            # A line with the run's status settles its outcome: an earlier line's error (say a
            # failed evaluation of the same snapshot and as-of) no longer applies.
            entry["error"] = record.get("error")

    def when(entry: dict[str, Any]) -> tuple[str, str]:
        # ISO-8601 UTC strings sort chronologically; run ids are time-sortable too.
        stamp = entry.get("started") or entry.get("recorded") or entry.get("as_of") or ""
        return str(stamp), str(entry["run_id"])

    return sorted(entries.values(), key=when)


def latest(entries: list[dict[str, Any]], limit: int | None) -> list[dict[str, Any]]:
    """The ``limit`` most recent entries (all when ``None``), newest first."""
    chosen = entries if limit is None else entries[-limit:] if limit > 0 else []
    return list(reversed(chosen))


# Short names keep the FETCHED column readable; an entity not listed keeps its own name.
_SHORT = {
    "Tickets": "Tickets",
    "TicketNotes": "Notes",
    "TimeEntries": "Time",
    "TicketAttachments": "Attach",
    "ServiceLevelAgreementResults": "SLA",
    "TicketHistory": "History",
    "Resources": "Res",
    "Companies": "Comp",
    "Contacts": "Cont",
    "BillingCodes": "Codes",
    "DeletedTicketLogs": "Deleted",
}


def _minute(value: Any) -> str:
    if not value:
        return "-"
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC)
    return parsed.strftime("%Y-%m-%d %H:%M")


def _duration(entry: Mapping[str, Any]) -> str:
    """The whole run's duration (``seconds``, recorded by the pipeline) when known, else the
    extraction's (``started`` to ``finished`` of the run log)."""
    recorded = entry.get("seconds")
    if isinstance(recorded, int | float) and not isinstance(recorded, bool):
        seconds = max(0.0, float(recorded))
    else:
        try:
            start = datetime.fromisoformat(str(entry["started"]).replace("Z", "+00:00"))
            end = datetime.fromisoformat(str(entry["finished"]).replace("Z", "+00:00"))
        except (KeyError, TypeError, ValueError):
            return "-"
        seconds = max(0.0, (end - start).total_seconds())
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def _number(value: Any) -> str:
    return "-" if value is None or value == "" else str(value)


def _score(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:.1f}"
    return "-" if value is None else str(value)


#: Statuses the pipeline records (``running`` is never overwritten when the run is killed).
_STATUS_SHOWN = {"running": "unfinished"}


def _status(entry: Mapping[str, Any]) -> str:
    # The pipeline records the run's status (ok / threshold / failed / interrupted, or running
    # until it ends) and exit code: a breached threshold (1) or a failure (2, 3) shows here.
    status = str(entry.get("status") or "-")
    status = _STATUS_SHOWN.get(status, status)
    code = entry.get("exit_code")
    return (
        f"{status} exit {code}"
        if isinstance(code, int) and not isinstance(code, bool) and code != 0
        else status
    )


def _fetched(entry: Mapping[str, Any]) -> tuple[str, str]:
    fetched = entry.get("fetched")
    if not isinstance(fetched, Mapping) or not fetched:
        return "-", "-"
    total = sum(int(v) for v in fetched.values() if isinstance(v, int | float))
    order = list(_SHORT)  # the audit's main entities first, reference data after
    ranked = sorted(
        fetched.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else len(order), kv[0])
    )
    parts = [f"{_SHORT.get(str(k), str(k))} {v}" for k, v in ranked if v]
    return str(total), ", ".join(parts) or "-"


#: Width a history table fits (a terminal, a CI log): details that do not fit are cut with "…".
TABLE_WIDTH = 100


def _period(entry: Mapping[str, Any]) -> str:
    period = entry.get("period")
    if not isinstance(period, Mapping):
        return "-"
    return str(period.get("label") or f"{period.get('from', '?')}..{period.get('to', '?')}")


def _fit(text: str, width: int = TABLE_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def format_table(entries: list[dict[str, Any]]) -> str:
    """Entries as an aligned text table that fits :data:`TABLE_WIDTH` columns.

    One line per run (started, audited period, as-of, status, duration, requests, rows, score),
    then an indented line with the run id, the rule-set version and what was fetched, and the
    run's error when it has one.
    """
    headers = ("STARTED (UTC)", "PERIOD", "AS OF", "STATUS", "TIME", "REQUESTS", "ROWS", "SCORE")
    right = {"TIME", "REQUESTS", "ROWS", "SCORE"}
    rows: list[tuple[list[str], str, str | None]] = []
    for e in entries:
        total, detail = _fetched(e)
        version = e.get("ruleset_version")
        cells = [
            _minute(e.get("started") or e.get("recorded")),
            _period(e),
            _minute(e.get("as_of")),
            _status(e),
            _duration(e),
            _number(e.get("requests")),
            total,
            _score(e.get("score")),
        ]
        about = f"    run {e.get('run_id', '-')} · rules {str(version)[:10] if version else '-'} · fetched {detail}"
        error = e.get("error")
        rows.append((cells, about, " ".join(str(error).split()) if error else None))
    widths = [max(len(h), *(len(cells[i]) for cells, _, _ in rows)) for i, h in enumerate(headers)]

    def line(cells: list[str] | tuple[str, ...]) -> str:
        out = [
            c.rjust(w) if h in right else c.ljust(w) for h, c, w in zip(headers, cells, widths, strict=True)
        ]
        return _fit("  ".join(out).rstrip())

    lines = [line(headers)]
    for cells, about, error in rows:
        lines.append(line(cells))
        lines.append(_fit(about))
        if error:
            lines.append(_fit(f"    error: {error}"))
    return "\n".join(lines)
