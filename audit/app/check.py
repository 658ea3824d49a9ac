"""``check``: the gate over a previous run's output folder.

Reads ``summary.json`` and ``findings.csv`` from the folder (with waivers given now, the scoring
inputs the run saved, scored again through the one scoring path), passes the one gate
(:func:`audit.results.gate.run_gate`, as ``run`` does), writes ``gate.json`` (and re-renders
``junit.xml`` / ``summary.md`` with the threshold test cases) and returns the exit code. What it has to say is handed to ``echo`` line by line, as it happens.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from audit.core.config import Thresholds
from audit.core.errors import EXIT_RUNTIME, AuditRuntimeError
from audit.render.junit import write_junit
from audit.render.markdown import write_summary_md
from audit.results.baseline import DEFAULT_TOLERANCE, write_baseline
from audit.results.gate import (
    GateOutcome,
    annotations_enabled,
    github_annotations,
    outcome_lines,
    run_gate,
    write_gate_file,
)
from audit.results.rescoring import REVIEW_KEYS, SCORING_DIR, ScoringInputs, read_scoring_inputs, score_inputs
from audit.results.thresholds import ThresholdResult
from audit.results.waivers import WaiverFile

__all__ = ["Checked", "check_outputs", "check_run_folder", "read_findings", "read_summary"]


@dataclass(frozen=True)
class Checked:
    """What ``check`` gated: the gate's outcome, the summary and the period's findings it judged
    (the run's, or scored again with the waivers given to ``check``)."""

    outcome: GateOutcome
    summary: Mapping[str, Any]
    findings: pd.DataFrame

    @property
    def exit_code(self) -> int:
        return self.outcome.exit_code


def read_summary(out_dir: Path) -> dict[str, Any]:
    """``summary.json`` of a previous run; missing or unreadable is a runtime error (exit 3)."""
    path = out_dir / "summary.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise AuditRuntimeError(
            f"{path}: no summary.json (run `ticket-audit evaluate` or `run` first)"
        ) from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AuditRuntimeError(f"{path}: unreadable summary: {exc}") from exc
    if not isinstance(data, dict) or "rules" not in data:
        raise AuditRuntimeError(f"{path}: not a ticket-audit summary (no 'rules')")
    return data


def read_findings(out_dir: Path) -> pd.DataFrame:
    """``findings.csv`` of a previous run, every column as text except ``waived`` (bool)."""
    path = out_dir / "findings.csv"
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError as exc:
        raise AuditRuntimeError(
            f"{path}: no findings.csv (run `ticket-audit evaluate` or `run` first)"
        ) from exc
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise AuditRuntimeError(f"{path}: unreadable findings: {exc}") from exc
    except pd.errors.EmptyDataError:
        frame = pd.DataFrame(columns=["rule_id", "row_kind", "row_id", "waived"])
    if "waived" not in frame.columns:
        frame["waived"] = False
    # CSV booleans are text ("true"/"false"): convert, or "false" would read as truthy.
    frame["waived"] = (
        frame["waived"].map(lambda v: str(v).strip().lower() in ("true", "1", "yes")).astype(bool)
    )
    return frame


