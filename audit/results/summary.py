"""The ``summary.json`` document: its shape (TypedDicts), what scoring reads (Protocols), and the
small arithmetic every part of scoring shares (ratio, step order and labels, ISO weeks, keys).

The scorer (:mod:`audit.results.scoring`) builds the document; ticket compliance
(:mod:`audit.results.compliance`) fills its ``ticket_compliance`` cells; renderers and the gate read it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any, NotRequired, Protocol, TypedDict

import pandas as pd

from audit.core.period import Period, iso_week

#: Scores are printed with one decimal; the JSON carries exactly what the reports print, so the
#: number a manager reads is the number the gate compares.
SCORE_DECIMALS = 1


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


def clean_id(value: Any) -> int | None:
    if value is None or value is pd.NA:
        return None
    try:
        if isinstance(value, float) and math.isnan(value):
            return None
        return int(value)
    except (TypeError, ValueError):
        return None


def entity_key(value: Any) -> str:
    ident = clean_id(value)
    return "unassigned" if ident is None else str(ident)
