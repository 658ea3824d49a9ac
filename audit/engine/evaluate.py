"""Evaluate a rule set over frames: findings, tallies and a status per rule.

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
from audit.engine.frames import Frames, ticket_url_base
from audit.engine.messages import render_messages
from audit.engine.model import Rule, RuleSet, RuleStatus
from audit.engine.predicates import as_bool
from audit.results.scoring import NO_QUEUE, UNASSIGNED  # one name for one thing in every output

__all__ = [
    "FINDING_COLUMNS",
    "TALLY_COLUMNS",
    "TICKET_CHECK_COLUMNS",
    "Evaluation",
    "RuleOutcome",
    "evaluate",
    "evaluate_rule",
    "make_env",
]

log = logging.getLogger("audit.engine")

FINDING_COLUMNS = (
    "rule_id",
    "rule_name",
    "step",
    "severity",
    "weight",
    "ticket_id",
    "ticket_number",
    "row_kind",
    "row_id",
    "technician_id",
    "technician",
    "queue_id",
    "queue",
    "anchor_date",
    "week",
    "message",
    "waived",
    "ticket_url",
)
TALLY_COLUMNS = (
    "rule_id",
    "step",
    "severity",
    "weight",
    "technician_id",
    "technician",
    "queue_id",
    "queue",
    "week",
    "applicable",
    "passed",
    "failed",
)
#: One row per (ticket, technician, step, week) with at least one applicable check: the
#: denominator of ticket compliance (tallies count checks, not tickets).
TICKET_CHECK_COLUMNS = ("ticket_id", "technician_id", "queue_id", "step", "week")

# Evaluate the check on a scope subset when the scope keeps at most this share of rows.
_SUBSET_FRACTION = 0.5


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
    #: (:data:`TICKET_CHECK_COLUMNS`); scoring derives ticket compliance from it and the findings.
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
    if 0 < len(rows) <= n * _SUBSET_FRACTION and rule.scope is not None:
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


def _ids(series: pd.Series) -> np.ndarray:
    ids: np.ndarray = series.astype("Int64").to_numpy(dtype="int64", na_value=-1)
    return ids


#: Owner kinds whose technician is the ticket's (one per ticket), not the row's.
_TICKET_OWNERS = ("assigned", "completed_by")


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


def _resource_names(frames: Frames) -> dict[int, str]:
    res = frames.resources
    if res is None or res.empty:
        return {}
    first = res["firstName"].astype("string").fillna("").str.strip()
    last = res["lastName"].astype("string").fillna("").str.strip()
    name = (first + " " + last).str.strip()
    name = name.where(name != "", res["userName"].astype("string").fillna(""))
    return {int(i): str(n) for i, n in zip(_ids(res["id"]), name, strict=True) if i >= 0 and n}


def _queue_names(frames: Frames) -> dict[int, str]:
    t = frames.tickets
    pairs = pd.DataFrame({"q": _ids(t["queueID"]), "label": t["queueID_label"].astype("string")})
    pairs = pairs[(pairs["q"] >= 0) & pairs["label"].notna()].drop_duplicates("q")
    return {int(q): str(lbl) for q, lbl in zip(pairs["q"], pairs["label"], strict=True)}


def _labels(codes: np.ndarray, labels: list[str] | np.ndarray) -> pd.Categorical:
    """Per-row labels as a categorical built from integer codes: millions of findings or
    tally rows never become millions of Python strings."""
    # Factorised as Python objects: a numpy "U" array would be as wide as the longest label for
    # every row (a million ticket titles, one of them long, would cost gigabytes).
    values = np.empty(len(labels), dtype=object)
    values[:] = [str(label) for label in labels]
    inverse, uniq = pd.factorize(values, sort=True)
    return pd.Categorical.from_codes(inverse[codes], categories=pd.Index(uniq, dtype=object))


def _name(values: np.ndarray, names: dict[int, str], none: str, unknown: str) -> pd.Categorical:
    inverse, uniq = pd.factorize(values, sort=True)
    labels = [none if i < 0 else names.get(int(i), f"{unknown} {int(i)}") for i in uniq]
    return _labels(inverse, labels)


def _nullable(values: np.ndarray) -> pd.arrays.IntegerArray:
    """int64 ids with -1 for none -> nullable Int64 (sharing the values)."""
    values = np.asarray(values, dtype="int64")
    return pd.arrays.IntegerArray(values, values < 0)


Columns = dict[str, np.ndarray]


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


def _ticket_tech_key(pos: np.ndarray, tech: np.ndarray) -> np.ndarray:
    """(ticket position, technician id) packed in one int64: position in the high 32 bits, the id
    (an Autotask int32; -1 for none) in the low 32, so the union of many rules' keys is one sort."""
    return (pos.astype("int64") << 32) | (tech.astype("int64") & 0xFFFFFFFF)