def check_run_folder(
    out_dir: Path,
    thresholds: Thresholds,
    *,
    echo: Callable[[str], None],
    baseline: Mapping[str, Any] | None = None,
    write_baseline_to: Path | None = None,
    waivers: WaiverFile | None = None,
    as_of: datetime | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> Checked:
    """``check``: read a run's outputs from ``out_dir`` and gate them (:func:`check_outputs`).

    A runtime error (exit 3: the run's outputs missing or unreadable, a render failing) is also
    written into ``gate.json`` when the folder exists, so a CI job never reads a previous
    check's verdict beside a failed one; then it is raised.
    """
    try:
        summary = read_summary(out_dir)
        # Waivers are scored from the inputs the run saved beside its summary (exit 3 without them).
        scoring = read_scoring_inputs(out_dir / SCORING_DIR) if waivers is not None else None
        if scoring is not None:
            findings = pd.DataFrame()  # the period's findings come from the scoring inputs
        elif baseline is not None or write_baseline_to is not None or (out_dir / "findings.csv").exists():
            findings = read_findings(out_dir)
        else:
            findings = pd.DataFrame(columns=["rule_id", "row_kind", "row_id", "waived"])
        return check_outputs(
            summary,
            findings,
            thresholds,
            echo=echo,
            out_dir=out_dir,
            baseline=baseline,
            write_baseline_to=write_baseline_to,
            waivers=waivers,
            scoring=scoring,
            as_of=as_of,
            tolerance=tolerance,
        )
    except AuditRuntimeError as exc:
        if out_dir.is_dir():
            write_gate_file(out_dir, exit_code=EXIT_RUNTIME, runtime_errors=[str(exc)], results=[])
        raise


def check_outputs(
    summary: Mapping[str, Any],
    findings: pd.DataFrame,
    thresholds: Thresholds,
    *,
    echo: Callable[[str], None],
    out_dir: Path | None = None,
    baseline: Mapping[str, Any] | None = None,
    write_baseline_to: Path | None = None,
    waivers: WaiverFile | None = None,
    scoring: ScoringInputs | None = None,
    as_of: datetime | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    render: bool = True,
) -> Checked:
    """Pass the gate (``thresholds`` resolved, ``baseline`` loaded) over a run's ``summary`` and
    period ``findings``, write its outputs into ``out_dir``, and return the exit code.

    With ``waivers``, the run is first scored again from the inputs it saved (``scoring``, read
    by :func:`audit.results.rescoring.read_scoring_inputs`) with these waivers in place of the
    run's, judged active at ``as_of`` (default: the run's as-of, so re-checking an old run is
    reproducible): the gate then sees what ``run --waivers`` would have produced.
    """
    current = dict(summary)
    waiver_report = None
    if waivers is not None:
        if scoring is None:
            raise AuditRuntimeError(
                "check --waivers scores the run again from its scoring inputs, and this output has "
                "none: re-run `ticket-audit run` (or `evaluate`) to write them"
            )
        # The one scoring path, as `run --waivers` takes it; the reviewers' measures carry over.
        scored = score_inputs(scoring, waivers, waivers_as_of=as_of)
        current = {**scored.summary, **{key: summary[key] for key in REVIEW_KEYS if key in summary}}
        findings = scored.findings
        waiver_report = scored.waiver_report
        for line in waiver_report.lines() if waiver_report is not None else []:
            echo(line)

    outcome = run_gate(current, findings, thresholds, baseline=baseline, tolerance=tolerance)
    for line in outcome_lines(outcome):
        echo(line)
    if annotations_enabled():
        for line in github_annotations(outcome.results, runtime_errors=outcome.runtime_errors):
            echo(line)
        # Stale waivers never fail the gate, but someone has to renew or delete them.
        for entry in waiver_report.expired if waiver_report else []:
            echo(
                f"::warning title=ticket-audit waiver expired::{entry['where']}: {entry['waiver']} "
                f"expired on {entry['expires']}"
            )

    if write_baseline_to is not None:
        write_baseline(current, findings, write_baseline_to)
        echo(f"wrote baseline {write_baseline_to}")
    if out_dir is not None:
        write_gate_file(
            out_dir,
            exit_code=outcome.exit_code,
            runtime_errors=outcome.runtime_errors,
            results=outcome.results,
            # Without waivers of its own, check gates the run's summary: its waiver report stands.
            waivers=waiver_report.as_dict() if waiver_report else current.get("waivers"),
        )
        if render:
            _render(current, findings, out_dir, outcome.results)
    echo(
        {0: "gate: passed", 1: "gate: threshold breached", 3: "gate: runtime error"}.get(
            outcome.exit_code, f"gate: exit {outcome.exit_code}"
        )
    )
    return Checked(outcome, current, findings)


def _render(
    summary: Mapping[str, Any], findings: pd.DataFrame, out_dir: Path, results: list[ThresholdResult]
) -> None:
    """Re-render the CI outputs with the threshold test cases (the renderers own the formats).

    junit.xml is always written (CI test reports want the threshold cases); summary.md only
    when the report step wrote one (an `evaluate`-only folder has no report to amend).
    """

    try:
        write_junit(summary, findings, out_dir / "junit.xml", results)
        if (out_dir / "summary.md").exists():
            write_summary_md(summary, out_dir / "summary.md", results)
    except (KeyError, TypeError, ValueError, OSError) as exc:
        raise AuditRuntimeError(
            f"rendering junit.xml / summary.md failed: {type(exc).__name__}: {exc}"
        ) from exc
