"""The one path from an evaluation to a period's scores, and the inputs it runs on, kept.

``assess`` (``run``, ``report``, ``evaluate``) gathers :class:`ScoringInputs`: the evaluation of
the trend range and, for a period of partial ISO weeks, of the period itself, their findings
marked with the reviewers' false positives but no waiver yet; the past weeks as published; the
scoring settings. :func:`score_inputs` applies the waivers in force and scores them. The run
saves the inputs beside its reports (:data:`SCORING_DIR`), so ``check --waivers`` scores them
again through the same function with the waivers it is given: its gate sees what
``run --waivers`` would have produced, not a patched copy of the run's summary.

Saved as a folder: one parquet file per frame (pandas dtypes kept in the file's metadata) and
``inputs.json`` for the rest. The folder is written and published with the reports
(:func:`audit.render.outputs.publish`), so it always belongs to the ``summary.json`` beside it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from audit.core.config import Config, ReportSettings, Thresholds
from audit.core.errors import AuditRuntimeError
from audit.core.period import Period, parse_as_of
from audit.engine.model import RuleStatus
from audit.results.published import apply_published
from audit.results.scoring import period_findings, score
from audit.results.summary import EvaluationLike, Summary
from audit.results.waivers import WaiverFile, WaiverReport, mark_waived
from audit.store.files import write_parquet

__all__ = [
    "REVIEW_KEYS",
    "SCORING_DIR",
    "SavedEvaluation",
    "Scored",
    "ScoringInputs",
    "read_scoring_inputs",
    "score_inputs",
    "ticket_titles",
    "write_scoring_inputs",
]

#: The folder in ``--out`` that holds a run's scoring inputs.
SCORING_DIR = "scoring"
#: The layout of that folder; a reader refuses another (the run that wrote it is re-run instead).
SCORING_FORMAT = 1
#: Summary keys that are the reviewers' measures, not scores: they depend on the recorded
#: verdicts and sample answers only, never on waivers, so a re-scoring carries them over.
REVIEW_KEYS = ("precision", "noisy_rules", "recall")

_INPUTS = "inputs.json"
_FRAMES = ("findings", "tallies", "ticket_checks")


@dataclass(frozen=True)
class SavedEvaluation:
    """An evaluation as scoring reads it (:class:`audit.results.summary.EvaluationLike`)."""

    findings: pd.DataFrame
    tallies: pd.DataFrame
    rules: Mapping[str, RuleStatus]
    ticket_checks: pd.DataFrame | None = None
    ruleset_digest: str = ""


@dataclass(frozen=True)
class ScoringInputs:
    """Everything a period's summary is computed from, waivers excepted.

    ``evaluation`` covers the trend range; ``current`` exactly the period when it is not made of
    whole ISO weeks. Their findings carry the reviewers' false positives (``false_positive``,
    ``waived``) and no waiver. ``published``: the past weeks as a run reported them (week ->
    history record). ``ticket_titles``: title by ticket id, for the tickets of the period's findings.
    """

    evaluation: EvaluationLike
    period: Period
    as_of: datetime
    min_sample: int
    trend_weeks: int
    tenant: Mapping[str, Any]
    tenant_name: str = ""
    current: EvaluationLike | None = None
    published: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    ticket_titles: Mapping[int, str] = field(default_factory=dict)

    def period_findings(self) -> pd.DataFrame:
        """The period's findings (of ``current`` when there is one), in a stable order."""
        return _period_findings(self.evaluation, self.current, self.period)

    def scoring_config(self) -> Config:
        """The configuration scoring reads (min sample, trend weeks, tenant name), as the run had it."""
        return Config(
            thresholds=Thresholds(min_sample=self.min_sample),
            report=ReportSettings(trend_weeks=self.trend_weeks, tenant_name=self.tenant_name),
        )


@dataclass(frozen=True)
class Scored:
    """The period scored: its summary, the evaluations with waivers applied, the period's findings."""

    summary: Summary
    evaluation: EvaluationLike
    findings: pd.DataFrame
    waiver_report: WaiverReport | None = None
    current: EvaluationLike | None = None


def score_inputs(
    inputs: ScoringInputs, waivers: WaiverFile | None, *, waivers_as_of: datetime | None = None
) -> Scored:
    """Apply ``waivers`` (judged active at ``waivers_as_of``, the audited instant by default), score
    the period, and show the past weeks as published. ``run`` and ``check --waivers`` both come here."""
    evaluation = _saved(inputs.evaluation)
    current = _saved(inputs.current) if inputs.current is not None else None
    report = None
    if waivers is not None:
        day = waivers_as_of or inputs.as_of
        # The trend range's report: it names every finding a waiver covers, the period's included.
        findings, report = mark_waived(evaluation.findings, waivers, as_of=day)
        evaluation = replace(evaluation, findings=findings)
        if current is not None:
            current = replace(current, findings=mark_waived(current.findings, waivers, as_of=day)[0])
    summary = score(
        evaluation,
        inputs.scoring_config(),
        inputs.period,
        as_of=inputs.as_of,
        current=current,
        tenant=inputs.tenant,
    )
    # Past weeks as they were published (the store's history), recomputed differences marked.
    apply_published(summary, inputs.published)
    if report is not None:
        summary["waivers"] = report.as_dict()
    period = _period_findings(evaluation, current, inputs.period)
    return Scored(summary, evaluation, _with_titles(period, inputs.ticket_titles), report, current)


def _period_findings(
    evaluation: EvaluationLike, current: EvaluationLike | None, period: Period
) -> pd.DataFrame:
    return current.findings if current is not None else period_findings(evaluation, period)