class _TicketCoverage:
    """The distinct (ticket, technician) keys with an applicable check, per (step, week).

    When the owner is the ticket's (``assigned``, ``completed_by``) the technician follows from
    the ticket, so a rule only marks its tickets in one boolean per ticket and (step, owner,
    week): no sort per rule. Owners of the row (``entry``, ``author``) keep packed keys; those
    parts are merged (``np.unique``) once they hold more keys than the last merge left, so memory
    stays near the distinct count.
    """

    def __init__(self, tickets: int) -> None:
        self.tickets = tickets
        self.parts: dict[tuple[str, int], list[np.ndarray]] = {}
        self.sizes: dict[tuple[str, int], tuple[int, int]] = {}  # (pending keys, keys after last merge)
        self.marked: dict[tuple[str, int], dict[str, np.ndarray]] = {}  # slot -> owner -> ticket mask
        self.owners: dict[str, np.ndarray] = {}  # ticket owner kind -> technician id per ticket

    def add(self, step: str, owner: str, coverage: Columns) -> None:
        week, pos, tech = coverage["week"], coverage["pos"], coverage["tech"]
        if not len(week):
            return
        by_ticket = owner in _TICKET_OWNERS
        if by_ticket:
            techs = self.owners.setdefault(owner, np.full(self.tickets, -1, dtype="int64"))
            techs[pos] = tech  # the same id for a ticket in every rule of this owner kind
        else:
            key = _ticket_tech_key(pos, tech)
        # The weeks present (a handful of yyyyww codes): counted, not sorted — this runs per rule
        # over every applicable row.
        low = int(week.min())
        codes = np.flatnonzero(np.bincount(week - low)) + low
        for code in codes:
            rows = (week == code) if len(codes) > 1 else slice(None)
            slot = (step, int(code))
            if by_ticket:
                marks = self.marked.setdefault(slot, {})
                if owner not in marks:
                    marks[owner] = np.zeros(self.tickets, dtype=bool)
                marks[owner][pos[rows]] = True
                continue
            part = key[rows]
            parts = self.parts.setdefault(slot, [])
            parts.append(part)
            pending, merged = self.sizes.get(slot, (0, 0))
            pending += len(part)
            if pending > max(merged, 1 << 16):
                self.parts[slot] = [np.unique(np.concatenate(parts))]
                merged, pending = len(self.parts[slot][0]), 0
            self.sizes[slot] = (pending, merged)

    def _slot_keys(self, slot: tuple[str, int]) -> np.ndarray:
        """The sorted distinct keys of one (step, week)."""
        chunks = list(self.parts.get(slot, []))
        for owner, mask in sorted(self.marked.get(slot, {}).items()):
            pos = np.flatnonzero(mask)
            chunks.append(_ticket_tech_key(pos, self.owners[owner][pos]))  # sorted: one key per ticket
        if len(chunks) == 1 and slot not in self.parts:
            return chunks[0]
        return np.unique(np.concatenate(chunks))

    def frame(self, frames: Frames) -> pd.DataFrame:
        keys: list[np.ndarray] = []
        steps: list[np.ndarray] = []
        weeks: list[np.ndarray] = []
        for step, code in sorted(set(self.parts) | set(self.marked)):
            unique = self._slot_keys((step, code))
            keys.append(unique)
            steps.append(np.full(len(unique), step, dtype=object))
            weeks.append(np.full(len(unique), code, dtype="int64"))
        if not keys:
            dtypes = {"ticket_id": "Int64", "technician_id": "Int64", "queue_id": "Int64"}
            return pd.DataFrame({c: pd.Series(dtype=dtypes.get(c, "object")) for c in TICKET_CHECK_COLUMNS})
        key = np.concatenate(keys)
        pos = key >> 32
        tech = (key & 0xFFFFFFFF).astype("uint32").astype("int32").astype("int64")
        tickets = frames.tickets
        ticket_ids = _ids(tickets["id"])[pos]
        queue_ids = _ids(tickets["queueID"])[pos]
        step_values = np.concatenate(steps)
        step_codes, step_uniq = pd.factorize(step_values, sort=True)
        return pd.DataFrame(
            {
                "ticket_id": _nullable(ticket_ids),
                "technician_id": _nullable(tech),
                "queue_id": _nullable(queue_ids),
                "step": _labels(step_codes, list(step_uniq)),
                "week": _week_labels(np.concatenate(weeks)),
            }
        )


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
    coverage = _TicketCoverage(len(frames.tickets))
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
        findings=_finish_findings(findings, ruleset, statuses, frames),
        tallies=_finish_tallies(tallies, ruleset, statuses, frames),
        rules=statuses,
        period=period,
        as_of=as_of,
        ruleset_digest=ruleset.digest,
        warnings=list(frames.warnings),
        ticket_checks=coverage.frame(frames),
    )


def _rule_columns(order: np.ndarray, ruleset: RuleSet, statuses: dict[str, RuleStatus]) -> dict[str, object]:
    rules = ruleset.rules
    return {
        "rule_id": _labels(order, [r.id for r in rules]),
        "rule_name": _labels(order, [r.spec.name for r in rules]),
        "step": _labels(order, [r.step for r in rules]),
        "severity": _labels(order, [statuses[r.id].severity for r in rules]),
        "weight": np.array([statuses[r.id].weight for r in rules], dtype="float64")[order],
    }


