"""Evaluate a rule set over frames: findings, tallies and a status per rule (the tables
themselves are assembled by ``audit.engine.tables``).

Per rule: the rows whose anchor lies in the period, the scope mask, the pass mask, the owner
(technician) and the ticket's queue; all vectorised (masks, ``np.bincount``, groupby), with
per-rule loops only. A rule that raises, or runs longer than
``evaluate.rule_time_limit_seconds``, is reported as ``error`` (never as a pass) and the
others still run. Output order is deterministic: rules in procedure order, then ticket id,
then row id.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from audit.core.config import SEVERITY_WEIGHTS, Config
from audit.core.period import Period
from audit.core.progress import progress_bar
from audit.engine.context import Ctx, Env
from audit.engine.deadline import time_limit
from audit.engine.frames import Frames
from audit.engine.messages import render_messages
from audit.engine.model import Rule, RuleSet, RuleStatus
from audit.engine.predicates import SUBSET_FRACTION, as_bool
from audit.engine.tables import Columns, TicketCoverage, finish_findings, finish_tallies

__all__ = [
    "Evaluation",
    "RuleOutcome",
    "evaluate",
    "evaluate_rule",
    "make_env",
]

log = logging.getLogger("audit.engine")


@dataclass
class Evaluation:
    """What ``evaluate`` returns (see docs/architecture.md)."""

    findings: pd.DataFrame
    tallies: pd.DataFrame
    rules: dict[str, RuleStatus]
    period: Period
    as_of: datetime
    ruleset_digest: str = ""
    warnings: list[str] = field(default_factory=list)
    #: Tickets with at least one applicable check, per technician, step and week
    #: (:data:`audit.engine.tables.TICKET_CHECK_COLUMNS`); scoring derives ticket compliance from it and the findings.
    ticket_checks: pd.DataFrame | None = None


@dataclass
class RuleOutcome:
    """Row-level result of one rule: ``rows`` are positions in the full frame of its kind."""

    rule: Rule
    ctx: Ctx
    rows: np.ndarray
    applicable: np.ndarray
    passed: np.ndarray

    def row_ids(self, which: str) -> list[int]:
        """Ids of ``pass``, ``fail`` or ``applicable`` rows (for tests and debugging)."""
        ids = self.ctx.frame["id"].astype("Int64").to_numpy(dtype="int64", na_value=-1)
        mask = {
            "pass": self.applicable & self.passed,
            "fail": self.applicable & ~self.passed,
            "applicable": self.applicable,
        }[which]
        return sorted(int(i) for i in ids[mask])


def make_env(frames: Frames, config: Config, as_of: datetime) -> Env:
    stamp = pd.Timestamp(as_of)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return Env(frames=frames, mapping=config.mapping, as_of=stamp, timezone=config.timezone)


def _period_ctx(env: Env, rule: Rule, period: Period) -> Ctx:
    kind, anchor = rule.kind, rule.spec.anchor
    tag = f"{kind}@{anchor}"

    def compute() -> Ctx:
        full = env.full(kind)
        when = full.frame.full[anchor]
        start, end = pd.Timestamp(period.start_instant), pd.Timestamp(period.end_instant)
        keep = (when.notna() & (when >= start) & (when < end)).to_numpy(dtype=bool)
        if keep.all():  # every row is in the period: share the full context and its caches
            return full
        return full.subset(np.flatnonzero(keep), tag)

    return env.memo(("subject", tag), compute)  # type: ignore[no-any-return]


def evaluate_rule(env: Env, rule: Rule, period: Period) -> RuleOutcome:
    """Scope and pass masks of one rule over the rows anchored in ``period``."""
    ctx = _period_ctx(env, rule, period)
    n = len(ctx)
    scope = as_bool(rule.scope(ctx), n) if rule.scope is not None else np.ones(n, dtype=bool)
    rows = np.flatnonzero(scope)
    if 0 < len(rows) <= n * SUBSET_FRACTION and rule.scope is not None:
        tag = f"{ctx.tag}|{rule.scope.key}"
        sub = env.memo((tag, "ctx"), lambda: ctx.subset(rows, tag))
        passed = np.zeros(n, dtype=bool)
        passed[rows] = as_bool(rule.check(sub), len(rows))
    elif len(rows):
        passed = as_bool(rule.check(ctx), n)
    else:
        passed = np.zeros(n, dtype=bool)
    base = ctx.base_rows if ctx.base_rows is not None else np.arange(n)
    return RuleOutcome(rule, ctx, base, scope, passed)


def _owner(ctx: Ctx, owner: str) -> np.ndarray:
    """Technician id per row (-1: none), by the rule's owner kind."""
    pos = ctx.ticket_pos()

    def on_ticket(column: str) -> np.ndarray:
        values = ctx.env.ids("tickets", column)
        return np.where(pos >= 0, values[np.maximum(pos, 0)], -1)

    def own(column: str) -> np.ndarray:
        values = ctx.env.ids(ctx.kind, column)
        return values if ctx.base_rows is None else values[ctx.base_rows]

    if owner == "entry":
        return own("resourceID")
    if owner == "author":
        return own("creatorResourceID")
    assigned = on_ticket("assignedResourceID")
    if owner == "completed_by":
        completed = on_ticket("completedByResourceID")
        return np.where(completed >= 0, completed, assigned)
    return assigned


