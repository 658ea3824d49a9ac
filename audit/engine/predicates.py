"""Row predicates: logic, values, comparisons and membership, and the helpers every predicate
module shares. The other families have their own modules: dates and durations (``dates.py``),
lookups (``lookups.py``), text (``text.py``), related rows (``related.py``).

Null semantics (documented in docs/rules.md): a comparison, membership or pattern test with a
null side is false; ``not`` of it is true. Text predicates read the HTML-stripped ``_text``
twin of a column when the frames have one.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from audit.core.yamlload import LineDict, LineList
from audit.engine.context import Ctx
from audit.engine.vocabulary import (
    CHILD_KINDS,
    FUNCTIONS,
    PREDICATES,
    Arg,
    Compiler,
    Node,
    RuleProblem,
    is_as_of,
    predicate,
)
from audit.source.schema import UDF_PREFIX

__all__ = ["SUBSET_FRACTION", "as_bool", "is_udf_node", "list_setting", "normalise", "text_of"]

#: A row subset is worth building (for a conjunction's later terms, or a rule's check after its
#: scope) when it keeps at most this share of the rows.
SUBSET_FRACTION = 0.5


def as_bool(result: Any, n: int) -> np.ndarray:
    """Any condition result -> a numpy bool array of length ``n`` (null is false)."""
    if isinstance(result, np.ndarray) and result.dtype == bool:
        return result
    if isinstance(result, pd.Series):
        values: np.ndarray = (
            result.to_numpy()
            if result.dtype == bool
            else result.astype("boolean").fillna(False).to_numpy(dtype=bool)
        )
        return values
    if isinstance(result, (bool, np.bool_)):
        return np.full(n, bool(result))
    return np.asarray(result, dtype=bool)


def text_of(series: Any, n: int) -> pd.Series:
    if not isinstance(series, pd.Series):
        return pd.Series(pd.array([series] * n, dtype="string"))
    return series.astype("string")


def is_udf_node(node: Node) -> bool:
    return node.key.startswith("col:tickets:" + UDF_PREFIX)


def list_setting(c: Compiler, raw: Any, line: int, what: str) -> list[Any]:
    value = c.resolve(raw, line)
    if isinstance(value, dict):
        value = list(value.keys())
    if not isinstance(value, list):
        raise RuleProblem(f"{what}: expected a list or a $mapping list, got {raw!r}", line)
    return value


def _key(name: str, c: Compiler, *parts: Any) -> str:
    return f"{name}:{c.kind}(" + ",".join(str(p) for p in parts) + ")"


def _subset_of(ctx: Ctx, rows: np.ndarray, tag: str) -> Callable[[], Ctx]:
    return lambda: ctx.subset(rows, tag)


# --- logic -------------------------------------------------------------------------------


def _conditions(c: Compiler, raw: Any, line: int, name: str) -> list[Node]:
    if not isinstance(raw, list) or not raw:
        raise RuleProblem(f"{name}: expects a non-empty list of conditions", line)
    lines = raw.item_lines if isinstance(raw, LineList) else [line] * len(raw)
    return [c.condition(item, ln) for item, ln in zip(raw, lines, strict=True)]


@predicate(
    "all",
    role="condition",
    category="logic",
    summary="Every condition holds. Later conditions are evaluated only on the rows the earlier ones kept.",
    args=(Arg("conditions", "list of conditions", "the conditions (the list is the predicate's value)"),),
    example="all:\n  - set: startDateTime\n  - set: endDateTime",
    shorthand="conditions",
)
def _all(c: Compiler, raw: Any, line: int) -> Node:
    items = _conditions(c, raw.get("conditions") if isinstance(raw, dict) else raw, line, "all")

    def fn(ctx: Ctx) -> np.ndarray:
        n = len(ctx)
        mask = as_bool(items[0](ctx), n)
        prefix = items[0].key
        for node in items[1:]:
            rows = np.flatnonzero(mask)
            if len(rows) == 0:
                break
            if len(rows) <= n * SUBSET_FRACTION:
                sub_tag = f"{ctx.tag}|{prefix}"
                sub: Ctx = ctx.memo("subset:" + prefix, _subset_of(ctx, rows, sub_tag))
                part = as_bool(node(sub), len(rows))
                mask = mask.copy()
                mask[rows[~part]] = False
            else:
                mask = mask & as_bool(node(ctx), n)
            prefix = f"{prefix}&{node.key}"
        return mask

    return Node("all[" + ";".join(i.key for i in items) + "]", "condition", fn)


@predicate(
    "any",
    role="condition",
    category="logic",
    summary="At least one condition holds.",
    args=(Arg("conditions", "list of conditions", "the alternatives"),),
    example="any:\n  - in: {of: status_label, values: $mapping.escalation_statuses}\n  - not: {blank: {udf: $mapping.vendor_case_udf}}",
    shorthand="conditions",
)
def _any(c: Compiler, raw: Any, line: int) -> Node:
    items = _conditions(c, raw.get("conditions") if isinstance(raw, dict) else raw, line, "any")

    def fn(ctx: Ctx) -> np.ndarray:
        # Later alternatives only run on the rows still false (so `not: {available: history}`
        # first keeps history-reading alternatives from running when history is absent).
        n = len(ctx)
        mask = as_bool(items[0](ctx), n)
        prefix = items[0].key
        for node in items[1:]:
            rows = np.flatnonzero(~mask)
            if len(rows) == 0:
                break
            if len(rows) < n:
                sub_tag = f"{ctx.tag}|not[{prefix}]"
                sub: Ctx = ctx.memo("subset:not:" + prefix, _subset_of(ctx, rows, sub_tag))
                mask = mask.copy()
                mask[rows] = as_bool(node(sub), len(rows))
            else:
                mask = mask | as_bool(node(ctx), n)
            prefix = f"{prefix}|{node.key}"
        return mask

    return Node("any[" + ";".join(i.key for i in items) + "]", "condition", fn)


@predicate(
    "not",
    role="condition",
    category="logic",
    summary="The condition does not hold (so a null comparison negated is true).",
    args=(Arg("condition", "condition", "the condition to negate"),),
    example="not: {blank: title}",
    shorthand="condition",
)
def _not(c: Compiler, raw: Any, line: int) -> Node:
    inner_raw = raw["condition"] if isinstance(raw, dict) and set(raw) == {"condition"} else raw
    inner = c.condition(inner_raw, line)
    return Node(f"not[{inner.key}]", "condition", lambda ctx: ~as_bool(inner(ctx), len(ctx)))


@predicate(
    "use",
    role="condition",
    category="logic",
    summary="A named condition from `rules/definitions.yaml` (for the row kind it is defined on).",
    args=(Arg("name", "text", "the definition's name"),),
    example="use: staff_note",
    shorthand="name",
)
def _use(c: Compiler, raw: Any, line: int) -> Node:
    name = raw["name"] if isinstance(raw, dict) else raw
    definition = c.definitions.get(str(name))
    if definition is None:
        raise RuleProblem(
            f"use: unknown definition {name!r}; known: {', '.join(sorted(c.definitions))}", line
        )
    if definition.kind != c.kind:
        raise RuleProblem(f"use: {name!r} is defined on {definition.kind}, used on {c.kind}", line)
    if name in c._stack:
        raise RuleProblem(f"use: {name!r} refers to itself", line)
    c._stack.append(str(name))
    try:
        inner = c.condition(definition.raw, definition.line)
    finally:
        c._stack.pop()
    return Node(inner.key, "condition", inner.fn)


@predicate(
    "available",
    role="condition",
    category="logic",
    summary="True on every row when the optional data (`history`) was extracted, false otherwise.",
    args=(Arg("data", "text", "`history`"),),
    example="available: history",
    shorthand="data",
)
def _available(c: Compiler, raw: Any, line: int) -> Node:
    data = raw["data"] if isinstance(raw, dict) else raw
    if data not in CHILD_KINDS:
        raise RuleProblem(f"available: unknown data {data!r}; known: {', '.join(CHILD_KINDS)}", line)
    return Node(f"available:{data}", "condition", lambda ctx: np.full(len(ctx), ctx.env.has(str(data))))


@predicate(
    "function",
    role="condition",
    category="logic",
    summary="A named, registered Python check (`audit.engine.vocabulary.check_function`): never inline code.",
    args=(
        Arg("name", "text", "the registered name"),
        Arg("args", "mapping", "keyword arguments", required=False),
    ),
    example="function: {name: my_check, args: {threshold: 3}}",
)
def _function(c: Compiler, raw: Any, line: int) -> Node:
    args = c.args(PREDICATE_FUNCTION, raw, line)
    name = str(args["name"])
    if name not in FUNCTIONS:
        raise RuleProblem(
            f"function: unknown function {name!r}; known: {', '.join(sorted(FUNCTIONS)) or '(none)'}", line
        )
    kwargs = {k: c.resolve(v, line) for k, v in dict(args.get("args") or {}).items()}
    fn = FUNCTIONS[name][1]
    return Node(
        _key("function", c, name, sorted(kwargs.items())),
        "condition",
        lambda ctx: as_bool(fn(ctx, **kwargs), len(ctx)),
    )


# --- values ------------------------------------------------------------------------------


@predicate(
    "column",
    role="value",
    category="value",
    summary="A column of the row (a plain string value means the same).",
    args=(Arg("name", "column", "schema field, derived column or `udf:<Name>`"),),
    example="column: createDate",
    shorthand="name",
)
def _column(c: Compiler, raw: Any, line: int) -> Node:
    return c.column_node(raw["name"] if isinstance(raw, dict) and "name" in raw else raw, line)


@predicate(
    "udf",
    role="value",
    category="value",
    summary="A UDF value of the ticket (the name may be a `$mapping` setting).",
    args=(Arg("name", "text", "UDF name or `$mapping.<setting>`"),),
    example="udf: $mapping.impact_udf",
    shorthand="name",
    kinds=("tickets",),
)
def _udf(c: Compiler, raw: Any, line: int) -> Node:
    name = raw["name"] if isinstance(raw, dict) else raw
    return c.column_node(LineDict({"udf": name}), line)


@predicate(
    "value",
    role="value",
    category="value",
    summary="A literal (or `$mapping.<setting>` / `$as_of`).",
    args=(Arg("literal", "any", "the value"),),
    example="value: 1",
    shorthand="literal",
)
def _value(c: Compiler, raw: Any, line: int) -> Node:
    literal = raw["literal"] if isinstance(raw, dict) and set(raw) == {"literal"} else raw
    resolved = c.resolve(literal, line)
    if is_as_of(resolved):
        return Node("as_of", "value", lambda ctx: ctx.env.as_of)
    return c.constant(resolved)


@predicate(
    "coalesce",
    role="value",
    category="value",
    summary="The first non-null of several values.",
    args=(Arg("values", "list of values", "candidates, in order"),),
    example="coalesce: [completedDate, $as_of]",
    shorthand="values",
)
def _coalesce(c: Compiler, raw: Any, line: int) -> Node:
    if not isinstance(raw, list) or len(raw) < 2:
        raise RuleProblem("coalesce: expects a list of at least two values", line)
    items = [c.value(v, line) for v in raw]

    def fn(ctx: Ctx) -> Any:
        result = items[0](ctx)
        for node in items[1:]:
            if not isinstance(result, pd.Series):
                return result if result is not None else node(ctx)
            result = result.fillna(node(ctx))
        return result

    return Node("coalesce[" + ";".join(i.key for i in items) + "]", "value", fn)


# --- comparisons and membership --------------------------------------------------------------

_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
}


@predicate(
    "compare",
    role="condition",
    category="value",
    summary="`left op right` with op one of < <= == != > >=; dates, durations, numbers or text. A null side is false.",
    args=(
        Arg("left", "value", "left operand"),
        Arg("op", "operator", "< <= == != > >="),
        Arg("right", "value", "right operand"),
    ),
    example="compare: {left: firstResponseDateTime, op: '<=', right: firstResponseDueDateTime}",
)
def _compare(c: Compiler, raw: Any, line: int) -> Node:
    args = c.args(PREDICATE_COMPARE, raw, line)
    op = args["op"]
    if op not in _OPS:
        raise RuleProblem(
            f"compare: unknown operator {op!r}; use one of {' '.join(_OPS)}", c.line_in(raw, "op", line)
        )
    left = c.value(args["left"], c.line_in(raw, "left", line))
    right = c.value(args["right"], c.line_in(raw, "right", line))
    func = _OPS[op]

    def fn(ctx: Ctx) -> np.ndarray:
        a, b = left(ctx), right(ctx)
        n = len(ctx)
        if not isinstance(a, pd.Series) and not isinstance(b, pd.Series):
            ok = a is not None and b is not None and not pd.isna(a) and not pd.isna(b) and bool(func(a, b))
            return np.full(n, ok)
        result = func(a, b)
        valid = (a.notna() if isinstance(a, pd.Series) else pd.notna(a)) & (
            b.notna() if isinstance(b, pd.Series) else pd.notna(b)
        )
        both: np.ndarray = as_bool(result, n) & as_bool(valid, n)
        return both

    return Node(f"compare[{left.key}{op}{right.key}]", "condition", fn)


def normalise(series: pd.Series) -> pd.Series:
    """Text trimmed and lower-cased: how UDF values, ``casefold`` and lookup keys compare."""
    return series.astype("string").str.strip().str.lower()


@predicate(
    "in",
    role="condition",
    category="value",
    summary="The value is one of a list (literal or `$mapping.<setting>`). UDF values, and any value with `casefold: true`, are compared trimmed and case-insensitive.",
    args=(
        Arg("of", "value", "what to test"),
        Arg("values", "list or setting", "allowed values (a setting's table gives its keys)"),
        Arg("casefold", "bool", "compare trimmed and case-insensitive", required=False),
    ),
    example="in: {of: status_label, values: $mapping.closed_statuses}",
)
def _in(c: Compiler, raw: Any, line: int) -> Node:
    args = c.args(PREDICATE_IN, raw, line)
    subject = c.value(args["of"], c.line_in(raw, "of", line))
    values = list_setting(c, args["values"], c.line_in(raw, "values", line), "in")
    casefold = bool(args.get("casefold", False)) or is_udf_node(subject)
    wanted = [str(v).strip().lower() for v in values] if casefold else list(values)

    def fn(ctx: Ctx) -> np.ndarray:
        value = subject(ctx)
        if not isinstance(value, pd.Series):
            return np.full(
                len(ctx), value is not None and (str(value).strip().lower() if casefold else value) in wanted
            )
        series = normalise(value) if casefold else value
        found: np.ndarray = as_bool(series.isin(wanted), len(ctx)) & value.notna().to_numpy()
        return found

    return Node(f"in[{subject.key};{sorted(map(str, wanted))};{casefold}]", "condition", fn)


@predicate(
    "set",
    role="condition",
    category="value",
    summary="The value is not null (an id of 0 is set; blankness applies to text only).",
    args=(Arg("of", "value", "column or value"),),
    example="set: queueID",
    shorthand="of",
)
def _set(c: Compiler, raw: Any, line: int) -> Node:
    inner = c.value(raw["of"] if isinstance(raw, dict) and "of" in raw else raw, line)

    def fn(ctx: Ctx) -> np.ndarray:
        value = inner(ctx)
        if isinstance(value, pd.Series):
            known: np.ndarray = value.notna().to_numpy()
            return known
        return np.full(len(ctx), value is not None and not pd.isna(value))

    return Node(f"set[{inner.key}]", "condition", fn)


PREDICATE_FUNCTION = PREDICATES["function"]
PREDICATE_COMPARE = PREDICATES["compare"]
PREDICATE_IN = PREDICATES["in"]
