"""The nightly job, end to end: extract → frames → engine → waivers → scoring → outputs → gate.

Each step is a plain function of the parts; this module only chains them, so that ``run``,
``demo``, ``report`` and ``evaluate`` share one path and cannot drift apart. Everything that can
be wrong with the configuration (config, rules, waivers, thresholds) is checked before any
data is read or any request is sent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audit.config import Config
from audit.errors import EXIT_RUNTIME, AuditRuntimeError
from audit.period import Period

if TYPE_CHECKING:
    from audit.autotask import AutotaskClient
    from audit.engine import Evaluation, RuleSet
    from audit.extract import ExtractReport
    from audit.gate import ThresholdResult
    from audit.scoring import Summary
    from audit.store import Store
    from audit.waivers import WaiverFile, WaiverReport

__all__ = ["Assessment", "JobOptions", "JobResult", "assess", "prepare", "run_job", "trend_range"]

log = logging.getLogger(__name__)


@dataclass
class Prepared:
    """What is validated before any data is touched."""

    ruleset: RuleSet
    waivers: WaiverFile | None


def prepare(config: Config, *, rules_dir: str | Path | None = None, waivers_file: str | Path | None = None) -> Prepared:
    """Load and validate the rules and the waivers (ConfigError, exit 2, when either is wrong)."""
    from audit.engine import load_ruleset
    from audit.waivers import load_waivers

    ruleset = load_ruleset(rules_dir if rules_dir is not None else config.rules_dir, config)
    source = waivers_file if waivers_file is not None else config.waivers.file
    waivers = load_waivers(source) if source and Path(source).exists() else None
    if source and waivers_file is not None and not Path(source).exists():
        from audit.errors import ConfigError

        raise ConfigError("waivers file not found", file=str(source))
    return Prepared(ruleset, waivers)


def trend_range(period: Period, weeks: int) -> Period:
    """The period widened to the ``weeks`` ISO weeks ending with it (trends come from it)."""
    back = period.weeks_back(weeks)
    return Period(min(back[0].start, period.start), max(period.end, back[-1].end))


@dataclass
class Assessment:
    """The evaluated store: the evaluation over the trend range (waivers applied) and its summary."""

    evaluation: Evaluation
    summary: Summary
    findings: Any  # pandas.DataFrame: the period's findings (waived flags set)
    waiver_report: WaiverReport | None
    current: Evaluation | None = None


def assess(
    store: Store,
    config: Config,
    prepared: Prepared,
    *,
    period: Period,
    as_of: datetime,
) -> Assessment:
    """Evaluate the store for ``period`` (and the trend weeks before it) as of ``as_of``."""
    from audit.engine import evaluate
    from audit.frames import load_frames
    from audit.review import load_verdicts, rule_precision, verdicts_path
    from audit.scoring import period_findings, score
    from audit.waivers import apply_waivers

    frames = load_frames(store, config)
    wide = trend_range(period, config.report.trend_weeks)
    evaluation = evaluate(frames, prepared.ruleset, config, period=wide, as_of=as_of)
    current = None
    if period.start.weekday() != 0 or (period.end - period.start).days % 7 != 6:
        # Not whole ISO weeks: the period's own scores need an evaluation over exactly the period.
        current = evaluate(frames, prepared.ruleset, config, period=period, as_of=as_of)
    waiver_report = None
    if prepared.waivers is not None:
        waived, waiver_report = apply_waivers(evaluation.findings, prepared.waivers, as_of=as_of)
        evaluation = replace(evaluation, findings=waived)
        if current is not None:
            current = replace(current, findings=apply_waivers(current.findings, prepared.waivers, as_of=as_of)[0])
    state = store.state
    tenant = {
        "name": frames.tenant_name,
        # The zone name identifies the Autotask database; the web URL stands in where discovery
        # was skipped (AUTOTASK_ZONE_URL). The QA workbook carries it so a review of another
        # tenant is refused on import.
        "id": state.zone_name or state.web_url or frames.web_url or None,
        "zone": state.zone_name,
        "web_url": state.web_url or frames.web_url,
        "ruleset_version": state.rule_set_version or prepared.ruleset.digest,
    }
    summary = score(evaluation, config, period, as_of=as_of, current=current, tenant=tenant)
    verdicts = load_verdicts(verdicts_path(store.path))
    if verdicts:
        summary["precision"] = rule_precision(verdicts)
    if waiver_report is not None:
        summary["waivers"] = waiver_report.as_dict()
    findings = current.findings if current is not None else period_findings(evaluation, period)
    return Assessment(evaluation, summary, findings, waiver_report, current)


@dataclass
class JobOptions:
    store_dir: Path
    out_dir: Path
    period: Period
    as_of: datetime
    fail_under: float | None = None
    baseline: Path | None = None
    write_baseline: Path | None = None
    mail_to: Sequence[str] = ()
    extract: bool = True
    progress: bool | None = None


@dataclass
class JobResult:
    exit_code: int
    outputs: dict[str, Path] = field(default_factory=dict)
    summary: Summary | None = None
    thresholds: list[ThresholdResult] = field(default_factory=list)
    extract_report: ExtractReport | None = None
    messages: list[str] = field(default_factory=list)


def run_job(
    config: Config,
    prepared: Prepared,
    options: JobOptions,
    *,
    client_factory: Callable[[], AutotaskClient] | None = None,
) -> JobResult:
    """The nightly job under the store's lock. Returns the exit code of the gate (0/1/3)."""
    from audit.extract import extract
    from audit.gate import (
        GATE_FILE,
        annotations_enabled,
        check_baseline,
        evaluate_thresholds,
        exit_code,
        github_annotations,
        load_baseline,
        resolve_thresholds,
        rule_errors,
        write_baseline,
        write_gate_file,
    )
    from audit.history import record_run
    from audit.render.pipeline import render_all
    from audit.store import Store

    started = time.monotonic()
    store = Store(options.store_dir)
    result = JobResult(exit_code=0)
    thresholds = resolve_thresholds(config.thresholds, fail_under=options.fail_under)
    baseline = load_baseline(options.baseline) if options.baseline is not None else None
    with store.lock():
        if options.extract and client_factory is not None:
            with client_factory() as client:
                result.extract_report = extract(
                    client, store, config, as_of=options.as_of, progress=options.progress, lock=False
                )
            store.refresh()
        if not store.exists():
            raise AuditRuntimeError(f"no snapshot in {store.path}: run `ticket-audit extract` first")
        assessment = assess(store, config, prepared, period=options.period, as_of=options.as_of)
        summary = assessment.summary
        results = evaluate_thresholds(summary, thresholds)
        if baseline is not None:
            results = [
                *results,
                *check_baseline(summary, assessment.findings, baseline, min_sample=thresholds.min_sample),
            ]
        result.thresholds = results
        result.summary = summary
        result.outputs = render_all(
            assessment.evaluation, summary, options.out_dir, config,
            thresholds=results, mail_to=options.mail_to, findings=assessment.findings,
        )
        if options.write_baseline is not None:
            result.outputs["baseline"] = write_baseline(summary, assessment.findings, options.write_baseline)
        errors = rule_errors(summary)
        result.exit_code = exit_code(results, runtime_error=bool(errors))
        # The gate's results as plain data, as `ticket-audit check` writes them (a CI artifact).
        result.outputs[GATE_FILE] = write_gate_file(
            options.out_dir, exit_code=result.exit_code, runtime_errors=errors, results=results,
            waivers=assessment.waiver_report.as_dict() if assessment.waiver_report is not None else None,
        )
        result.messages.extend(errors)  # each reads "rule <id> failed to evaluate: <error>"
        if annotations_enabled():
            result.messages.extend(github_annotations(results, runtime_errors=errors))
        record_run(store.path, _history_entry(store, summary, result, options, time.monotonic() - started))
    if result.exit_code == EXIT_RUNTIME:
        log.error("one or more rules failed to evaluate: %s", ", ".join(errors))
    return result


def _history_entry(
    store: Store, summary: Summary, result: JobResult, options: JobOptions, seconds: float
) -> dict[str, Any]:
    report = result.extract_report
    overall = summary["overall"]
    # An extracting run shares its id with the extraction entry of the run log; re-evaluating a
    # snapshot gets an id of its own so every evaluation is listed.
    run_id = report.run_id if report is not None else f"{store.snapshot_id}@{options.as_of.isoformat()}"
    return {
        "run_id": run_id,
        "snapshot": store.snapshot_id,
        "kind": "run",
        "as_of": options.as_of.isoformat(),
        "period": options.period.as_dict(),
        "rule_set_version": summary["tenant"]["ruleset_version"],
        "score": overall["score"],
        "applicable": overall["applicable"],
        "fetched": report.fetched if report is not None else None,
        "requests": report.requests if report is not None else None,
        "exit_code": result.exit_code,
        "seconds": round(seconds, 3),
        "steps": {name: step["score"] for name, step in summary["steps"].items()},
    }
