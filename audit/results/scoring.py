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
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, NotRequired, Protocol, TypedDict

import pandas as pd

from audit.core.config import SEVERITY_WEIGHTS, Config
from audit.core.period import Period, iso_week
from audit.engine.tables import FINDING_COLUMNS, NO_QUEUE, TALLY_COLUMNS, UNASSIGNED

__all__ = [
    "SCORE_DECIMALS",
    "STEP_ORDER",
    "TALLY_COLUMNS",
    "NO_QUEUE",
    "UNASSIGNED",
    "EntitySummary",
    "EvaluationLike",
    "RuleInfo",
    "RuleSummary",
    "ScoreCell",
    "StepSummary",
    "Summary",
    "TenantInfo",
    "TicketCompliance",
    "Trends",
    "waive_tallies",
    "entity_key",
    "period_findings",
    "period_weeks",
    "ratio",
    "score",
    "recount_compliance",
    "rule_cost",
    "step_label",
    "ticket_compliance",
    "step_order",
]

#: Scores are printed with one decimal; the JSON carries exactly what the reports print, so the
#: number a manager reads is the number the gate compares.
SCORE_DECIMALS = 1
#: Weighted sums keep more precision (weights may be fractional through rule overrides).
_SUM_DECIMALS = 4


#: Workflow order of the catalog, by rule-id prefix; steps are shown in this order, whatever the
#: engine calls them.
STEP_ORDER: tuple[str, ...] = ("INT", "QUA", "SLA", "LOG", "ESC", "CLO", "PM")
_STEP_LABELS = {
    "intake": "Intake",
    "qualification": "Qualification",
    "sla": "SLA",
    "worklog": "Work log",
    "work_log": "Work log",
    "escalation": "Escalation",
    "closure": "Closure",
    "postmortem": "Post-mortem",
    "post_mortem": "Post-mortem",
}


# --------------------------------------------------------------------------- inputs (Protocols)


class RuleInfo(Protocol):
    """What scoring needs of a rule's status object (``Evaluation.rules[id]``).

    Only ``status`` is required (measured / not_measured / disabled / error). Read when present:
    ``title``, ``name``, ``step``, ``severity``, ``weight``, ``rationale``, ``error``.
    """

    @property
    def status(self) -> str: ...


class EvaluationLike(Protocol):
    """The engine's Evaluation as scoring and the renderers consume it.

    Optional attributes read with ``getattr`` when present: ``tenant_name``, ``tenant_id``,
    ``zone``, ``web_url``, ``ruleset_version``.
    """

    @property
    def findings(self) -> pd.DataFrame: ...

    @property
    def tallies(self) -> pd.DataFrame: ...

    @property
    def rules(self) -> Mapping[str, RuleInfo]: ...


# --------------------------------------------------------------------------- output (TypedDicts)


class TicketCompliance(TypedDict):
    """Tickets with at least one applicable check, and how many of them broke no rule
    (no unwaived finding); ``rate`` is ``compliant / tickets`` in percent (``None``: no ticket)."""

    tickets: int
    compliant: int
    rate: float | None


class ScoreCell(TypedDict):
    score: float | None
    applicable: int
    passed: int
    failed: int
    waived: int
    false_positive: int
    weighted_applicable: float
    weighted_passed: float
    low_sample: bool
    ticket_compliance: NotRequired[TicketCompliance]


class RuleSummary(TypedDict):
    applicable: int
    passed: int
    failed: int
    waived: int
    false_positive: int
    status: str
    score: float | None
    title: str
    name: str
    step: str
    severity: str
    weight: float
    low_sample: bool
    rationale: str
    error: str | None
    cost: float  # score points of the weighted total this rule's failures take away


class StepSummary(ScoreCell):
    label: str
    order: int
    rules: list[str]


class EntitySummary(ScoreCell):
    key: str  # stable identifier: the id as text, or "unassigned"
    id: int | None
    name: str
    unassigned: bool
    steps: dict[str, ScoreCell]
    rules_failed: list[dict[str, Any]]  # [{rule_id, failed, waived}] most failures first
    previous_score: float | None
    delta: float | None


class Trends(TypedDict):
    weeks: list[str]
    overall: list[ScoreCell]
    steps: dict[str, list[float | None]]
    rules: dict[str, list[float | None]]
    technicians: dict[str, list[float | None]]
    queues: dict[str, list[float | None]]


