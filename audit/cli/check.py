"""``ticket-audit check``: the CI gate over a previous run's output.

``check`` reads ``summary.json`` and ``findings.csv`` from ``--out``, applies waivers, checks
thresholds and the baseline ratchet, prints one line per check (plus GitHub annotations under
GitHub Actions), writes ``gate.json`` (and re-renders ``junit.xml`` / ``summary.md`` with the
threshold test cases), and exits 0 / 1 / 2 / 3. :func:`run_gate` is the same step for the
``run`` command, which has the summary and findings in memory.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import pandas as pd

from audit.cli._options import as_of_option, config_option, out_option, waivers_file, waivers_option
from audit.core.config import Config, load_config
from audit.core.errors import AuditRuntimeError
from audit.core.period import parse_as_of
from audit.core.safetext import console_text
from audit.render.junit import write_junit
from audit.render.markdown import write_summary_md
from audit.results.gate import (
    GATE_FILE,
    ThresholdResult,
    annotations_enabled,
    check_baseline,
    evaluate_thresholds,
    exit_code,
    format_result,
    github_annotations,
    load_baseline,
    rescore_waived,
    resolve_thresholds,
    rule_errors,
    write_baseline,
    write_gate_file,
)
from audit.results.waivers import WaiverFile, WaiverReport, apply_waivers, load_waivers

__all__ = ["COMMAND", "GATE_FILE", "read_findings", "read_summary", "run_gate"]


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


def _one_line(echo: Callable[[str], None]) -> Callable[[str], None]:
    def echo_line(line: str) -> None:
        echo(console_text(line))

    return echo_line


def run_gate(
    summary: Mapping[str, Any],
    findings: pd.DataFrame,
    config: Config,
    *,
    out_dir: Path | None = None,
    fail_under: float | None = None,
    baseline: Path | None = None,
    write_baseline_to: Path | None = None,
    waivers: WaiverFile | None = None,
    as_of: datetime | None = None,
    tolerance: float = 0.5,
    render: bool = True,
    echo: Callable[[str], None] = click.echo,
) -> int:
    """Apply waivers, check thresholds and the baseline, report, and return the exit code.

    Configuration problems (bad flag, threshold naming an unknown step or rule, unreadable
    baseline) raise :class:`ConfigError` before anything is written.
    """
    thresholds = resolve_thresholds(config.thresholds, fail_under=fail_under)
    baseline_doc = load_baseline(baseline) if baseline is not None else None
    echo = _one_line(echo)  # technician and queue names are tenant text: one message, one line

    current = dict(summary)
    waiver_report = None
    if waivers is not None:
        current, findings, waiver_report = _waive(current, findings, waivers, as_of)
        for line in waiver_report.lines():
            echo(line)

    results = evaluate_thresholds(current, thresholds)
    errors = rule_errors(current)
    if baseline_doc is not None:
        results += check_baseline(
            current, findings, baseline_doc, tolerance, min_sample=thresholds.min_sample
        )
    code = exit_code(results, runtime_error=bool(errors))

    _echo_results(results, errors, echo)
    if annotations_enabled():
        for line in github_annotations(results, runtime_errors=errors):
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
            exit_code=code,
            runtime_errors=errors,
            results=results,
            waivers=waiver_report.as_dict() if waiver_report else None,
        )
        if render:
            _render(current, findings, out_dir, results)
    echo(
        {0: "gate: passed", 1: "gate: threshold breached", 3: "gate: runtime error"}.get(
            code, f"gate: exit {code}"
        )
    )
    return code


def _waive(
    summary: dict[str, Any], findings: pd.DataFrame, waivers: WaiverFile, as_of: datetime | None
) -> tuple[dict[str, Any], pd.DataFrame, WaiverReport]:
    """The run re-scored with ``waivers`` applied to its findings: (summary, findings, report)."""
    before = (
        findings["waived"].fillna(False).astype(bool)
        if "waived" in findings.columns
        else pd.Series(False, index=findings.index)
    )
    # Waivers expire against the audited instant, so re-checking an old run is reproducible.
    day = as_of
    if day is None and summary.get("as_of"):
        day = parse_as_of(str(summary["as_of"]))
    findings, waiver_report = apply_waivers(findings, waivers, as_of=day or parse_as_of(None))
    current = rescore_waived(summary, findings, findings["waived"] & ~before)
    current["waivers"] = waiver_report.as_dict()  # summary.md lists the expired and unmatched ones
    return current, findings, waiver_report


def _echo_results(results: list[ThresholdResult], errors: list[str], echo: Callable[[str], None]) -> None:
    """The gate's console report: failed rules, then every failure and warning by name (passing
    baseline comparisons, one per rule and step, only counted)."""
    for message in errors:
        echo(f"ERROR {message}")
    quiet = [r for r in results if r.kind == "baseline" and r.passed and not r.warning]
    for result in results:
        if result in quiet:
            continue
        echo(format_result(result))
        for detail in result.details[:20]:
            echo(f"    {detail}")
        if len(result.details) > 20:
            echo(f"    … and {len(result.details) - 20} more")
    if quiet:
        echo(f"PASS baseline: {len(quiet)} comparison(s) within tolerance")
    if not results:
        echo("no thresholds configured (use --fail-under or [thresholds] in the config)")


def _render(summary: Mapping[str, Any], findings: pd.DataFrame, out_dir: Path, results: list[Any]) -> None:
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


@click.command("check")
@out_option
@config_option
@click.option(
    "--fail-under", type=float, default=None, help="Overall score threshold (overrides thresholds.overall)."
)
@click.option(
    "--baseline",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Fail on a score drop or on findings new since this baseline.",
)
@click.option(
    "--write-baseline",
    "write_baseline_to",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Record this run as the baseline.",
)
@click.option(
    "--tolerance",
    type=click.FloatRange(min=0),
    default=0.5,
    show_default=True,
    help="Score drop (points) the baseline tolerates.",
)
@waivers_option
@as_of_option
@click.pass_context
def check_command(
    ctx: click.Context,
    out_dir: Path,
    config_file: Path | None,
    fail_under: float | None,
    baseline: Path | None,
    write_baseline_to: Path | None,
    tolerance: float,
    waivers: Path | None,
    as_of: str | None,
) -> None:
    """Gate a previous run: thresholds and baseline -> exit 0 (met), 1 (breached), 2 (config), 3 (runtime).

    Reads summary.json and findings.csv of the run from --out, and writes gate.json there.
    """
    # Configuration first (exit 2, nothing read), then the run's outputs (exit 3).
    config = load_config(config_file)
    resolve_thresholds(config.thresholds, fail_under=fail_under)
    waiver_file = waivers_file(waivers, config)
    waiver_doc = load_waivers(waiver_file) if waiver_file is not None else None
    if baseline is not None:
        load_baseline(baseline)
    instant = parse_as_of(as_of) if as_of else None
    summary = read_summary(out_dir)
    needs_findings = waiver_doc is not None or baseline is not None or write_baseline_to is not None
    if needs_findings or (out_dir / "findings.csv").exists():
        findings = read_findings(out_dir)
    else:
        findings = pd.DataFrame(columns=["rule_id", "row_kind", "row_id", "waived"])
    code = run_gate(
        summary,
        findings,
        config,
        out_dir=out_dir,
        fail_under=fail_under,
        baseline=baseline,
        write_baseline_to=write_baseline_to,
        waivers=waiver_doc,
        as_of=instant,
        tolerance=tolerance,
    )
    ctx.exit(code)


COMMAND: click.Command = check_command
