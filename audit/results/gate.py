"""The CI gate: thresholds and the baseline ratchet over a run's summary → one outcome.

:func:`run_gate` is the one gate ``run`` and ``check`` both pass through: the configured
thresholds (:mod:`audit.results.thresholds`), then, with a baseline, the ratchet
(:mod:`audit.results.baseline`), and the exit code they give together with the rules that
failed to evaluate. The rest of this module writes the outcome down: ``gate.json``, console
lines and GitHub workflow annotations.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from audit.core.atomic import write_text_atomic
from audit.core.config import Thresholds
from audit.results.baseline import DEFAULT_TOLERANCE, check_baseline
from audit.results.thresholds import (
    ThresholdResult,
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