def ticket_titles(tickets: pd.DataFrame, findings: pd.DataFrame) -> dict[int, str]:
    """Title by ticket id, for the tickets of ``findings`` (the period's: a few, not the tenant's)."""
    wanted = (
        set(pd.to_numeric(findings["ticket_id"], errors="coerce").dropna().astype("int64"))
        if len(findings)
        else set()
    )
    ids = pd.to_numeric(tickets["id"], errors="coerce")
    chosen = tickets.loc[ids.isin(wanted).to_numpy(), ["id", "title"]]
    return {
        int(i): str(title) for i, title in chosen.itertuples(index=False, name=None) if not pd.isna(title)
    }


def _saved(evaluation: EvaluationLike) -> SavedEvaluation:
    """``evaluation`` as a :class:`SavedEvaluation` (the engine's Evaluation has more fields)."""
    if isinstance(evaluation, SavedEvaluation):
        return evaluation
    return SavedEvaluation(
        findings=evaluation.findings,
        tallies=evaluation.tallies,
        rules=dict(evaluation.rules),  # type: ignore[arg-type]  # the engine's RuleStatus objects
        ticket_checks=getattr(evaluation, "ticket_checks", None),
        ruleset_digest=str(getattr(evaluation, "ruleset_digest", "") or ""),
    )


def _with_titles(findings: pd.DataFrame, titles: Mapping[int, str]) -> pd.DataFrame:
    """The period's findings with each ticket's title, for the QA workbook.

    Joined on the period's findings only, not in the engine: the engine's findings span the
    trend weeks and can run to millions of rows that never show a title.
    """
    out = findings.copy()
    ids = pd.to_numeric(out["ticket_id"], errors="coerce") if len(out) else None
    out["ticket_title"] = ids.map(titles).astype(object).fillna("").astype(str) if ids is not None else ""
    return out


# --------------------------------------------------------------------------- the saved folder


def write_scoring_inputs(inputs: ScoringInputs, folder: Path) -> Path:
    """Write ``inputs`` into ``folder`` (created); returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    parts = {"evaluation": inputs.evaluation, "current": inputs.current}
    described: dict[str, Any] = {}
    for name, evaluation in parts.items():
        if evaluation is None:
            described[name] = None
            continue
        saved = _saved(evaluation)
        for frame_name in _FRAMES:
            frame = getattr(saved, frame_name)
            if frame is not None:
                write_parquet(frame, folder / f"{name}.{frame_name}.parquet")
        described[name] = {
            "rules": {rid: asdict(status) for rid, status in sorted(saved.rules.items())},
            "ruleset_digest": saved.ruleset_digest,
            "ticket_checks": saved.ticket_checks is not None,
        }
    document = {
        "format": SCORING_FORMAT,
        "period": inputs.period.as_dict(),
        "as_of": inputs.as_of.isoformat(),
        "min_sample": inputs.min_sample,
        "trend_weeks": inputs.trend_weeks,
        "tenant": dict(inputs.tenant),
        "tenant_name": inputs.tenant_name,
        "published": {week: dict(entry) for week, entry in sorted(inputs.published.items())},
        "ticket_titles": {str(k): v for k, v in sorted(inputs.ticket_titles.items())},
        **described,
    }
    text = json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False, default=str)
    (folder / _INPUTS).write_text(text + "\n", encoding="utf-8")
    return folder


def read_scoring_inputs(folder: Path) -> ScoringInputs:
    """The inputs a run saved in ``folder``; missing or unreadable is a runtime error (exit 3)."""
    path = folder / _INPUTS
    if not path.is_file():
        raise AuditRuntimeError(
            f"{folder}: no scoring inputs ({_INPUTS} missing); re-run `ticket-audit run` (or `evaluate`) "
            "to write them: waivers are scored from them"
        )
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(document, dict):
            raise ValueError(f"{_INPUTS} holds a {type(document).__name__}, not an object")
        if document.get("format") != SCORING_FORMAT:
            raise ValueError(f"format {document.get('format')!r}, expected {SCORING_FORMAT}")
        evaluation = _read_evaluation(folder, "evaluation", document["evaluation"])
        if evaluation is None:
            raise ValueError("the trend range's evaluation is missing")
        return ScoringInputs(
            evaluation=evaluation,
            current=_read_evaluation(folder, "current", document["current"]),
            period=Period.from_dict(document["period"]),
            as_of=parse_as_of(document["as_of"]),
            min_sample=int(document["min_sample"]),
            trend_weeks=int(document["trend_weeks"]),
            tenant=document["tenant"],
            tenant_name=str(document["tenant_name"]),
            published=document["published"],
            ticket_titles={int(k): str(v) for k, v in document["ticket_titles"].items()},
        )
    except FileNotFoundError as exc:  # a parquet file inputs.json names
        raise AuditRuntimeError(
            f"{folder}: incomplete scoring inputs: {exc.filename or exc} is missing; re-run `ticket-audit run`"
        ) from exc
    except (OSError, ValueError, KeyError, TypeError, AttributeError, pa.ArrowException) as exc:
        raise AuditRuntimeError(f"{folder}: unreadable scoring inputs: {type(exc).__name__}: {exc}") from exc


def _read_evaluation(folder: Path, name: str, described: Mapping[str, Any] | None) -> SavedEvaluation | None:
    if described is None:
        return None
    frames = {
        frame_name: pd.read_parquet(folder / f"{name}.{frame_name}.parquet", engine="pyarrow")
        for frame_name in _FRAMES
        if frame_name != "ticket_checks" or described["ticket_checks"]
    }
    return SavedEvaluation(
        findings=frames["findings"],
        tallies=frames["tallies"],
        rules={rid: RuleStatus(**status) for rid, status in described["rules"].items()},
        ticket_checks=frames.get("ticket_checks"),
        ruleset_digest=str(described["ruleset_digest"]),
    )
