"""The baseline ratchet: fail on a score drop or on findings new since a recorded baseline.

``--write-baseline`` records a run's scores and unwaived finding keys (JSON, deterministic, so
a committed baseline only changes when the audit's result does); ``--baseline`` compares a
later run with it, allowing ``--tolerance`` points of drop.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from audit.core.atomic import write_text_atomic
from audit.core.errors import ConfigError
from audit.results.thresholds import ThresholdResult, as_int, as_number, check_score, overall_cell
from audit.results.waivers import key_text

__all__ = [
    "BASELINE_FORMAT",
    "DEFAULT_TOLERANCE",
    "FINDING_KEY",
    "check_baseline",
    "finding_keys",
    "load_baseline",
    "truthy",
    "write_baseline",
]

#: The columns that identify one finding across runs (and in the QA workbook).
FINDING_KEY: tuple[str, str, str] = ("rule_id", "row_kind", "row_id")
#: Version of the baseline file layout (not of the rule set).
BASELINE_FORMAT = 1
#: Score drop (points) the baseline tolerates unless ``--tolerance`` says otherwise.
DEFAULT_TOLERANCE = 0.5


def finding_keys(findings: pd.DataFrame, *, include_waived: bool = False) -> set[tuple[str, str, str]]:
    """``(rule_id, row_kind, row_id)`` of every finding (unwaived ones unless ``include_waived``)."""
    if findings is None or findings.empty:
        return set()
    missing = [c for c in FINDING_KEY if c not in findings.columns]
    if missing:
        raise ValueError(f"findings lack the key columns {missing}")
    frame = findings
    if not include_waived and "waived" in frame.columns:
        frame = frame[~truthy(frame["waived"])]
    return {
        (key_text(r), key_text(k), key_text(i))
        for r, k, i in zip(frame["rule_id"], frame["row_kind"], frame["row_id"], strict=True)
    }


def truthy(column: pd.Series) -> pd.Series:
    # findings.csv read back gives "True"/"False" strings; the engine gives booleans.
    if column.dtype == bool:
        return column
    return column.map(lambda v: str(v).strip().lower() in ("true", "1", "yes")).astype(bool)


def _ruleset_version(summary: Mapping[str, Any]) -> str | None:
    """The rule-set version scoring records in ``summary["tenant"]["ruleset_version"]``."""
    tenant = summary.get("tenant")
    value = tenant.get("ruleset_version") if isinstance(tenant, Mapping) else None
    return str(value) if value and isinstance(value, str | int) else None


def _scores(summary: Mapping[str, Any]) -> dict[str, Any]:
    def section(name: str) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for key, entry in sorted((summary.get(name) or {}).items()):
            if isinstance(entry, Mapping):
                out[str(key)] = {
                    "score": as_number(entry.get("score")),
                    "applicable": as_int(entry.get("applicable")),
                }
        return out

    return {"overall": as_number(summary.get("score")), "steps": section("steps"), "rules": section("rules")}


def write_baseline(
    summary: Mapping[str, Any],
    findings: pd.DataFrame,
    path: str | Path,
    *,
    ruleset_version: str | None = None,
) -> Path:
    """Record the current scores and unwaived finding keys as the ratchet's baseline (JSON); returns the path.

    Deterministic (sorted keys, no timestamp beyond the summary's as-of) so a committed
    baseline only changes when the audit's result does.
    """
    document = {
        "format": BASELINE_FORMAT,
        "ruleset_version": ruleset_version or _ruleset_version(summary),
        "as_of": summary.get("as_of"),
        "period": summary.get("period"),
        "scores": _scores(summary),
        "findings": [list(k) for k in sorted(finding_keys(findings))],
    }
    # Atomic: never leave a half-written baseline behind.
    return write_text_atomic(path, json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def load_baseline(path: str | Path) -> dict[str, Any]:
    """Read a baseline written by :func:`write_baseline`; a bad file is a usage error (exit 2)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read baseline: {exc.strerror or exc}", file=str(p)) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"baseline is not JSON: {exc.msg}", file=str(p), line=exc.lineno) from exc
    except ValueError as exc:  # a number longer than int() converts (sys.get_int_max_str_digits)
        raise ConfigError("not a ticket-audit baseline: a number too long to read", file=str(p)) from exc
    except RecursionError as exc:  # arrays or objects nested deeper than the parser recurses
        raise ConfigError("not a ticket-audit baseline: nested too deeply", file=str(p)) from exc
    if not isinstance(data, dict) or data.get("format") != BASELINE_FORMAT or "scores" not in data:
        raise ConfigError(f"not a ticket-audit baseline (format {BASELINE_FORMAT} expected)", file=str(p))
    return data


def check_baseline(
    summary: Mapping[str, Any],
    findings: pd.DataFrame,
    baseline: Mapping[str, Any],
    tolerance: float = DEFAULT_TOLERANCE,
    *,
    min_sample: int = 5,
) -> list[ThresholdResult]:
    """The ratchet: fail on a score drop beyond ``tolerance`` points or on findings new since the baseline.

    Scores compared: overall, each step, each rule present in both. A low-sample current score
    does not fail on its own (same rule as thresholds). New findings are unwaived findings whose
    key is not in the baseline, counted only for rules the baseline knew (a rule added since
    is not a regression of the desk).
    """
    results: list[ThresholdResult] = []
    base_scores = baseline.get("scores") or {}
    current = _scores(summary)

    def compare(key: str, label: str, before: Any, entry: Mapping[str, Any]) -> None:
        old = as_number(before)
        if old is None:
            return
        threshold = old - tolerance
        result = check_score(
            "baseline",
            key,
            f"{label} vs baseline {old:g} (tolerance {tolerance:g})",
            threshold,
            entry,
            min_sample,
        )
        results.append(result)

    compare("overall", "overall score", base_scores.get("overall"), overall_cell(summary))
    for section, label in (("steps", "step"), ("rules", "rule")):
        now_section = summary.get(section) or {}
        for key, before in sorted((base_scores.get(section) or {}).items()):
            entry = now_section.get(key)
            if not isinstance(entry, Mapping) or key not in current[section]:
                continue  # removed or renamed since the baseline: nothing to compare
            if section == "rules" and entry.get("status") in ("disabled", "not_measured", "error"):
                continue
            compare(f"{label}:{key}", f"{label} {key}", (before or {}).get("score"), entry)

    known_rules = set((base_scores.get("rules") or {}).keys())
    before_keys = {tuple(key_text(p) for p in k) for k in baseline.get("findings") or []}
    new = sorted(
        k for k in finding_keys(findings) if k not in before_keys and (not known_rules or k[0] in known_rules)
    )
    total = len(finding_keys(findings))
    if new:
        # By ticket number first: what a reader looks up in Autotask.
        numbers: dict[tuple[str, str, str], str] = {}
        if "ticket_number" in findings.columns and len(findings):
            for r, kind, row, number in zip(
                findings["rule_id"],
                findings["row_kind"],
                findings["row_id"],
                findings["ticket_number"],
                strict=True,
            ):
                numbers[(key_text(r), key_text(kind), key_text(row))] = key_text(number)
        shown = [f"{numbers.get((r, kind, row)) or '(no ticket)'}: {r} {kind} {row}" for r, kind, row in new]
        results.append(
            ThresholdResult(
                "baseline",
                "new-findings",
                0.0,
                float(len(new)),
                total,
                False,
                False,
                f"{len(new)} finding(s) new since the baseline",
                tuple(shown),
            )
        )
    else:
        results.append(
            ThresholdResult(
                "baseline", "new-findings", 0.0, 0.0, total, False, True, "no finding new since the baseline"
            )
        )
    version_then, version_now = baseline.get("ruleset_version"), _ruleset_version(summary)
    if version_then and version_now and version_then != version_now:
        # Informational: scores of a changed rule set are still compared, but say so.
        results.append(
            ThresholdResult(
                "baseline",
                "ruleset-version",
                0.0,
                None,
                None,
                False,
                True,
                f"rule set changed since the baseline ({version_then} -> {version_now})",
            )
        )
    return results
