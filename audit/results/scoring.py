"""Scoring: an Evaluation (findings, tallies, rule statuses) -> the ``summary.json`` document.

The arithmetic is the catalog's (Scores section):

* a rule's score is ``passed / applicable``;
* a scorecard score (step, technician, queue, tenant) is ``Σ weight × passed / Σ weight × applicable``;
* a waived finding counts as passed (it moves one check from *failed* to *passed* in its tally
  group) and is reported as waived; a finding a reviewer marked *false positive* (its
  ``false_positive`` flag, set with ``waived``) moves the same way and is reported as a false
  positive (``false_positive`` counts, apart from ``waived``);
* fewer than ``min_sample`` applicable checks is *low-sample*: shown, flagged, never breaks a
  threshold on its own;
* no applicable check at all gives a score of ``None`` (never 0: "nothing to measure" is not
  "everything failed").

The engine (``audit/engine``) is one layer below: this module needs only the shape described by
:class:`EvaluationLike`, and the names of the engine's contract (the findings and tallies
columns, the unassigned and no-queue rows) from ``audit.engine.tables``. The pipeline evaluates over the whole
trend range (``trend_weeks`` ISO weeks ending with the period) and :func:`score` slices the period
out of it by the tallies' ISO ``week`` column.

Determinism: every float is rounded, every list sorted, so the same evaluation always gives
byte-identical JSON.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd

from audit.core.config import SEVERITY_WEIGHTS, Config
from audit.core.period import Period, iso_week
from audit.engine.tables import FINDING_COLUMNS, NO_QUEUE, TALLY_COLUMNS, UNASSIGNED
from audit.results.compliance import add_compliance, ticket_compliance
from audit.results.summary import (
    SCORE_DECIMALS,
    EntitySummary,
    EvaluationLike,
    RuleSummary,
    StepSummary,
    Summary,
    TenantInfo,
    Trends,
    clean_id,
    entity_key,
    period_weeks,
    ratio,
    step_label,
    step_order,
)
from audit.results.tallies import (
    SUM_COLUMNS,
    SUM_DECIMALS,
    empty_tallies,
    group_sums,
    score_cell,
    waive_tallies,
)

__all__ = ["period_findings", "rule_cost", "score"]


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime | pd.Timestamp):
        text: str = pd.Timestamp(value).isoformat()
        return text
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True)
class _Prepared:
    """Waiver-adjusted tallies of measured rules, with the weighted columns and entity keys."""

    frame: pd.DataFrame


def _prepare(evaluation: EvaluationLike, config: Config) -> _Prepared:
    tallies = evaluation.tallies if evaluation.tallies is not None else empty_tallies()
    findings = evaluation.findings if evaluation.findings is not None else pd.DataFrame()
    frame = waive_tallies(tallies, findings)
    if frame.empty:
        frame = empty_tallies().assign(
            waived=pd.Series(dtype="int64"), false_positive=pd.Series(dtype="int64")
        )
    for column in TALLY_COLUMNS:  # tolerate an engine that omits an optional column
        if column not in frame.columns:
            frame[column] = None
    # Only measured rules score: an errored, disabled or unmeasured rule counts in no denominator.
    statuses = {rid: getattr(info, "status", "measured") for rid, info in evaluation.rules.items()}
    measured = frame["rule_id"].map(lambda r: statuses.get(r, "measured") == "measured").astype(bool)
    frame = frame.loc[measured.to_numpy()].copy()
    weight = pd.to_numeric(frame["weight"], errors="coerce")
    fallback = frame["severity"].map(lambda s: SEVERITY_WEIGHTS.get(str(s), 1))
    frame["weight"] = weight.fillna(fallback).astype("float64")
    frame["_w_app"] = frame["weight"] * frame["applicable"]
    frame["_w_pass"] = frame["weight"] * frame["passed"]
    frame["_tech"] = frame["technician_id"].map(entity_key)
    frame["_queue"] = frame["queue_id"].map(entity_key)
    frame["week"] = frame["week"].astype(str)
    return _Prepared(frame)


def _names(
    frame: pd.DataFrame,
    key_col: str,
    id_col: str,
    name_col: str,
    none_name: str = UNASSIGNED,
) -> dict[str, tuple[int | None, str]]:
    """Entity key -> (id, display name); the last name seen wins (names can change mid-range)."""
    out: dict[str, tuple[int | None, str]] = {}
    if frame.empty:
        return out
    for key, ident, name in frame[[key_col, id_col, name_col]].itertuples(index=False, name=None):
        if key == "unassigned":
            out[key] = (None, none_name)
        else:
            text = "" if name is None or (isinstance(name, float) and math.isnan(name)) else str(name)
            out[key] = (clean_id(ident), text or f"#{key}")
    return out


def _entities(
    current: pd.DataFrame,
    previous: pd.DataFrame,
    key_col: str,
    id_col: str,
    name_col: str,
    steps: list[str],
    min_sample: int,
    none_name: str = UNASSIGNED,
) -> list[EntitySummary]:
    names = _names(current, key_col, id_col, name_col, none_name)
    totals = group_sums(current, [key_col])
    by_step = group_sums(current, [key_col, "step"])
    prev = group_sums(previous, [key_col])
    by_rule = (
        current.groupby([key_col, "rule_id"], sort=True)[["failed", "waived", "false_positive"]].sum()
        if not current.empty
        else pd.DataFrame(columns=["failed", "waived", "false_positive"])
    )
    rules_failed: dict[str, list[dict[str, Any]]] = {}
    for (key, rid), (failed, waived, fp) in zip(by_rule.index, by_rule.to_numpy(), strict=True):
        if failed > 0 or waived > 0 or fp > 0:
            rules_failed.setdefault(key, []).append(
                {"rule_id": rid, "failed": int(failed), "waived": int(waived), "false_positive": int(fp)}
            )
    out: list[EntitySummary] = []
    for key, (ident, name) in names.items():
        cell = score_cell(totals.get((key,)), min_sample)
        prev_cell = score_cell(prev.get((key,)), min_sample)
        delta = (
            round(cell["score"] - prev_cell["score"], SCORE_DECIMALS)
            if cell["score"] is not None and prev_cell["score"] is not None
            else None
        )
        failed_list = sorted(
            rules_failed.get(key, []), key=lambda r: (-r["failed"], -r["waived"], r["rule_id"])
        )
        out.append(
            EntitySummary(
                **cell,
                key=key,
                id=ident,
                name=name,
                unassigned=key == "unassigned",
                steps={
                    s: score_cell(by_step.get((key, s)), min_sample) for s in steps if (key, s) in by_step
                },
                rules_failed=failed_list,
                previous_score=prev_cell["score"],
                delta=delta,
            )
        )
    # Unassigned last, then by name (case-insensitive), then id: a stable, readable order.
    out.sort(key=lambda e: (e["unassigned"], e["name"].casefold(), e["name"], e["id"] or 0))
    return out


def _rule_meta(evaluation: EvaluationLike, frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    meta: dict[str, dict[str, Any]] = {}
    for rid, info in evaluation.rules.items():
        severity = str(getattr(info, "severity", "") or "minor")
        meta[rid] = {
            "status": str(getattr(info, "status", "measured") or "measured"),
            "title": str(getattr(info, "title", "") or getattr(info, "name", "") or rid),
            "name": str(getattr(info, "name", "") or ""),
            "step": str(getattr(info, "step", "") or ""),
            "severity": severity,
            "weight": float(getattr(info, "weight", None) or SEVERITY_WEIGHTS.get(severity, 1)),
            # The engine's RuleStatus may carry it directly or in ``extra``.
            "rationale": str(
                getattr(info, "rationale", "")
                or (getattr(info, "extra", None) or {}).get("rationale", "")
                or ""
            ),
            "error": (str(getattr(info, "error", "")) or None) if getattr(info, "error", None) else None,
        }
    # Rules seen in the tallies but missing from the statuses: measured, described by the tallies.
    if not frame.empty:
        firsts = frame.drop_duplicates("rule_id")
        for rid, step, severity, weight in firsts[["rule_id", "step", "severity", "weight"]].itertuples(
            index=False, name=None
        ):
            if rid not in meta:
                meta[rid] = {
                    "status": "measured",
                    "title": rid,
                    "name": "",
                    "step": str(step),
                    "severity": str(severity),
                    "weight": float(weight),
                    "rationale": "",
                    "error": None,
                }
            elif not meta[rid]["step"]:
                meta[rid]["step"] = str(step)
    if not frame.empty:  # the tallies' weight is the effective one (config overrides applied)
        for rid, weight in frame.groupby("rule_id")["weight"].first().items():
            meta[str(rid)]["weight"] = float(weight)
    return meta


def _tenant(evaluation: EvaluationLike, config: Config, given: Mapping[str, Any] | None) -> TenantInfo:
    """Tenant identity: explicit ``given`` values, then the evaluation's attributes, then defaults."""
    given = given or {}

    def opt(*names: str) -> str | None:
        for name in names:
            value = given.get(name, getattr(evaluation, name, None))
            if value is not None and value != "":
                return str(value)
        return None

    return TenantInfo(
        name=config.report.tenant_name or opt("name", "tenant_name") or "Sandbox",
        id=opt("id", "tenant_id"),
        zone=opt("zone"),
        web_url=opt("web_url"),
        # The engine names the rule set by its digest; an explicit version wins.
        ruleset_version=opt("ruleset_version", "ruleset_digest"),
    )