class TenantInfo(TypedDict):
    name: str
    id: str | None
    zone: str | None
    web_url: str | None
    ruleset_version: str | None


class Summary(TypedDict):
    score: float | None
    ticket_compliance: TicketCompliance | None
    overall: ScoreCell
    period: dict[str, str]
    as_of: str | None
    tenant: TenantInfo
    min_sample: int
    weights: dict[str, int]
    rules: dict[str, RuleSummary]
    steps: dict[str, StepSummary]
    technicians: list[EntitySummary]
    queues: list[EntitySummary]
    trends: Trends
    # Added by the pipeline when there is something to say:
    precision: NotRequired[dict[str, dict[str, Any]]]  # rule -> reviewers' verdict counts (review import)
    waivers: NotRequired[dict[str, Any]]  # applied / expired / unmatched waivers
    noisy_rules: NotRequired[list[str]]  # rules whose measured precision is below [review] noisy_precision
    recall: NotRequired[dict[str, dict[str, Any]]]  # step -> estimated recall from the Sample answers


# --------------------------------------------------------------------------- helpers


def ratio(numerator: float, denominator: float) -> float | None:
    """``numerator / denominator × 100`` rounded, clamped to [0, 100]; ``None`` when nothing applies."""
    if denominator <= 0:
        return None
    value = 100.0 * numerator / denominator
    return round(min(100.0, max(0.0, value)), SCORE_DECIMALS)


def step_order(step: str, rule_ids: Iterable[str]) -> int:
    """Position of a step in the workflow, from the prefix of its rules' ids."""
    best = len(STEP_ORDER)
    for rid in rule_ids:
        prefix = re.split(r"[-_]", rid, maxsplit=1)[0].upper()
        if prefix in STEP_ORDER:
            best = min(best, STEP_ORDER.index(prefix))
    return best


def step_label(step: str) -> str:
    return _STEP_LABELS.get(step.lower(), step.replace("_", " ").replace("-", " ").capitalize())


def period_weeks(period: Period) -> list[str]:
    """The ISO weeks the period's days fall in."""
    weeks: list[str] = []
    day = period.start
    while day <= period.end:
        week = iso_week(day)
        if week not in weeks:
            weeks.append(week)
        day += timedelta(days=1)
    return weeks


def _clean_id(value: Any) -> int | None:
    if value is None or value is pd.NA:
        return None
    try:
        if isinstance(value, float) and math.isnan(value):
            return None
        return int(value)
    except (TypeError, ValueError):
        return None


def entity_key(value: Any) -> str:
    ident = _clean_id(value)
    return "unassigned" if ident is None else str(ident)


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime | pd.Timestamp):
        text: str = pd.Timestamp(value).isoformat()
        return text
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _empty_tallies() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="object") for c in TALLY_COLUMNS})
    for c in ("applicable", "passed", "failed", "weight"):
        frame[c] = frame[c].astype("float64")
    return frame


# --------------------------------------------------------------------------- waivers


def waive_tallies(tallies: pd.DataFrame, findings: pd.DataFrame) -> pd.DataFrame:
    """Tallies with ``waived`` and ``false_positive`` columns, each waived finding (false
    positives included) moved from failed to passed.

    The tally group of a finding is (rule, technician, queue, week). A group never loses more
    failures than it has (a defensive clip: the engine should never emit more findings than
    failures). ``waived`` counts the moved findings that are not false positives.
    """
    keys = ["rule_id", "technician_id", "queue_id", "week"]
    out = tallies.copy()
    if out.empty:
        out["waived"] = pd.Series(dtype="int64")
        out["false_positive"] = pd.Series(dtype="int64")
        return out
    for c in ("applicable", "passed", "failed"):
        out[c] = pd.to_numeric(out[c]).fillna(0).astype("int64")
    out["waived"] = 0
    out["false_positive"] = 0
    if findings.empty or "waived" not in findings.columns:
        return out
    waived = findings[findings["waived"].fillna(False).astype(bool)]
    if waived.empty:
        return out
    if "false_positive" in waived.columns:
        waived = waived.assign(_fp=waived["false_positive"].fillna(False).astype(bool).astype("int64"))
    else:
        waived = waived.assign(_fp=0)
    # Normalise the join keys (ids may be Int64 on one side and float on the other).
    counts = (
        waived.assign(
            technician_id=waived["technician_id"].map(entity_key),
            queue_id=waived["queue_id"].map(entity_key),
            week=waived["week"].astype(str),
        )
        .groupby(keys, dropna=False)
        .agg(_w=("_fp", "size"), _f=("_fp", "sum"))
        .reset_index()
    )
    joined = out.assign(
        _t=out["technician_id"].map(entity_key),
        _q=out["queue_id"].map(entity_key),
        _wk=out["week"].astype(str),
    ).merge(
        counts.rename(columns={"technician_id": "_t", "queue_id": "_q", "week": "_wk"}),
        on=["rule_id", "_t", "_q", "_wk"],
        how="left",
    )
    moved = joined["_w"].fillna(0).astype("int64").clip(upper=joined["failed"]).to_numpy()
    false_positive = joined["_f"].fillna(0).astype("int64").clip(upper=moved).to_numpy()
    out["waived"] = moved - false_positive
    out["false_positive"] = false_positive
    out["passed"] = out["passed"] + moved
    out["failed"] = out["failed"] - moved
    return out


