"""Related-row predicates: a ticket's notes, time entries, attachments and history.

Children are tied to their ticket by ``ticketID`` (a ticket's attachments include those of its
notes and time entries: Autotask gives them the ticket's ``ticketID``). Conditions on children are evaluated
once over the whole child frame (memoised) and folded onto tickets with ``np.bincount`` and
fancy indexing: no per-ticket Python.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from audit.engine.context import Ctx
from audit.engine.predicates import as_bool
from audit.engine.vocabulary import CHILD_KINDS, Arg, Compiler, Node, RuleProblem, predicate

__all__: list[str] = []

_RELATED = Arg("related", "kind", "notes, time_entries, attachments or history")
_WHERE = Arg(
    "where", "condition on the related row", "which related rows count (default: all)", required=False
)


def _related(
    c: Compiler, raw: Any, line: int, name: str, extra: tuple[str, ...] = ()
) -> tuple[str, Node | None, dict[str, Any]]:
    if not isinstance(raw, dict):
        raw = {"related": raw}
    allowed = {"related", "where", *extra}
    for key in raw:
        if key not in allowed:
            raise RuleProblem(f"{name}: unknown key {key!r}; expected {', '.join(sorted(allowed))}", line)
    kind = raw.get("related")
    if kind not in CHILD_KINDS:
        raise RuleProblem(f"{name}: related must be one of {', '.join(CHILD_KINDS)}, got {kind!r}", line)
    for key in extra:
        if key not in raw:
            raise RuleProblem(f"{name}: missing {key!r}", line)
    child = c.in_kind(str(kind))
    where = child.condition(raw["where"], line) if raw.get("where") is not None else None
    return str(kind), where, dict(raw)


def _child_mask(ctx: Ctx, kind: str, where: Node | None) -> tuple[Ctx, np.ndarray]:
    child = ctx.env.full(kind)
    mask = as_bool(where(child), len(child)) if where is not None else np.ones(len(child), dtype=bool)
    return child, mask


def _counts(ctx: Ctx, kind: str, where: Node | None) -> np.ndarray:
    """Matching related rows per row of ``ctx`` (a tickets context)."""

    def per_ticket() -> np.ndarray:
        _, mask = _child_mask(ctx, kind, where)
        pos = ctx.env.child_ticket_pos(kind)
        keep = pos[mask & (pos >= 0)]
        return np.bincount(keep, minlength=ctx.env.ticket_count())

    key = ("count", f"{kind}:{where.key if where else '*'}")
    counts: np.ndarray = ctx.env.memo(key, per_ticket)
    per_row: np.ndarray = counts[ctx.ticket_pos()]
    return per_row


def _count_key(kind: str, where: Node | None) -> str:
    return f"{kind}:{where.key if where else '*'}"


for _name, _doc in (
    ("exists", "At least one related row matches `where`."),
    ("none", "No related row matches `where`."),
):

    def _make(name: str) -> Any:
        def compile_exists(c: Compiler, raw: Any, line: int) -> Node:
            kind, where, _ = _related(c, raw, line, name)
            want = name == "exists"
            return Node(
                f"{name}[{_count_key(kind, where)}]",
                "condition",
                lambda ctx: (_counts(ctx, kind, where) > 0) == want,
            )

        return compile_exists

    predicate(
        _name,
        role="condition",
        category="related",
        summary=_doc,
        args=(_RELATED, _WHERE),
        example=f"{_name}:\n  related: notes\n  where: {{use: escalation_note}}",
        shorthand="related",
        kinds=("tickets",),
    )(_make(_name))


@predicate(
    "every",
    role="condition",
    category="related",
    summary="Every related row matching `where` also satisfies `satisfy` (true when there is none).",
    args=(_RELATED, _WHERE, Arg("satisfy", "condition on the related row", "what each must satisfy")),
    example="every:\n  related: notes\n  where: {use: escalation_note}\n  satisfy: {not: {use: customer_visible_note}}",
    kinds=("tickets",),
)
def _every(c: Compiler, raw: Any, line: int) -> Node:
    kind, where, args = _related(c, raw, line, "every", ("satisfy",))
    satisfy = c.in_kind(kind).condition(args["satisfy"], line)
    bad = Node(
        f"all[{where.key if where else '*'};not[{satisfy.key}]]",
        "condition",
        lambda ctx: _child_mask(ctx, kind, where)[1] & ~as_bool(satisfy(ctx), len(ctx)),
    )
    return Node(f"every[{kind}:{bad.key}]", "condition", lambda ctx: _counts(ctx, kind, bad) == 0)


@predicate(
    "count",
    role="value",
    category="related",
    summary="How many related rows match `where` (a number to `compare`).",
    args=(_RELATED, _WHERE),
    example="compare: {left: {count: {related: time_entries}}, op: '>=', right: 1}",
    shorthand="related",
    kinds=("tickets",),
)
def _count(c: Compiler, raw: Any, line: int) -> Node:
    kind, where, _ = _related(c, raw, line, "count")
    return Node(
        f"count[{_count_key(kind, where)}]",
        "value",
        lambda ctx: pd.Series(_counts(ctx, kind, where), dtype="int64"),
    )


def _pick(ctx: Ctx, kind: str, where: Node | None, last: bool) -> np.ndarray:
    """Row (in the full ``kind`` frame) of the first/last matching related row per ticket
    position of the full tickets frame, -1 when none; order: date, then id."""

    def compute() -> np.ndarray:
        _, mask = _child_mask(ctx, kind, where)
        order = ctx.env.child_order(kind)
        sel = order[mask[order]]
        pos = ctx.env.child_ticket_pos(kind)[sel]
        out = np.full(ctx.env.ticket_count(), -1, dtype="int64")
        if len(sel):
            boundary = np.r_[pos[1:] != pos[:-1], True] if last else np.r_[True, pos[1:] != pos[:-1]]
            out[pos[boundary]] = sel[boundary]
        return out

    return ctx.env.memo(("pick", f"{kind}:{where.key if where else '*'}:{last}"), compute)  # type: ignore[no-any-return]


def _make_pick_condition(name: str, last: bool) -> Any:
    def compile_pick(c: Compiler, raw: Any, line: int) -> Node:
        kind, where, args = _related(c, raw, line, name, ("satisfy",))
        satisfy = c.in_kind(kind).condition(args["satisfy"], line)

        def per_ticket(ctx: Ctx) -> np.ndarray:
            picked = _pick(ctx, kind, where, last)
            rows = picked[picked >= 0]
            tag = f"{kind}|{name}|{where.key if where else '*'}"
            sub = ctx.env.memo((tag, "ctx"), lambda: ctx.env.full(kind).subset(rows, tag))
            ok = as_bool(satisfy(sub), len(sub))
            full = np.zeros(ctx.env.ticket_count(), dtype=bool)
            full[np.flatnonzero(picked >= 0)] = ok
            return full

        def fn(ctx: Ctx) -> np.ndarray:
            key = ("picked", f"{name}:{kind}:{where.key if where else '*'}:{satisfy.key}")
            full = ctx.env.memo(key, lambda: per_ticket(ctx))
            pos = ctx.ticket_pos()
            return np.where(pos >= 0, full[np.maximum(pos, 0)], False)

        return Node(f"{name}[{_count_key(kind, where)};{satisfy.key}]", "condition", fn)

    return compile_pick


def _make_pick_value(name: str, last: bool) -> Any:
    def compile_pick(c: Compiler, raw: Any, line: int) -> Node:
        kind, where, args = _related(c, raw, line, name, ("value",))
        value = c.in_kind(kind).value(args["value"], line)

        def per_ticket(ctx: Ctx) -> pd.Series:
            # The value is read on the picked rows only (one per ticket that has one), not on
            # the whole related frame: a value such as ``missing_sections`` scans text.
            picked = _pick(ctx, kind, where, last)
            has = np.flatnonzero(picked >= 0)
            tag = f"{kind}|{name}|{where.key if where else '*'}"
            sub = ctx.env.memo((tag, "ctx"), lambda: ctx.env.full(kind).subset(picked[has], tag))
            values = value(sub)
            if not isinstance(values, pd.Series):
                values = pd.Series([values] * len(sub))
            at = np.full(len(picked), -1, dtype="int64")
            at[has] = np.arange(len(has))
            return pd.Series(values.array.take(at, allow_fill=True))

        def fn(ctx: Ctx) -> pd.Series:
            full: pd.Series = ctx.env.memo(
                ("picked", f"{name}:{kind}:{where.key if where else '*'}:{value.key}"),
                lambda: per_ticket(ctx),
            )
            pos = ctx.ticket_pos()
            return pd.Series(full.array.take(pos, allow_fill=True))

        return Node(f"{name}[{_count_key(kind, where)};{value.key}]", "value", fn)

    return compile_pick


for _name, _last in (("latest", True), ("first", False)):
    predicate(
        _name,
        role="condition",
        category="related",
        summary=f"The {_name} related row matching `where` (by its date, ties by id) satisfies `satisfy`; false when there is none.",
        args=(_RELATED, _WHERE, Arg("satisfy", "condition on the related row", "what it must satisfy")),
        example=f"{_name}:\n  related: notes\n  where: {{use: escalation_note}}\n  satisfy: {{sections: {{of: description, headings: $mapping.escalation_sections}}}}",
        kinds=("tickets",),
    )(_make_pick_condition(_name, _last))
    predicate(
        f"{_name}_of",
        role="value",
        category="related",
        summary=f"A value of the {_name} related row matching `where` (null when there is none).",
        args=(_RELATED, _WHERE, Arg("value", "value on the related row", "what to read")),
        example=f"{_name}_of: {{related: notes, where: {{use: escalation_note}}, value: createDateTime}}",
        kinds=("tickets",),
    )(_make_pick_value(f"{_name}_of", _last))


@predicate(
    "parent",
    role="value",
    category="related",
    summary="Evaluate a value or condition on the row's ticket (from a note, time entry, attachment or history row).",
    args=(Arg("of", "value or condition on the ticket", "what to read on the ticket"),),
    example="compare: {left: {date: dateWorked}, op: '>=', right: {parent: {date: createDate}}}",
    shorthand="of",
    kinds=CHILD_KINDS,
)
def _parent(c: Compiler, raw: Any, line: int) -> Node:
    inner_raw = raw["of"] if isinstance(raw, dict) and set(raw) == {"of"} else raw
    inner = c.in_kind("tickets").value(inner_raw, line)

    def fn(ctx: Ctx) -> Any:
        full = ctx.env.full("tickets")
        values = inner(full)
        pos = ctx.ticket_pos()
        if isinstance(values, np.ndarray):  # a condition on the ticket
            return np.where(pos >= 0, values[np.maximum(pos, 0)], False)
        if not isinstance(values, pd.Series):
            return values
        return pd.Series(values.array.take(pos, allow_fill=True))

    return Node(f"parent[{inner.key}]", "value", fn)