def period_findings(evaluation: EvaluationLike, period: Period) -> pd.DataFrame:
    """The findings of the period (sliced by ISO week, as the tallies are), in a stable order."""
    findings = evaluation.findings
    if findings is None or findings.empty:
        return pd.DataFrame(columns=list(FINDING_COLUMNS))
    weeks = set(period_weeks(period))
    if "week" in findings.columns:
        findings = findings[findings["week"].astype(str).isin(weeks)]
    order = [c for c in ("rule_id", "ticket_number", "row_kind", "row_id") if c in findings.columns]
    return findings.sort_values(order, kind="stable").reset_index(drop=True) if order else findings


# --------------------------------------------------------------------------- the document


def score(
    evaluation: EvaluationLike,
    config: Config,
    period: Period,
    *,
    as_of: datetime | None = None,
    current: EvaluationLike | None = None,
    tenant: Mapping[str, Any] | None = None,
) -> Summary:
    """The ``summary.json`` document of ``period``.

    ``evaluation`` covers the trend range (``config.report.trend_weeks`` weeks ending with the
    period); the period's scores are the tallies whose ISO week lies in the period. When the
    period is not made of whole ISO weeks, pass ``current``: an evaluation over exactly the
    period, used for the period's scores (trends still come from ``evaluation``).
    ``tenant`` gives the identity the reports and the QA workbook carry (keys ``name``, ``id``,
    ``zone``, ``web_url``, ``ruleset_version``); missing keys are read from the evaluation.
    """
    min_sample = config.thresholds.min_sample
    prepared = _prepare(evaluation, config).frame
    weeks_now = period_weeks(period)
    trend_periods = period.weeks_back(config.report.trend_weeks)
    trend_weeks = [iso_week(p.start) for p in trend_periods]
    if current is not None:
        now = _prepare(current, config).frame
    else:
        now = prepared[prepared["week"].isin(weeks_now)]
    previous_week = iso_week(period.start - timedelta(days=7))
    previous = prepared[prepared["week"] == previous_week]

    meta = _rule_meta(evaluation, prepared)
    step_rules: dict[str, list[str]] = {}
    for rid, m in meta.items():
        if m["step"]:
            step_rules.setdefault(m["step"], []).append(rid)
    steps_sorted = sorted(step_rules, key=lambda s: (step_order(s, step_rules[s]), s))

    total = now[SUM_COLUMNS].sum()
    overall = score_cell(tuple(float(total[c]) for c in SUM_COLUMNS), min_sample)

    # Rules: unweighted passed/applicable (the same ratio as weighted, weight being constant).
    per_rule = group_sums(now, ["rule_id"])
    rules: dict[str, RuleSummary] = {}
    for rid in sorted(meta):
        m = meta[rid]
        cell = score_cell(per_rule.get((rid,)), min_sample)
        if m["status"] != "measured":
            cell = score_cell(None, min_sample)
        rules[rid] = RuleSummary(
            applicable=cell["applicable"],
            passed=cell["passed"],
            failed=cell["failed"],
            waived=cell["waived"],
            false_positive=cell["false_positive"],
            status=m["status"],
            score=ratio(cell["passed"], cell["applicable"]),
            title=m["title"],
            name=m["name"],
            step=m["step"],
            severity=m["severity"],
            weight=round(m["weight"], SUM_DECIMALS),
            low_sample=cell["low_sample"],
            rationale=m["rationale"],
            error=m["error"],
            # What the rule's failures take off the overall score, in score points: the rules
            # ranked by what they cost, not by how often they fail.
            cost=rule_cost(m["weight"], cell["failed"], overall["weighted_applicable"]),
        )

    per_step = group_sums(now, ["step"])
    steps: dict[str, StepSummary] = {}
    for index, step in enumerate(steps_sorted):
        cell = score_cell(per_step.get((step,)), min_sample)
        steps[step] = StepSummary(**cell, label=step_label(step), order=index, rules=sorted(step_rules[step]))

    technicians = _entities(now, previous, "_tech", "technician_id", "technician", steps_sorted, min_sample)
    queues = _entities(now, previous, "_queue", "queue_id", "queue", steps_sorted, min_sample, NO_QUEUE)

    trends = _trends(prepared, trend_weeks, steps_sorted, sorted(meta), technicians, queues, min_sample)
    compliance = ticket_compliance(
        current if current is not None else evaluation, None if current is not None else set(weeks_now)
    )
    if compliance is not None:
        add_compliance(compliance, overall, steps, technicians, queues)
    return Summary(
        score=overall["score"],
        ticket_compliance=overall.get("ticket_compliance"),
        overall=overall,
        period=period.as_dict(),
        as_of=_iso(as_of),
        tenant=_tenant(evaluation, config, tenant),
        min_sample=min_sample,
        weights=dict(sorted(SEVERITY_WEIGHTS.items())),
        rules=rules,
        steps=steps,
        technicians=technicians,
        queues=queues,
        trends=trends,
    )