# --------------------------------------------------------------------------- aggregation


def _cell(
    applicable: float,
    passed: float,
    failed: float,
    waived: float,
    false_positive: float,
    w_app: float,
    w_pass: float,
    min_sample: int,
) -> ScoreCell:
    n = int(applicable)
    return ScoreCell(
        score=ratio(w_pass, w_app),
        applicable=n,
        passed=int(passed),
        failed=int(failed),
        waived=int(waived),
        false_positive=int(false_positive),
        weighted_applicable=round(float(w_app), _SUM_DECIMALS),
        weighted_passed=round(float(w_pass), _SUM_DECIMALS),
        low_sample=n < min_sample,
    )


_EMPTY_SUMS = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
#: The summed tally columns, in the order of a sums tuple.
_SUM_COLUMNS = ["applicable", "passed", "failed", "waived", "false_positive", "_w_app", "_w_pass"]


def _sums(frame: pd.DataFrame, keys: list[str]) -> dict[Any, tuple[float, ...]]:
    """Group sums (applicable, passed, failed, waived, false_positive, w_app, w_pass) per key tuple."""
    if frame.empty:
        return {}
    grouped = frame.groupby(keys, dropna=False, sort=True)[_SUM_COLUMNS].sum()
    # A one-key groupby has a flat index: normalise every key to a tuple so lookups are uniform.
    return {
        (idx if isinstance(idx, tuple) else (idx,)): tuple(float(v) for v in row)
        for idx, row in zip(grouped.index, grouped.to_numpy(), strict=True)
    }


def _to_cell(sums: tuple[float, ...] | None, min_sample: int) -> ScoreCell:
    applicable, passed, failed, waived, false_positive, w_app, w_pass = sums or _EMPTY_SUMS
    return _cell(applicable, passed, failed, waived, false_positive, w_app, w_pass, min_sample)


@dataclass(frozen=True)
class _Prepared:
    """Waiver-adjusted tallies of measured rules, with the weighted columns and entity keys."""

    frame: pd.DataFrame