def _week_labels(codes: np.ndarray) -> pd.Categorical:
    inverse, uniq = pd.factorize(codes, sort=True)
    return _labels(inverse, [f"{c // 100}-W{c % 100:02d}" for c in uniq])


def _concat(parts: list[Columns]) -> Columns:
    """Concatenate column by column, releasing each part's column as it goes."""
    out: Columns = {}
    for key in list(parts[0]):
        out[key] = np.concatenate([p.pop(key) for p in parts])
    return out


def _finish_findings(
    parts: list[Columns], ruleset: RuleSet, statuses: dict[str, RuleStatus], frames: Frames
) -> pd.DataFrame:
    parts = [p for p in parts if len(p["order"])]
    if not parts:
        return _empty_findings()
    # Each part's message codes index its own distinct texts: shifted onto their concatenation.
    texts: list[np.ndarray] = []
    for part in parts:
        part["message"] = part["message"] + sum(len(t) for t in texts)
        texts.append(part.pop("message_texts"))
    # Parts come in rule order, each sorted by (ticket, row) in _rule_frames: no global sort.
    data = _concat(parts)
    order = data["order"]
    columns: dict[str, object] = _rule_columns(order, ruleset, statuses)
    # One label per failing ticket, not per finding: categoricals keep millions of findings
    # from holding millions of copies of the same URL and ticket number.
    inverse, uniq = pd.factorize(data["ticket_pos"], sort=True)
    numbers = frames.tickets["ticketNumber"].astype("string").array.take(uniq, allow_fill=True)
    ticket_ids = frames.tickets["id"].astype("Int64").array.take(uniq, allow_fill=True)
    base = ticket_url_base(frames.web_url)
    columns.update(
        {
            "ticket_id": _nullable(data["ticket_id"]),
            "ticket_number": _labels(inverse, ["" if pd.isna(x) else str(x) for x in numbers]),
            "row_kind": _labels(order, [r.row_kind for r in ruleset.rules]),
            "row_id": _nullable(data["row_id"]),
            "technician_id": _nullable(data["technician_id"]),
            "technician": _name(data["technician_id"], _resource_names(frames), UNASSIGNED, "Resource"),
            "queue_id": _nullable(data["queue_id"]),
            "queue": _name(data["queue_id"], _queue_names(frames), NO_QUEUE, "Queue"),
            "anchor_date": pd.Series(data["anchor_date"].view("datetime64[us]")).dt.tz_localize("UTC"),
            "week": _week_labels(data["week"]),
            "message": _message_labels(data["message"], np.concatenate(texts)),
            "waived": np.zeros(len(order), dtype=bool),
            "ticket_url": _labels(
                inverse, [f"{base}{t}" if base and not pd.isna(t) else "" for t in ticket_ids]
            ),
        }
    )
    return pd.DataFrame({c: columns[c] for c in FINDING_COLUMNS})


def _message_labels(codes: np.ndarray, texts: np.ndarray) -> pd.Categorical:
    """Messages as the categorical of their values (sorted categories), from codes into ``texts``
    (which may repeat a text)."""
    distinct = pd.Categorical(texts)
    return pd.Categorical.from_codes(distinct.codes[codes], dtype=distinct.dtype)


def _empty_findings() -> pd.DataFrame:
    dtypes = {
        "weight": "float64",
        "ticket_id": "Int64",
        "row_id": "Int64",
        "technician_id": "Int64",
        "queue_id": "Int64",
        "anchor_date": "datetime64[us, UTC]",
        "waived": "bool",
    }
    return pd.DataFrame({c: pd.Series(dtype=dtypes.get(c, "object")) for c in FINDING_COLUMNS})


def _finish_tallies(
    parts: list[Columns], ruleset: RuleSet, statuses: dict[str, RuleStatus], frames: Frames
) -> pd.DataFrame:
    parts = [p for p in parts if len(p["order"])]
    if not parts:
        dtypes = {
            "weight": "float64",
            "technician_id": "Int64",
            "queue_id": "Int64",
            "applicable": "int64",
            "passed": "int64",
            "failed": "int64",
        }
        return pd.DataFrame({c: pd.Series(dtype=dtypes.get(c, "object")) for c in TALLY_COLUMNS})
    # Each part is one rule's rows, already sorted by (technician, queue, week) by _tally.
    data = _concat(parts)
    columns: dict[str, object] = _rule_columns(data["order"], ruleset, statuses)
    columns.update(
        {
            "technician_id": _nullable(data["technician_id"]),
            "technician": _name(data["technician_id"], _resource_names(frames), UNASSIGNED, "Resource"),
            "queue_id": _nullable(data["queue_id"]),
            "queue": _name(data["queue_id"], _queue_names(frames), NO_QUEUE, "Queue"),
            "week": _week_labels(data["week"]),
            "applicable": data["applicable"].astype("int64"),
            "passed": data["passed"].astype("int64"),
            "failed": (data["applicable"] - data["passed"]).astype("int64"),
        }
    )
    return pd.DataFrame({c: columns[c] for c in TALLY_COLUMNS})