def _week_codes(when: pd.Series, timezone: str) -> np.ndarray:
    """ISO year*100+week of each instant's local date (weeks begin at the tenant's midnights)."""
    iso = when.dt.tz_convert(timezone).dt.isocalendar()
    codes: np.ndarray = (iso["year"].astype("int64") * 100 + iso["week"].astype("int64")).to_numpy(
        dtype="int64"
    )
    return codes


def _tally(tech: np.ndarray, queue: np.ndarray, week: np.ndarray, passed: np.ndarray) -> Columns:
    """Applicable and passed counts per (technician, queue, week), sorted by those keys.

    Keys are factorised (hashing, sorted codes) into one int64 group code, then counted with
    ``np.bincount``: linear in the rows, where a 3-key lexsort per rule was the engine's
    single largest cost at a million tickets."""
    t_codes, t_uniq = pd.factorize(tech, sort=True)
    q_codes, q_uniq = pd.factorize(queue, sort=True)
    w_codes, w_uniq = pd.factorize(week, sort=True)
    nq, nw = max(len(q_uniq), 1), max(len(w_uniq), 1)
    key = (t_codes.astype("int64") * nq + q_codes) * nw + w_codes
    space = max(len(t_uniq), 1) * nq * nw
    if space <= 4 * len(key) + 1_000_000:
        sizes_all = np.bincount(key, minlength=space)
        groups = np.flatnonzero(sizes_all)
        sizes = sizes_all[groups].astype("int64")
        sums = np.bincount(key, weights=passed.astype("float64"), minlength=space)[groups].astype("int64")
    else:  # very sparse key space: sort the codes instead
        groups, inverse = np.unique(key, return_inverse=True)
        sizes = np.bincount(inverse.reshape(-1)).astype("int64")
        sums = np.bincount(inverse.reshape(-1), weights=passed.astype("float64")).astype("int64")
    return {
        "technician_id": np.asarray(t_uniq, dtype="int64")[groups // (nq * nw)]
        if len(groups)
        else np.zeros(0, "int64"),
        "queue_id": np.asarray(q_uniq, dtype="int64")[(groups // nw) % nq]
        if len(groups)
        else np.zeros(0, "int64"),
        "week": np.asarray(w_uniq, dtype="int64")[groups % nw] if len(groups) else np.zeros(0, "int64"),
        "applicable": sizes,
        "passed": sums,
    }


def _rule_frames(out: RuleOutcome, status: RuleStatus, rule_index: int) -> tuple[Columns, Columns, Columns]:
    """One rule's tally rows, finding rows and (ticket, technician, week) keys of its applicable
    rows, as plain arrays (assembled once at the end)."""
    ctx, rule = out.ctx, out.rule
    app_rows = np.flatnonzero(out.applicable)
    pos = ctx.ticket_pos()[app_rows]
    tech = _owner(ctx, rule.spec.owner)[app_rows]
    queue_all = ctx.env.ids("tickets", "queueID")
    queue = np.where(pos >= 0, queue_all[np.maximum(pos, 0)], -1)
    anchor = rule.spec.anchor
    week = ctx.memo(f"week:{anchor}", lambda: _week_codes(ctx.frame[anchor], ctx.env.timezone))[app_rows]
    passed = out.passed[app_rows]
    tally = _tally(tech, queue, week, passed)
    tally["order"] = np.full(len(tally["week"]), rule_index, dtype="int64")
    fail = ~passed
    ticket_ids = ctx.env.ids("tickets", "id")
    tid = np.where(pos >= 0, ticket_ids[np.maximum(pos, 0)], -1)[fail]
    row_id = _row_ids(ctx)[app_rows][fail]
    order = np.lexsort((row_id, tid))  # (ticket, row): parts then concatenate in rule order
    stamps = ctx.memo(f"anchor_us:{anchor}", lambda: _micros(ctx.frame[anchor]))
    findings = {
        "order": np.full(len(order), rule_index, dtype="int64"),
        "ticket_id": tid[order],
        "ticket_pos": pos[fail][order],
        "row_id": row_id[order],
        "technician_id": tech[fail][order],
        "queue_id": queue[fail][order],
        "anchor_date": stamps[app_rows][fail][order],
        "week": week[fail][order],
    }
    failing_rows = app_rows[fail][order]
    texts = render_messages(rule, ctx, failing_rows)
    # The message as codes into this rule's distinct texts: the findings' categorical is then
    # built from the few distinct texts, not by hashing millions of message strings.
    if texts is None:  # a fixed message: one shared string
        findings["message"] = np.zeros(len(failing_rows), dtype="int64")
        findings["message_texts"] = np.array([rule.message], dtype=object)
    else:
        codes, distinct = pd.factorize(texts)
        findings["message"] = codes.astype("int64")
        findings["message_texts"] = np.asarray(distinct, dtype=object)
    on_ticket = pos >= 0  # a row outside any ticket counts towards no ticket
    coverage = {"pos": pos[on_ticket], "tech": tech[on_ticket], "week": week[on_ticket]}
    return tally, findings, coverage


def _micros(when: pd.Series) -> np.ndarray:
    """UTC instants as int64 microseconds (NaT: the int64 minimum, as numpy stores it)."""
    micros: np.ndarray = (
        when.astype("datetime64[us, UTC]").dt.tz_localize(None).to_numpy(dtype="datetime64[us]").view("int64")
    )
    return micros


def _row_ids(ctx: Ctx) -> np.ndarray:
    ids = ctx.env.ids(ctx.kind, "id")
    return ids if ctx.base_rows is None else ids[ctx.base_rows]


def _effective(rule: Rule, config: Config) -> tuple[bool, str, float]:
    override = config.rules.get(rule.id)
    enabled = rule.spec.enabled
    severity: str = rule.spec.severity
    weight: float | None = None
    if override is not None:
        enabled = override.enabled if override.enabled is not None else enabled
        severity = override.severity or severity
        weight = override.weight
    return enabled, severity, float(weight if weight is not None else SEVERITY_WEIGHTS[severity])


def evaluate(
    frames: Frames,
    ruleset: RuleSet,
    config: Config,
    *,
    period: Period,
    as_of: datetime,
    progress: bool | None = None,
) -> Evaluation:
    """Evaluate every rule of ``ruleset`` over ``frames`` for ``period`` at ``as_of``
    (a progress bar per rule on a terminal; ``progress`` forces it on or off)."""

    env = make_env(frames, config, as_of)
    bar = progress_bar(len(ruleset.rules), "evaluate", "rules", enabled=progress)
    limit = config.evaluate.rule_time_limit_seconds
    statuses: dict[str, RuleStatus] = {}
    tallies: list[Columns] = []
    findings: list[Columns] = []
    coverage = TicketCoverage(len(frames.tickets))
    for index, rule in enumerate(ruleset.rules):
        bar.update(1)
        enabled, severity, weight = _effective(rule, config)
        status = RuleStatus(
            "measured",
            step=rule.step,
            name=rule.spec.name,
            title=rule.spec.title,
            severity=severity,
            weight=weight,
            rationale=rule.spec.rationale.strip(),
        )
        statuses[rule.id] = status
        if not enabled:
            status.status = "disabled"
            continue
        if any(not env.has(need) for need in rule.spec.needs):
            status.status = "not_measured"
            status.error = f"needs {', '.join(rule.spec.needs)}, which was not extracted"
            continue
        try:
            with time_limit(limit, "ran out of time (evaluate.rule_time_limit_seconds)"):
                outcome = evaluate_rule(env, rule, period)
                tally, found, covered = _rule_frames(outcome, status, index)
        except Exception as exc:  # a broken or runaway rule is reported, never counted as a pass
            log.error("rule %s failed: %s: %s", rule.id, type(exc).__name__, exc)
            status.status = "error"
            status.error = f"{type(exc).__name__}: {exc}"
            continue
        tallies.append(tally)
        findings.append(found)
        coverage.add(rule.step, rule.spec.owner, covered)
        later = {f"{r.kind}@{r.spec.anchor}" for r in ruleset.rules[index + 1 :]}
        subject = f"{rule.kind}@{rule.spec.anchor}"
        if subject not in later:
            env.forget(subject)
    bar.close()
    env.cache.clear()  # masks and subsets are not needed to assemble the outputs
    return Evaluation(
        findings=finish_findings(findings, ruleset, statuses, frames),
        tallies=finish_tallies(tallies, ruleset, statuses, frames),
        rules=statuses,
        period=period,
        as_of=as_of,
        ruleset_digest=ruleset.digest,
        warnings=list(frames.warnings),
        ticket_checks=coverage.frame(frames),
    )
