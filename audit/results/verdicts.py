"""The QA verdicts store and what the audit learns from it.

``review import`` records every reviewer's verdict in ``<store>/reviews/verdicts.json`` and the
Sample sheet's answers in ``samples.json`` beside it (outside ``snapshots/``, which the store
rotates). From the verdicts the run measures each rule's precision (:func:`rule_precision`),
flags the noisy rules (:func:`flag_noisy`) and excuses the findings reviewers called false
positives (:func:`mark_false_positives`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from audit.core.atomic import write_text_atomic
from audit.core.errors import ConfigError
from audit.results.waivers import key_text

__all__ = [
    "SAMPLES_FILE",
    "VERDICTS_FILE",
    "flag_noisy",
    "load_samples",
    "load_verdicts",
    "mark_false_positives",
    "merge_records",
    "review_lock",
    "rule_precision",
    "samples_path",
    "verdicts_path",
    "write_records",
]

#: Where the verdicts live inside the store folder (outside snapshots/, which the store rotates).
VERDICTS_FILE = Path("reviews") / "verdicts.json"
#: The Sample sheet's answers, keyed ``step|ticket_id``.
SAMPLES_FILE = Path("reviews") / "samples.json"
_VERDICTS_FORMAT = 1


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


def write_records(path: Path, key: str, records: Mapping[str, Mapping[str, Any]]) -> None:
    document = {"format": _VERDICTS_FORMAT, key: {k: records[k] for k in sorted(records)}}
    # Atomic: a killed import never leaves half a store.
    write_text_atomic(path, json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def merge_records(
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
