"""A minimal ``summary.json`` and ``findings.csv`` writer (until audit/scoring.py lands).

Scores follow the catalog: a scorecard score is Σ weight × passed / Σ weight × applicable,
as a percentage; a score with no applicable check is null. Output is byte-stable: keys sorted,
floats rounded to 2 decimals, no "now" anywhere.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from audit.config import Config
from audit.engine.evaluate import FINDING_COLUMNS, Evaluation

__all__ = ["build_summary", "score", "write_findings_csv", "write_summary_json"]


def score(weighted_passed: float, weighted_applicable: float) -> float | None:
    """A percentage in [0, 100], or None when nothing was applicable."""
    if weighted_applicable <= 0:
        return None
    value = 100.0 * weighted_passed / weighted_applicable
    return round(min(100.0, max(0.0, value)), 2)


def _stamp(value: Any) -> str:
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def _group(tallies: pd.DataFrame, keys: list[str], min_sample: int) -> list[dict[str, Any]]:
    if tallies.empty:
        return []
    t = tallies.assign(wp=tallies["weight"] * tallies["passed"], wa=tallies["weight"] * tallies["applicable"])
    grouped = t.groupby(keys, dropna=False, sort=True, observed=True)[["applicable", "passed", "failed", "wp", "wa"]].sum().reset_index()
    out = []
    for row in grouped.itertuples(index=False):  # one row per technician/queue/step, not per ticket
        record: dict[str, Any] = {k: (None if pd.isna(getattr(row, k)) else (int(getattr(row, k)) if k.endswith("_id") else str(getattr(row, k)))) for k in keys}
        record.update({
            "applicable": int(row.applicable), "passed": int(row.passed), "failed": int(row.failed),
            "score": score(float(row.wp), float(row.wa)), "low_sample": int(row.applicable) < min_sample,
        })
        out.append(record)
    return out


def build_summary(evaluation: Evaluation, config: Config) -> dict[str, Any]:
    """The ``summary.json`` document (a basic one: see the module docstring)."""
    tallies = evaluation.tallies
    min_sample = config.thresholds.min_sample
    per_rule = tallies.groupby("rule_id", sort=True, observed=True)[["applicable", "passed", "failed"]].sum() if not tallies.empty else None
    rules: dict[str, Any] = {}
    for rule_id, status in evaluation.rules.items():
        row = per_rule.loc[rule_id] if per_rule is not None and rule_id in per_rule.index else None
        applicable = int(row["applicable"]) if row is not None else 0
        passed = int(row["passed"]) if row is not None else 0
        rules[rule_id] = {
            "name": status.name, "step": status.step, "severity": status.severity, "weight": round(status.weight, 4),
            "applicable": applicable, "passed": passed, "failed": applicable - passed, "waived": 0,
            "score": score(passed, applicable), "status": status.status,
            **({"error": status.error} if status.error else {}),
        }
    total_wp = float((tallies["weight"] * tallies["passed"]).sum()) if not tallies.empty else 0.0
    total_wa = float((tallies["weight"] * tallies["applicable"]).sum()) if not tallies.empty else 0.0
    steps = {r["step"]: {k: v for k, v in r.items() if k != "step"} for r in _group(tallies, ["step"], min_sample)}
    return {
        "score": score(total_wp, total_wa),
        "applicable": int(tallies["applicable"].sum()) if not tallies.empty else 0,
        "period": evaluation.period.as_dict(),
        "as_of": _stamp(evaluation.as_of),
        "ruleset": evaluation.ruleset_digest,
        "rules": rules,
        "steps": steps,
        "technicians": _group(tallies, ["technician_id", "technician"], min_sample),
        "queues": _group(tallies, ["queue_id", "queue"], min_sample),
    }


def write_summary_json(evaluation: Evaluation, config: Config, path: str | Path) -> Path:
    p = Path(path)
    text = json.dumps(build_summary(evaluation, config), indent=2, sort_keys=True, ensure_ascii=False)
    p.write_text(text + "\n", encoding="utf-8")
    return p


def write_findings_csv(evaluation: Evaluation, path: str | Path) -> Path:
    """``findings.csv``: the findings frame with ISO-8601 UTC instants and fixed float format."""
    frame = evaluation.findings[list(FINDING_COLUMNS)].copy()
    frame["anchor_date"] = frame["anchor_date"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    frame["waived"] = frame["waived"].map({True: "true", False: "false"})
    p = Path(path)
    frame.to_csv(p, index=False, lineterminator="\n", float_format="%.4g", encoding="utf-8")
    return p