def rule_cost(weight: float, failed: int, weighted_applicable: float) -> float:
    """Score points a rule's ``failed`` checks take off a total of ``weighted_applicable``."""
    if weighted_applicable <= 0:
        return 0.0
    return round(100.0 * weight * failed / weighted_applicable, 2)


def _trends(
    frame: pd.DataFrame,
    weeks: list[str],
    steps: list[str],
    rule_ids: list[str],
    technicians: list[EntitySummary],
    queues: list[EntitySummary],
    min_sample: int,
) -> Trends:
    """The same scores for each week of the trend range (oldest first)."""
    in_range = frame[frame["week"].isin(weeks)]
    overall = group_sums(in_range, ["week"])
    by_step = group_sums(in_range, ["week", "step"])
    by_tech = group_sums(in_range, ["week", "_tech"])
    by_queue = group_sums(in_range, ["week", "_queue"])
    by_rule = group_sums(in_range, ["week", "rule_id"])

    def series(table: dict[Any, tuple[float, ...]], key: str) -> list[float | None]:
        return [score_cell(table.get((w, key)), min_sample)["score"] for w in weeks]

    return Trends(
        weeks=list(weeks),
        overall=[score_cell(overall.get((w,)), min_sample) for w in weeks],
        steps={s: series(by_step, s) for s in steps},
        rules={r: series(by_rule, r) for r in rule_ids},
        technicians={e["key"]: series(by_tech, e["key"]) for e in technicians},
        queues={e["key"]: series(by_queue, e["key"]) for e in queues},
    )
