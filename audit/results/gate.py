"""The CI gate: thresholds and the baseline ratchet over a run's summary → one outcome.

:func:`run_gate` is the one gate ``run`` and ``check`` both pass through: the configured
thresholds (:mod:`audit.results.thresholds`), then, with a baseline, the ratchet
(:mod:`audit.results.baseline`), and the exit code they give together with the rules that
failed to evaluate. The rest of this module writes the outcome down: ``gate.json``, console
lines and GitHub workflow annotations.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from audit.core.atomic import write_text_atomic
from audit.core.config import SEVERITY_WEIGHTS, Thresholds
from audit.results.baseline import DEFAULT_TOLERANCE, check_baseline, truthy
from audit.results.compliance import recount_compliance
from audit.results.scoring import rule_cost
from audit.results.summary import ratio
from audit.results.thresholds import (
    ThresholdResult,
    as_number,
    evaluate_thresholds,
    gate_exit_code,
    rule_errors,
)

__all__ = [
    "GATE_FILE",
    "GateOutcome",
    "annotations_enabled",
    "describe_threshold",
    "github_annotations",
    "outcome_lines",
    "rescore_waived",
    "results_as_dicts",
    "run_gate",
    "write_gate_file",
]

#: The gate's own output in ``--out`` (``run`` and ``check``): threshold results, exit code, waivers.
GATE_FILE = "gate.json"


@dataclass(frozen=True)
class GateOutcome:
    """What the gate decided: each check's result, the runtime errors, and the exit code."""

    results: list[ThresholdResult] = field(default_factory=list)
    runtime_errors: list[str] = field(default_factory=list)
    exit_code: int = 0

    def with_runtime_errors(self, errors: Sequence[str]) -> GateOutcome:
        """This outcome once a later step failed too (a mail not sent): a runtime error, exit 3."""
        if not errors:
            return self
        return replace(
            self,
            runtime_errors=[*self.runtime_errors, *errors],
            exit_code=gate_exit_code(self.results, runtime_error=True),
        )