def _prepare(evaluation: EvaluationLike, config: Config) -> _Prepared:
    tallies = evaluation.tallies if evaluation.tallies is not None else _empty_tallies()
    findings = evaluation.findings if evaluation.findings is not None else pd.DataFrame()
    frame = waive_tallies(tallies, findings)
    if frame.empty:
        frame = _empty_tallies().assign(
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
            out[key] = (_clean_id(ident), text or f"#{key}")
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
    totals = _sums(current, [key_col])
    by_step = _sums(current, [key_col, "step"])
    prev = _sums(previous, [key_col])
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
        cell = _to_cell(totals.get((key,)), min_sample)
        prev_cell = _to_cell(prev.get((key,)), min_sample)
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
                steps={s: _to_cell(by_step.get((key, s)), min_sample) for s in steps if (key, s) in by_step},
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


# --------------------------------------------------------------------------- ticket compliance


def _key_column(ids: pd.Series) -> pd.Series:
    """Entity keys (the id as text, ``"unassigned"`` for none) of a whole column, vectorised."""
    numbers = pd.to_numeric(ids, errors="coerce").astype("Int64")
    return numbers.astype("string").fillna("unassigned").astype(str)


def _compliance_cell(tickets: int, failing: int) -> TicketCompliance:
    compliant = max(0, tickets - failing)
    return TicketCompliance(tickets=tickets, compliant=compliant, rate=ratio(compliant, tickets))


@dataclass(frozen=True)
class _Compliance:
    """Ticket compliance of the period, by any grouping of technician, queue and step.

    ``checks``: tickets with at least one applicable check (the engine's ``ticket_checks``);
    ``failing``: the same keys of the unwaived findings. A ticket is compliant in a group when it
    has a check there and no unwaived finding there.
    """

    checks: pd.DataFrame
    failing: pd.DataFrame

    def table(self, keys: list[str]) -> dict[Any, TicketCompliance]:
        if self.checks.empty:
            return {}
        tickets = self.checks.groupby(keys, sort=True, observed=True)["ticket_id"].nunique()
        failing = (
            self.failing.groupby(keys, sort=True, observed=True)["ticket_id"].nunique()
            if not self.failing.empty
            else pd.Series(dtype="int64")
        )
        out: dict[Any, TicketCompliance] = {}
        for index, count in tickets.items():
            key = index if isinstance(index, tuple) else (index,)
            out[key] = _compliance_cell(int(count), int(failing.get(index, 0)))
        return out

    def overall(self) -> TicketCompliance:
        tickets = int(self.checks["ticket_id"].nunique()) if not self.checks.empty else 0
        failing = int(self.failing["ticket_id"].nunique()) if not self.failing.empty else 0
        return _compliance_cell(tickets, failing)


def _compliance_frame(frame: pd.DataFrame, weeks: set[str] | None) -> pd.DataFrame:
    """``frame`` (ticket checks or findings) reduced to (ticket_id, _tech, _queue, step) keys."""
    if weeks is not None and "week" in frame.columns:
        frame = frame[frame["week"].astype(str).isin(weeks)]
    frame = frame[frame["ticket_id"].notna()]
    return pd.DataFrame(
        {
            "ticket_id": pd.to_numeric(frame["ticket_id"]).astype("int64").to_numpy(),
            "_tech": _key_column(frame["technician_id"]).to_numpy(),
            "_queue": _key_column(frame["queue_id"]).to_numpy(),
            "step": frame["step"].astype(str).to_numpy(),
        }
    )


def recount_compliance(summary: Mapping[str, Any], open_findings: pd.DataFrame) -> None:
    """Re-derive ``compliant`` / ``rate`` of every ticket-compliance cell of ``summary`` (in place)
    from the period's unwaived findings; the ``tickets`` counted by scoring stay. Used when
    findings are waived after scoring (``check --waivers``)."""
    failing = _compliance_frame(open_findings, None) if not open_findings.empty else None

    def count(keys: list[str]) -> dict[Any, int]:
        if failing is None or failing.empty:
            return {}
        counts = failing.groupby(keys, sort=True)["ticket_id"].nunique()
        return {(k if isinstance(k, tuple) else (k,)): int(v) for k, v in counts.items()}

    def update(cell: Any, failed: int) -> None:
        if isinstance(cell, dict) and isinstance(cell.get("ticket_compliance"), dict):
            cell["ticket_compliance"] = _compliance_cell(int(cell["ticket_compliance"]["tickets"]), failed)

    overall = summary.get("overall")
    update(overall, int(failing["ticket_id"].nunique()) if failing is not None else 0)
    if isinstance(overall, dict) and isinstance(summary, dict) and "ticket_compliance" in overall:
        summary["ticket_compliance"] = overall["ticket_compliance"]
    by_step = count(["step"])
    for name, step in (summary.get("steps") or {}).items():
        update(step, by_step.get((name,), 0))
    for section, column in (("technicians", "_tech"), ("queues", "_queue")):
        totals, per_step = count([column]), count([column, "step"])
        for entity in summary.get(section) or []:
            update(entity, totals.get((entity.get("key"),), 0))
            for name, cell in (entity.get("steps") or {}).items():
                update(cell, per_step.get((entity.get("key"), name), 0))


def ticket_compliance(evaluation: EvaluationLike, weeks: set[str] | None = None) -> _Compliance | None:
    """Ticket compliance of ``evaluation`` (restricted to ISO ``weeks`` when given); ``None`` when
    the evaluation carries no ``ticket_checks`` (an engine or fixture that predates them)."""
    checks = getattr(evaluation, "ticket_checks", None)
    if checks is None:
        return None
    findings = evaluation.findings if evaluation.findings is not None else pd.DataFrame()
    measured = {
        rid for rid, info in evaluation.rules.items() if getattr(info, "status", "measured") == "measured"
    }
    if not findings.empty:
        open_ = ~findings["waived"].fillna(False).astype(bool) if "waived" in findings.columns else True
        findings = findings[open_ & findings["rule_id"].astype(str).isin(measured)]
    empty = pd.DataFrame(columns=["ticket_id", "technician_id", "queue_id", "step", "week"])
    return _Compliance(
        checks=_compliance_frame(checks if not checks.empty else empty, weeks),
        failing=_compliance_frame(findings if not findings.empty else empty, weeks),
    )


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

    total = now[_SUM_COLUMNS].sum()
    overall = _to_cell(tuple(float(total[c]) for c in _SUM_COLUMNS), min_sample)

    # Rules: unweighted passed/applicable (the same ratio as weighted, weight being constant).
    per_rule = _sums(now, ["rule_id"])
    rules: dict[str, RuleSummary] = {}
    for rid in sorted(meta):
        m = meta[rid]
        cell = _to_cell(per_rule.get((rid,)), min_sample)
        if m["status"] != "measured":
            cell = _to_cell(None, min_sample)
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
            weight=round(m["weight"], _SUM_DECIMALS),
            low_sample=cell["low_sample"],
            rationale=m["rationale"],
            error=m["error"],
            # What the rule's failures take off the overall score, in score points: the rules
            # ranked by what they cost, not by how often they fail.
            cost=rule_cost(m["weight"], cell["failed"], overall["weighted_applicable"]),
        )

    per_step = _sums(now, ["step"])
    steps: dict[str, StepSummary] = {}
    for index, step in enumerate(steps_sorted):
        cell = _to_cell(per_step.get((step,)), min_sample)
        steps[step] = StepSummary(**cell, label=step_label(step), order=index, rules=sorted(step_rules[step]))

    technicians = _entities(now, previous, "_tech", "technician_id", "technician", steps_sorted, min_sample)
    queues = _entities(now, previous, "_queue", "queue_id", "queue", steps_sorted, min_sample, NO_QUEUE)

    trends = _trends(prepared, trend_weeks, steps_sorted, sorted(meta), technicians, queues, min_sample)
    compliance = ticket_compliance(
        current if current is not None else evaluation, None if current is not None else set(weeks_now)
    )
    if compliance is not None:
        _add_compliance(compliance, overall, steps, technicians, queues)
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


