"""The nightly job, end to end: extract → frames → engine → waivers → scoring → outputs → gate.

Each step is a plain function of the parts (:mod:`audit.app.preflight` checks the configuration,
:mod:`audit.app.assess` evaluates and scores); this module only chains them under the store's
lock, so that ``run`` and ``demo`` share one path with ``report`` and ``evaluate``. Everything
that can be wrong with the configuration (config, rules, waivers, thresholds) is checked before
any data is read or any request is sent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from audit.app.assess import assess
from audit.app.extract import ExtractReport, extract
from audit.app.preflight import Prepared, check_mapping
from audit.core.config import Config
from audit.core.errors import EXIT_RUNTIME, AuditRuntimeError, ConfigError, MappingError, TicketAuditError
from audit.core.period import Period
from audit.render.outputs import Delivery, mail_private, mail_report, publish_failure, render_all
from audit.render.workbook import ReviewState
from audit.results.baseline import DEFAULT_TOLERANCE, load_baseline, write_baseline
from audit.results.gate import GATE_FILE, annotations_enabled, github_annotations, run_gate, write_gate_file
from audit.results.summary import Summary
from audit.results.thresholds import ThresholdResult, resolve_thresholds
from audit.source.autotask import AutotaskClient, log_visibility_gaps
from audit.store.history import record_run
from audit.store.snapshot import Store, new_run_id

__all__ = ["JobOptions", "JobResult", "run_job"]

log = logging.getLogger(__name__)


@dataclass
class JobOptions:
    store_dir: Path
    out_dir: Path
    period: Period
    as_of: datetime
    fail_under: float | None = None
    baseline: Path | None = None
    write_baseline: Path | None = None
    #: Score drop (points) the baseline tolerates (``--tolerance``).
    tolerance: float = DEFAULT_TOLERANCE
    mail_to: Sequence[str] = ()
    break_lock: bool = False
    extract: bool = True
    progress: bool | None = None
    per_technician: bool = False
    mail_each: bool = False
    notify: str | None = None
    notify_format: str | None = None


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
    """The nightly job (:func:`_run_job`); a runtime failure (exit 3) still publishes
    ``gate.json``, ``junit.xml`` and ``summary.md`` naming the error, so a CI job shows why."""

    try:
        return _run_job(config, prepared, options, client_factory=client_factory)
    except ConfigError:
        raise  # exit 2: nothing ran, nothing to report
    except Exception as exc:
        error = (
            str(exc) if isinstance(exc, TicketAuditError) else f"internal error: {type(exc).__name__}: {exc}"
        )
        try:
            publish_failure(options.out_dir, error, keep=getattr(exc, "published_outputs", ()))
        except OSError as write_error:  # the run's own error is the one to report
            log.warning("could not write the failure report into %s: %s", options.out_dir, write_error)
        raise


def _run_job(
    config: Config,
    prepared: Prepared,
    options: JobOptions,
    *,
    client_factory: Callable[[], AutotaskClient] | None = None,
) -> JobResult:
    """The nightly job under the store's lock. Returns the exit code of the gate (0/1/3).

    Before the lock (nothing created, no request sent): a run that does not extract needs a
    snapshot (exit 3), and a stored snapshot's picklists must have every label the mapping
    names (exit 2). Every evaluation is recorded in the store's history — ``running`` when it
    starts, then ``ok`` / ``threshold`` / ``failed`` (with the error and the exit code).
    """

    started = time.monotonic()
    store = Store(options.store_dir, lock_stale_after=config.store_lock_stale_seconds)
    result = JobResult(exit_code=0)
    thresholds = resolve_thresholds(config.thresholds, fail_under=options.fail_under)
    baseline = load_baseline(options.baseline) if options.baseline is not None else None
    extracting = options.extract and client_factory is not None
    has_snapshot = store.exists()
    _check_before_the_lock(config, store, extracting=extracting, has_snapshot=has_snapshot)
    with store.lock(break_lock=options.break_lock):
        if extracting:
            assert client_factory is not None
            with client_factory() as client:
                # Rows the API user cannot see make rules under-report silently: warned once a run.
                log_visibility_gaps(client.count, options.as_of)
                result.extract_report = extract(
                    client,
                    store,
                    config,
                    as_of=options.as_of,
                    progress=options.progress,
                    lock=False,
                    # First run: the mapping is checked as soon as the picklists are fetched.
                    check_picklists=None
                    if has_snapshot
                    else lambda picklists: check_mapping(config, picklists),
                )
            store.refresh()
        if not store.exists():
            raise AuditRuntimeError(f"no snapshot in {store.path}: run `ticket-audit extract` first")
        entry = _history_base(store, result, options)
        _record(record_run, store, {**entry, "status": "running"})
        try:
            assessment = assess(store, config, prepared, period=options.period, as_of=options.as_of)
            summary = assessment.summary
            outcome = run_gate(
                summary, assessment.findings, thresholds, baseline=baseline, tolerance=options.tolerance
            )
            result.thresholds = outcome.results
            result.summary = summary
            result.exit_code = outcome.exit_code
            waivers = assessment.waiver_report.as_dict() if assessment.waiver_report is not None else None
            result.outputs = render_all(
                # The thresholds as resolved (--fail-under) colour the report as the gate judged.
                assessment.evaluation,
                summary,
                options.out_dir,
                config.model_copy(update={"thresholds": thresholds}),
                thresholds=outcome.results,
                findings=assessment.findings,
                scoring=assessment.inputs,
                review=ReviewState(assessment.verdicts, assessment.sample_answers, assessment.sample),
                # The gate's results as plain data, as `ticket-audit check` writes them (a CI
                # artifact), published with the reports they belong to.
                extra={
                    GATE_FILE: lambda p: write_gate_file(
                        p.parent,
                        exit_code=outcome.exit_code,
                        runtime_errors=outcome.runtime_errors,
                        results=outcome.results,
                        waivers=waivers,
                        name=p.name,
                    )
                },
                # Mail goes last, below: a mail failure costs no output.
                delivery=Delivery(
                    per_technician=options.per_technician or options.mail_each,
                    notify=options.notify,
                    notify_format=options.notify_format,
                ),
            )
            if options.write_baseline is not None:
                result.outputs["baseline"] = write_baseline(
                    summary, assessment.findings, options.write_baseline
                )
            # A mail failure is a runtime error that costs no output.
            mail_failures = _send_mail(result.outputs, summary, config, options, assessment.addresses)
            if mail_failures:  # each reads "mail: <why>"
                outcome = outcome.with_runtime_errors(mail_failures)
                result.exit_code = outcome.exit_code
                write_gate_file(
                    options.out_dir,
                    exit_code=outcome.exit_code,
                    runtime_errors=outcome.runtime_errors,
                    results=outcome.results,
                    waivers=waivers,
                )
        except BaseException as exc:
            failed = {
                **entry,
                "status": "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed",
                "error": str(exc) if isinstance(exc, TicketAuditError) else f"{type(exc).__name__}: {exc}",
                "exit_code": exc.exit_code if isinstance(exc, TicketAuditError) else EXIT_RUNTIME,
                "seconds": round(time.monotonic() - started, 3),
            }
            if result.summary is not None:
                failed.update(_scores(result.summary))
            _record(record_run, store, failed)
            raise
        errors = outcome.runtime_errors  # "rule <id> failed to evaluate: <error>", "mail: <why>"
        result.messages.extend(errors)
        if annotations_enabled():
            result.messages.extend(github_annotations(outcome.results, runtime_errors=errors))
        record_run(
            store.path,
            {
                **entry,
                **_scores(summary),
                "status": _STATUS.get(result.exit_code, "failed"),
                "error": "; ".join(errors) or None,
                "exit_code": result.exit_code,
                "seconds": round(time.monotonic() - started, 3),
            },
        )
    if result.exit_code == EXIT_RUNTIME:
        log.error("runtime error(s): %s", "; ".join(errors))  # failed rules, a failed mail
    return result


def _check_before_the_lock(config: Config, store: Store, *, extracting: bool, has_snapshot: bool) -> None:
    """What fails before the lock is taken (which would create the store folder) and before any
    request: a run that does not extract needs a snapshot (exit 3), and a stored snapshot's
    picklists must hold every label the mapping names (exit 2)."""
    if not extracting and not has_snapshot:
        raise AuditRuntimeError(f"no snapshot in {store.path}: run `ticket-audit extract` first")
    if has_snapshot:
        # A mapping typo fails now, not after a whole extraction (the tenant's picklists rarely change).
        try:
            check_mapping(config, store.picklists())
        except MappingError as exc:
            exc.message += (
                f" (the picklists of snapshot {store.snapshot_id}; if the label was added in Autotask "
                "since, run `ticket-audit extract` to refresh them)"
            )
            raise


def _send_mail(
    outputs: dict[str, Path],
    summary: Summary,
    config: Config,
    options: JobOptions,
    addresses: dict[str, str],
) -> list[str]:
    """The report to ``--mail-to`` and the private scorecards to each technician (``--mail-each``),
    after every output is written; returns the failures ("mail: ..."), never raises for one."""
    failures: list[str | None] = []
    if options.mail_to:
        failures.append(mail_report(outputs, summary, config, options.mail_to))
    if options.mail_each:
        failures.append(mail_private(outputs, summary, config, addresses))
    return [f for f in failures if f]


#: History status of a finished run, by exit code.
_STATUS = {0: "ok", 1: "threshold"}


def _record(record_run: Callable[..., Any], store: Store, entry: dict[str, Any]) -> None:
    """Append a history line; a history that cannot be written never hides the run's own outcome."""
    try:
        record_run(store.path, entry)
    except (OSError, TypeError, ValueError) as exc:
        log.warning("could not record the run in the history of %s: %s", store.path, exc)