def run_gate(
    summary: Mapping[str, Any],
    findings: pd.DataFrame,
    thresholds: Thresholds,
    *,
    baseline: Mapping[str, Any] | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> GateOutcome:
    """Check ``thresholds`` (already resolved: ``--fail-under`` applied) and, given a loaded
    ``baseline``, the ratchet (``tolerance`` points of drop allowed) against ``summary`` and the
    period's ``findings``; a rule that failed to evaluate makes it a runtime error (exit 3)."""
    results = evaluate_thresholds(summary, thresholds)
    if baseline is not None:
        results += check_baseline(summary, findings, baseline, tolerance, min_sample=thresholds.min_sample)
    errors = rule_errors(summary)
    return GateOutcome(results, errors, gate_exit_code(results, runtime_error=bool(errors)))


# ---------------------------------------------------------------------------------------------
# waivers applied after scoring (ticket-audit check --waivers)


def _entity_key(value: Any) -> str:
    number = as_number(value)
    return "unassigned" if number is None else str(int(number))


def _move_to_passed(cell: Any, weight: float, *, weighted: bool) -> None:
    """One failed check of a score cell becomes a waived (passed) one; the score follows."""
    if not isinstance(cell, dict) or not cell.get("failed"):
        return
    cell["failed"] -= 1
    cell["passed"] = cell.get("passed", 0) + 1
    cell["waived"] = cell.get("waived", 0) + 1
    if not weighted:
        cell["score"] = ratio(cell["passed"], cell.get("applicable") or 0)
    elif "weighted_passed" in cell and "weighted_applicable" in cell:
        cell["weighted_passed"] = round(float(cell["weighted_passed"]) + weight, 4)
        cell["score"] = ratio(cell["weighted_passed"], float(cell["weighted_applicable"]))


def rescore_waived(
    summary: Mapping[str, Any], findings: pd.DataFrame, newly_waived: pd.Series
) -> dict[str, Any]:
    """``summary`` with findings waived after scoring counted as passed (a deep copy).

    ``check --waivers`` applies waivers to a previous run's findings; this moves each newly
    waived finding from failed to passed in its rule, step, technician, queue and overall cells,
    using the weighted sums scoring stores, so the gate sees the same scores a fresh run would.
    """
    out: dict[str, Any] = copy.deepcopy(dict(summary))
    if findings.empty or not bool(newly_waived.any()):
        return out
    rules = out.get("rules") or {}
    steps = out.get("steps") or {}
    techs = {str(e.get("key")): e for e in out.get("technicians") or [] if isinstance(e, dict)}
    queues = {str(e.get("key")): e for e in out.get("queues") or [] if isinstance(e, dict)}
    for row in findings[newly_waived.astype(bool)].to_dict("records"):
        rule = rules.get(str(row.get("rule_id")))
        weight = as_number(row.get("weight"))
        if weight is None:
            weight = as_number((rule or {}).get("weight")) or float(
                SEVERITY_WEIGHTS.get(str(row.get("severity")), 1)
            )
        step = str(row.get("step") or (rule or {}).get("step") or "")
        _move_to_passed(rule, weight, weighted=False)
        if isinstance(rule, dict) and "cost" in rule:  # the points a failure costs, as scoring counts them
            total = as_number((out.get("overall") or {}).get("weighted_applicable")) or 0.0
            rule["cost"] = rule_cost(weight, int(rule.get("failed") or 0), total)
        _move_to_passed(steps.get(step), weight, weighted=True)
        _move_to_passed(out.get("overall"), weight, weighted=True)
        for table, column in ((techs, "technician_id"), (queues, "queue_id")):
            entity = table.get(_entity_key(row.get(column)))
            if entity is not None:
                _move_to_passed(entity, weight, weighted=True)
                _move_to_passed((entity.get("steps") or {}).get(step), weight, weighted=True)
    if isinstance(out.get("overall"), dict):
        out["score"] = out["overall"].get("score", out.get("score"))
    open_now = (
        ~truthy(findings["waived"]) & ~newly_waived.astype(bool) if "waived" in findings else ~newly_waived
    )
    recount_compliance(out, findings[open_now.to_numpy()])
    return out


# ---------------------------------------------------------------------------------------------
# output


def describe_threshold(result: ThresholdResult) -> str:
    """One console line: ``PASS``/``FAIL``/``WARN`` then the message."""
    tag = "FAIL" if not result.passed else ("WARN" if result.warning else "PASS")
    return f"{tag} {result.message}"


#: Detail lines printed per result (the rest are counted; junit.xml and gate.json list all).
_MAX_DETAILS = 20


def outcome_lines(outcome: GateOutcome) -> list[str]:
    """The gate's console report: each runtime error, then every failure and warning by name;
    passing baseline comparisons (one per rule and step) are only counted."""
    lines = [f"ERROR {message}" for message in outcome.runtime_errors]
    results = outcome.results
    quiet = [r for r in results if r.kind == "baseline" and r.passed and not r.warning]
    for result in results:
        if result in quiet:
            continue
        lines.append(describe_threshold(result))
        lines += [f"    {detail}" for detail in result.details[:_MAX_DETAILS]]
        if len(result.details) > _MAX_DETAILS:
            lines.append(f"    … and {len(result.details) - _MAX_DETAILS} more")
    if quiet:
        lines.append(f"PASS baseline: {len(quiet)} comparison(s) within tolerance")
    if not results:
        lines.append("no thresholds configured (use --fail-under or [thresholds] in the config)")
    return lines


def results_as_dicts(results: Sequence[ThresholdResult]) -> list[dict[str, Any]]:
    """Plain dicts for renderers (JUnit test cases, summary.md table, gate.json)."""
    return [r.as_dict() for r in results]


def write_gate_file(
    out_dir: str | Path,
    *,
    exit_code: int,
    runtime_errors: Sequence[str],
    results: Sequence[ThresholdResult],
    waivers: Mapping[str, Any] | None = None,
    name: str = GATE_FILE,
) -> Path:
    """Write ``gate.json`` (the gate's results as plain data) into ``out_dir``; returns its path."""
    document = {
        "exit_code": exit_code,
        "runtime_errors": list(runtime_errors),
        "results": results_as_dicts(results),
        "waivers": dict(waivers) if waivers is not None else None,
    }
    return write_text_atomic(
        Path(out_dir) / name, json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    )


def annotations_enabled(env: Mapping[str, str] | None = None) -> bool:
    """GitHub Actions sets ``GITHUB_ACTIONS=true`` in every step."""
    value = (os.environ if env is None else env).get("GITHUB_ACTIONS", "")
    return value.strip().lower() not in ("", "0", "false", "no")


def _escape_data(text: str) -> str:
    # Workflow-command escaping (actions/toolkit): %, CR and LF in the message.
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotations(
    results: Iterable[ThresholdResult], *, runtime_errors: Iterable[str] = ()
) -> list[str]:
    """``::error``/``::warning`` workflow-command lines for failed and low-sample results."""
    lines = [
        f"::error title={_escape_property('ticket-audit runtime error')}::{_escape_data(m)}"
        for m in runtime_errors
    ]
    for result in results:
        if not result.passed:
            level = "error"
        elif result.warning:
            level = "warning"
        else:
            continue
        message = result.message
        if result.details:
            message += "\n" + "\n".join(result.details[:50])
        lines.append(
            f"::{level} title={_escape_property('ticket-audit ' + result.name)}::{_escape_data(message)}"
        )
    return lines
