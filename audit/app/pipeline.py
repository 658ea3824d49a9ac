"""The nightly job, end to end: extract → frames → engine → waivers → scoring → outputs → gate.

Each step is a plain function of the parts; this module only chains them, so that ``run``,
``demo``, ``report`` and ``evaluate`` share one path and cannot drift apart. Everything that can
be wrong with the configuration (config, rules, waivers, thresholds) is checked before any
data is read or any request is sent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.utils import parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audit.core.config import Config
from audit.core.errors import EXIT_RUNTIME, AuditRuntimeError, ConfigError, MappingError, TicketAuditError
from audit.core.period import Period
from audit.core.suggest import close_matches, did_you_mean

if TYPE_CHECKING:
    import pandas as pd

    from audit.app.extract import ExtractReport
    from audit.engine import Evaluation, RuleSet
    from audit.engine.frames import Frames
    from audit.results.summary import Summary
    from audit.results.thresholds import ThresholdResult
    from audit.results.waivers import WaiverFile, WaiverReport
    from audit.source.autotask import AutotaskClient
    from audit.store.snapshot import Store, StoreState
import pandas as pd

from audit.app.extract import extract
from audit.core.tomlload import TomlLines, toml_line
from audit.engine import evaluate, load_ruleset
from audit.engine.frames import load_frames, mapping_label_issues, ticket_url_base
from audit.render.notify import webhook_format
from audit.render.outputs import Delivery, mail_private, mail_report, publish_failure, render_all
from audit.render.workbook import ReviewState
from audit.results.baseline import DEFAULT_TOLERANCE, load_baseline, write_baseline
from audit.results.gate import GATE_FILE, annotations_enabled, github_annotations, run_gate, write_gate_file
from audit.results.published import apply_published, published_weeks
from audit.results.recall import draw_sample, estimate_recall, step_population
from audit.results.scoring import period_findings, score
from audit.results.thresholds import resolve_thresholds
from audit.results.verdicts import (
    flag_noisy,
    load_samples,
    load_verdicts,
    mark_false_positives,
    rule_precision,
    samples_path,
    verdicts_path,
)
from audit.results.waivers import load_waivers, mark_waived
from audit.source.autotask import log_visibility_gaps
from audit.store.history import read_records, record_run
from audit.store.snapshot import Store, new_run_id

__all__ = [
    "Assessment",
    "JobOptions",
    "JobResult",
    "assess",
    "check_config_names",
    "check_delivery",
    "check_mail_to",
    "check_mapping",
    "prepare",
    "run_job",
    "tenant_id",
    "trend_range",
]

log = logging.getLogger(__name__)


@dataclass
class Prepared:
    """What is validated before any data is touched."""

    ruleset: RuleSet
    waivers: WaiverFile | None


def prepare(
    config: Config, *, rules_dir: str | Path | None = None, waivers_file: str | Path | None = None
) -> Prepared:
    """Load and validate the rules, the config's rule and step names, and the waivers
    (ConfigError, exit 2, when any is wrong) — before any request is sent."""

    # Overrides do not change how rules compile; they are checked below against the loaded ids,
    # with the config line and the closest id (the loader's own check only names the file).
    ruleset = load_ruleset(
        rules_dir if rules_dir is not None else config.rules_dir, config.model_copy(update={"rules": {}})
    )
    check_config_names(config, ruleset)
    source = waivers_file if waivers_file is not None else config.waivers.file
    waivers = load_waivers(source) if source and Path(source).exists() else None
    if source and waivers_file is not None and not Path(source).exists():
        raise ConfigError("waivers file not found", file=str(source))
    return Prepared(ruleset, waivers)


def _config_text(config: Config) -> str | None:
    if not config.source:
        return None
    try:
        return Path(config.source).read_text(encoding="utf-8")
    except OSError:
        return None


def _close(name: str, candidates: Iterable[str], *, fold: bool) -> str:
    pool = sorted(set(candidates))
    if fold:
        by_fold = {c.casefold(): c for c in pool}
        found = close_matches(name.casefold(), list(by_fold))
        match = by_fold[found[0]] if found else None
    else:
        found = close_matches(name, pool)
        match = found[0] if found else None
    return f"; {did_you_mean([match])}" if match else ""


def check_config_names(config: Config, ruleset: RuleSet) -> None:
    """Every step and rule the config names must exist in ``ruleset`` (ConfigError, exit 2).

    ``[thresholds] step.<name>`` (steps match case-insensitively, as the gate matches them),
    ``[thresholds] rule."<id>"`` and ``[rules."<id>"]`` overrides. A typo would otherwise
    surface only at gate time, after a whole extraction — or, for an override, never. The
    error names the config file and line, the valid steps and the closest rule id.
    """

    steps = sorted({rule.step for rule in ruleset.rules})
    ids = list(ruleset.ids)
    problems: list[tuple[tuple[str, ...], str]] = []
    folded_steps = {s.casefold() for s in steps}
    for name in sorted(config.thresholds.step):
        if name.casefold() not in folded_steps:
            problems.append(
                (
                    ("thresholds", "step", name),
                    f"thresholds.step.{name}: no such step{_close(name, steps, fold=True)} "
                    f"(steps: {', '.join(steps)})",
                )
            )
    folded_ids = {i.casefold() for i in ids}
    for rule_id in sorted(config.thresholds.rule):
        if rule_id.casefold() not in folded_ids:
            problems.append(
                (
                    ("thresholds", "rule", rule_id),
                    f"thresholds.rule.{rule_id}: no such rule in the rule set{_close(rule_id, ids, fold=True)}",
                )
            )
    for rule_id in sorted(config.rules):
        if rule_id not in ids:
            problems.append(
                (
                    ("rules", rule_id),
                    f"rules.{rule_id}: override for an unknown rule id{_close(rule_id, ids, fold=False)}",
                )
            )
    if not problems:
        return
    text = _config_text(config)
    lines = TomlLines(text) if text is not None else None
    loc, _ = problems[0]
    line = lines.line(loc) if lines is not None else None
    raise ConfigError("; ".join(message for _, message in problems), file=config.source, line=line)


def check_mapping(config: Config, picklists: pd.DataFrame) -> list[str]:
    """The tenant mapping against the tenant's picklists (the store's ``_picklists``).

    An explicitly configured label the tenant lacks is a MappingError (exit 2) naming the
    config line; a catalog default it lacks is returned as a warning. The same judgement
    ``build_frames`` makes (``audit.engine.frames.mapping_label_issues``), made before extracting.
    """

    warnings: list[str] = []
    for issue in mapping_label_issues(config, picklists):
        if issue.explicit:
            text = _config_text(config)
            line = toml_line(text, ("mapping", issue.setting)) if text is not None else None
            raise MappingError(
                f"mapping.{issue.setting} ({issue.entity}.{issue.field})",
                issue.label,
                list(issue.available),
                file=config.source,
                line=line,
            )
        warnings.append(
            f"mapping.{issue.setting}: default label {issue.label!r} is not in the tenant's "
            f"{issue.entity}.{issue.field} picklist"
        )
    return warnings


def check_mail_to(addresses: Iterable[str]) -> list[str]:
    """``--mail-to`` addresses, validated before anything runs (ConfigError, exit 2)."""
    out: list[str] = []
    for raw in addresses:
        _, address = parseaddr(raw)
        local, at, domain = address.rpartition("@")
        if not (at and local and "." in domain.strip(".") and not any(c.isspace() for c in address)):
            raise ConfigError(f"--mail-to: {raw!r} is not an e-mail address (expected name@example.com)")
        out.append(raw)
    return out


def check_delivery(
    *,
    per_technician: bool = False,
    mail_each: bool = False,
    notify: str | None = None,
    notify_format: str | None = None,
) -> None:
    """``--notify`` / ``--notify-format`` checked before anything runs (ConfigError, exit 2)."""
    if notify:
        webhook_format(notify, notify_format)


def tenant_id(state: StoreState) -> str | None:
    """The tenant's identity: the zone name (it names the Autotask database), else the web URL
    (discovery skipped with AUTOTASK_ZONE_URL). Written into the reports and the QA workbook by
    ``assess``; ``review import`` compares a workbook's with the store's through this function."""
    return state.zone_name or state.web_url or None


def trend_range(period: Period, weeks: int) -> Period:
    """The period widened to the ``weeks`` ISO weeks ending with it (trends come from it)."""
    back = period.weeks_back(weeks)
    return period.spanning(back[0]).spanning(back[-1])


@dataclass
class Assessment:
    """The evaluated store: the evaluation over the trend range (waivers applied) and its summary."""

    evaluation: Evaluation
    summary: Summary
    findings: Any  # pandas.DataFrame: the period's findings (waived flags set)
    waiver_report: WaiverReport | None
    current: Evaluation | None = None
    #: Verdicts recorded for this tenant (finding key -> record) and Sample answers (step|ticket id -> record).
    verdicts: dict[str, dict[str, Any]] = field(default_factory=dict)
    sample_answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The Sample sheet's rows (audit.results.recall.draw_sample).
    sample: Any = None
    #: Technician key -> e-mail address (Autotask Resources), for `--mail-each`.
    addresses: dict[str, str] = field(default_factory=dict)


def assess(
    store: Store,
    config: Config,
    prepared: Prepared,
    *,
    period: Period,
    as_of: datetime,
) -> Assessment:
    """Evaluate the store for ``period`` (and the trend weeks before it) as of ``as_of``."""

    frames = frames_as_of(load_frames(store, config), as_of)
    wide = trend_range(period, config.report.trend_weeks)
    evaluation = evaluate(frames, prepared.ruleset, config, period=wide, as_of=as_of)
    current = None
    if period.start.weekday() != 0 or (period.end - period.start).days % 7 != 6:
        # Not whole ISO weeks: the period's own scores need an evaluation over exactly the period.
        current = evaluate(frames, prepared.ruleset, config, period=period, as_of=as_of)
    state = store.state
    ident = tenant_id(state)

    def mine(records: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        # Records of another tenant (imported before tenant ids were compared) say nothing of these rules.
        return {k: v for k, v in records.items() if v.get("tenant_id") in (None, ident)}

    verdicts = mine(load_verdicts(verdicts_path(store.path)))
    answers = mine(load_samples(samples_path(store.path)))
    waiver_report = None

    def excuse(findings: pd.DataFrame) -> pd.DataFrame:
        # Waivers, then false positives: one flag (waived) that every later step reads.
        nonlocal waiver_report
        if prepared.waivers is not None:
            findings, report = mark_waived(findings, prepared.waivers, as_of=as_of)
            waiver_report = waiver_report or report
        return mark_false_positives(findings, verdicts)

    evaluation = replace(evaluation, findings=excuse(evaluation.findings))
    if current is not None:
        current = replace(current, findings=excuse(current.findings))
    tenant = {
        "name": frames.tenant_name,
        # The QA workbook carries it so a review of another tenant is refused on import.
        "id": ident,
        "zone": state.zone_name,
        "web_url": state.web_url or frames.web_url,
        "ruleset_version": state.ruleset_version or prepared.ruleset.digest,
    }

    summary = score(evaluation, config, period, as_of=as_of, current=current, tenant=tenant)
    # Past weeks as they were published (the store's history), recomputed differences marked.
    apply_published(summary, published_weeks(read_records(store.path)))
    if waiver_report is not None:
        summary["waivers"] = waiver_report.as_dict()
    findings = current.findings if current is not None else period_findings(evaluation, period)
    findings = _with_ticket_titles(findings, frames.tickets)
    sample = _review_measures(summary, config, prepared, frames, findings, period, verdicts, answers)
    return Assessment(
        evaluation,
        summary,
        findings,
        waiver_report,
        current,
        verdicts,
        answers,
        sample,
        _resource_addresses(frames.resources),
    )


def _review_measures(
    summary: Summary,
    config: Config,
    prepared: Prepared,
    frames: Frames,
    findings: pd.DataFrame,
    period: Period,
    verdicts: dict[str, dict[str, Any]],
    answers: dict[str, dict[str, Any]],
) -> pd.DataFrame:
    """Precision (noisy rules flagged) and estimated recall into ``summary``; returns the Sample rows."""

    settings = config.review
    if verdicts:
        precision = rule_precision(verdicts)
        summary["precision"] = precision
        summary["noisy_rules"] = flag_noisy(
            precision, below=settings.noisy_precision, min_verdicts=settings.noisy_min_verdicts
        )
    anchors: dict[str, list[str]] = {}
    for rule in prepared.ruleset.rules:
        anchors.setdefault(rule.step, [])
        if rule.kind == "tickets" and rule.spec.anchor not in anchors[rule.step]:
            anchors[rule.step].append(rule.spec.anchor)
    population = step_population(frames.tickets, findings, anchors, period)
    summary["recall"] = estimate_recall(population, answers)
    return draw_sample(
        frames.tickets,
        population,
        size=settings.sample_size,
        seed=settings.sample_seed,
        period=period,
        url_base=ticket_url_base(frames.web_url),
        answered=answers.keys(),
    )


#: Child rows created after as-of are not counted (their creation instant, by entity).
_CREATED_COLUMNS = {
    "tickets": "createDate",
    "notes": "createDateTime",
    "time_entries": "createDateTime",
    "attachments": "attachDate",
}


def _resource_addresses(resources: pd.DataFrame | None) -> dict[str, str]:
    """Technician key (the resource id as text, as scoring keys technicians) -> e-mail address."""
    if resources is None or resources.empty or "email" not in resources.columns:
        return {}
    pairs = resources[["id", "email"]].dropna()
    return {
        str(int(i)): str(e).strip() for i, e in pairs.itertuples(index=False, name=None) if str(e).strip()
    }


def frames_as_of(frames: Frames, as_of: datetime) -> Frames:
    """``frames`` without tickets, notes, time entries and attachments created after ``as_of``.

    A store extracted later than the audited instant holds rows that did not exist then;
    counting them would date findings after as-of and change a past week's audit.
    """

    limit = pd.Timestamp(as_of)
    changes: dict[str, pd.DataFrame] = {}
    for name, column in _CREATED_COLUMNS.items():
        frame = frames.frame(name)
        if frame is None or column not in frame.columns or not len(frame):
            continue
        created = pd.to_datetime(frame[column], utc=True, errors="coerce")
        keep = ~(created > limit).to_numpy()
        if not keep.all():
            changes[name] = frame.loc[keep].reset_index(drop=True)
    return replace(frames, **changes) if changes else frames


def _with_ticket_titles(findings: pd.DataFrame, tickets: pd.DataFrame) -> pd.DataFrame:
    """The period's findings with each ticket's title, for the QA workbook.

    Joined here, on the period's findings only, not in the engine: the engine's findings span
    the trend weeks and can run to millions of rows that never show a title.
    """

    titles = pd.Series(tickets["title"].to_numpy(), index=tickets["id"].to_numpy())
    out = findings.copy()
    out["ticket_title"] = out["ticket_id"].map(titles).fillna("").astype(str) if len(out) else ""
    return out


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