def _add_compliance(
    compliance: _Compliance,
    overall: ScoreCell,
    steps: Mapping[str, StepSummary],
    technicians: list[EntitySummary],
    queues: list[EntitySummary],
) -> None:
    """Put ``ticket_compliance`` beside every score of the period (overall, step, entity, entity step)."""
    none = _compliance_cell(0, 0)
    overall["ticket_compliance"] = compliance.overall()
    by_step = compliance.table(["step"])
    for name, step in steps.items():
        step["ticket_compliance"] = by_step.get((name,), none)
    for entities, column in ((technicians, "_tech"), (queues, "_queue")):
        totals = compliance.table([column])
        per_step = compliance.table([column, "step"])
        for entity in entities:
            entity["ticket_compliance"] = totals.get((entity["key"],), none)
            for name, cell in entity["steps"].items():
                cell["ticket_compliance"] = per_step.get((entity["key"], name), none)


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
    overall = _sums(in_range, ["week"])
    by_step = _sums(in_range, ["week", "step"])
    by_tech = _sums(in_range, ["week", "_tech"])
    by_queue = _sums(in_range, ["week", "_queue"])
    by_rule = _sums(in_range, ["week", "rule_id"])

    def series(table: dict[Any, tuple[float, ...]], key: str) -> list[float | None]:
        return [_to_cell(table.get((w, key)), min_sample)["score"] for w in weeks]

    return Trends(
        weeks=list(weeks),
        overall=[_to_cell(overall.get((w,)), min_sample) for w in weeks],
        steps={s: series(by_step, s) for s in steps},
        rules={r: series(by_rule, r) for r in rule_ids},
        technicians={e["key"]: series(by_tech, e["key"]) for e in technicians},
        queues={e["key"]: series(by_queue, e["key"]) for e in queues},
    )