def _history_base(store: Store, result: JobResult, options: JobOptions) -> dict[str, Any]:
    report = result.extract_report
    # An extracting run shares its id with the extraction entry of the run log; re-evaluating a
    # snapshot gets an id of its own so every evaluation is listed: the snapshot and as-of alone
    # would merge re-runs of other weeks or configs into one entry (history lines merge by id).
    run_id = report.run_id if report is not None else f"{store.snapshot_id}@{new_run_id()}"
    return {
        "run_id": run_id,
        "snapshot": store.snapshot_id,
        "kind": "run",
        "as_of": options.as_of.isoformat(),
        "period": options.period.as_dict(),
        "fetched": report.fetched if report is not None else None,
        "requests": report.requests if report is not None else None,
    }


def _scores(summary: Summary) -> dict[str, Any]:
    overall = summary["overall"]
    return {
        "ruleset_version": summary["tenant"]["ruleset_version"],
        "score": overall["score"],
        "applicable": overall["applicable"],
        "steps": {name: step["score"] for name, step in summary["steps"].items()},
        # What a later report's trend shows for this week (audit.results.published): the figures as published.
        "technicians": {e["key"]: e["score"] for e in summary["technicians"]},
        "queues": {e["key"]: e["score"] for e in summary["queues"]},
        "ticket_compliance": compliance["rate"] if (compliance := summary.get("ticket_compliance")) else None,
    }
