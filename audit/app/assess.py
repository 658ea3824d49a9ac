"""One evaluation of the store: the engine over the trend range, the reviewers' verdicts and
the waivers applied, the period scored (``assess``), shared by ``run``, ``report`` and ``evaluate``."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from audit.app.preflight import Prepared, prepare
from audit.core.config import Config
from audit.core.errors import AuditRuntimeError
from audit.core.period import Period
from audit.engine import evaluate
from audit.engine.frames import Frames, load_frames, ticket_url_base
from audit.engine.memory import use_system_allocator
from audit.results.published import published_weeks
from audit.results.recall import draw_sample, estimate_recall, step_population
from audit.results.rescoring import ScoringInputs, score_inputs, ticket_titles
from audit.results.summary import EvaluationLike, Summary
from audit.results.verdicts import (
    flag_noisy,
    load_samples,
    load_verdicts,
    mark_false_positives,
    rule_precision,
    samples_path,
    verdicts_path,
)
from audit.results.waivers import WaiverReport
from audit.store.history import read_records
from audit.store.snapshot import Store, StoreState

__all__ = ["Assessment", "assess", "assess_stored", "frames_as_of", "tenant_id", "trend_range"]


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

    evaluation: EvaluationLike
    summary: Summary
    findings: pd.DataFrame  # the period's findings (waived flags set, ticket titles joined)
    waiver_report: WaiverReport | None
    current: EvaluationLike | None = None
    #: Verdicts recorded for this tenant (finding key -> record) and Sample answers (step|ticket id -> record).
    verdicts: dict[str, dict[str, Any]] = field(default_factory=dict)
    sample_answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The Sample sheet's rows (audit.results.recall.draw_sample).
    sample: Any = None
    #: Technician key -> e-mail address (Autotask Resources), for `--mail-each`.
    addresses: dict[str, str] = field(default_factory=dict)
    #: What the summary was scored from (waivers excepted): saved with the reports for `check --waivers`.
    inputs: ScoringInputs | None = None


def assess_stored(
    config: Config,
    *,
    store_dir: Path | None,
    period: Period,
    as_of: datetime,
    rules_dir: Path | None = None,
    waivers_file: Path | None = None,
) -> Assessment:
    """``report`` and ``evaluate``: the configuration checked before any data is read (exit 2),
    then the snapshot already in the store assessed (exit 3 when there is none)."""
    prepared = prepare(config, rules_dir=rules_dir, waivers_file=waivers_file)
    store = Store(store_dir or config.store)
    if not store.exists():
        raise AuditRuntimeError(f"no snapshot in {store.path}: run `ticket-audit extract` first")
    return assess(store, config, prepared, period=period, as_of=as_of)


def assess(
    store: Store,
    config: Config,
    prepared: Prepared,
    *,
    period: Period,
    as_of: datetime,
) -> Assessment:
    """Evaluate the store for ``period`` (and the trend weeks before it) as of ``as_of``."""

    use_system_allocator()  # freed text buffers go back to the OS (peak RSS at scale)
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
    # False positives are the store's (the reviewers' verdicts) and part of what is saved; the
    # waivers are applied by the scoring path, so a later `check --waivers` can apply others.
    evaluation = replace(evaluation, findings=mark_false_positives(evaluation.findings, verdicts))
    if current is not None:
        current = replace(current, findings=mark_false_positives(current.findings, verdicts))
    inputs = ScoringInputs(
        evaluation=evaluation,
        current=current,
        period=period,
        as_of=as_of,
        min_sample=config.thresholds.min_sample,
        trend_weeks=config.report.trend_weeks,
        tenant={
            "name": frames.tenant_name,
            # The QA workbook carries it so a review of another tenant is refused on import.
            "id": ident,
            "zone": state.zone_name,
            "web_url": state.web_url or frames.web_url,
            "ruleset_version": state.ruleset_version or prepared.ruleset.digest,
        },
        tenant_name=config.report.tenant_name,
        published=published_weeks(read_records(store.path)),
    )
    inputs = replace(inputs, ticket_titles=ticket_titles(frames.tickets, inputs.period_findings()))
    scored = score_inputs(inputs, prepared.waivers)
    summary = scored.summary
    sample = _review_measures(summary, config, prepared, frames, scored.findings, period, verdicts, answers)
    return Assessment(
        scored.evaluation,
        summary,
        scored.findings,
        scored.waiver_report,
        scored.current,
        verdicts,
        answers,
        sample,
        _resource_addresses(frames.resources),
        inputs,
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
