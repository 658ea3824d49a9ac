"""Lookup predicates: ``lookup`` (a value looked up in a table setting, such as the priority
matrix) and ``join`` (a column of a reference row: contacts, resources, companies)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from audit.engine.context import Ctx
from audit.engine.predicates import normalise
from audit.engine.vocabulary import PREDICATES, Arg, Compiler, Node, RuleProblem, predicate

__all__: list[str] = []


def _flatten(table: Any, depth: int, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    out: dict[tuple[str, ...], Any] = {}
    for key, value in table.items():
        path = (*prefix, str(key).strip().lower())
        if depth > 1:
            if not isinstance(value, dict):
                raise TypeError(f"lookup table is not {depth} levels deep at {path}")
            out.update(_flatten(value, depth - 1, path))
        else:
            out[path] = value
    return out


@predicate(
    "lookup",
    role="value",
    category="lookup",
    summary="Look a value up in a table setting (one key per level, e.g. priority_levels, or impact × urgency in priority_matrix). "
    "Keys compare trimmed and case-insensitive; a missing key gives null.",
    args=(
        Arg("keys", "list of values", "one key per table level"),
        Arg("table", "setting or mapping", "the table"),
    ),
    example="lookup: {keys: [priority_label], table: $mapping.priority_levels}",
)
def _lookup(c: Compiler, raw: Any, line: int) -> Node:
    args = c.args(PREDICATE_LOOKUP, raw, line)
    keys_raw = args["keys"]
    if not isinstance(keys_raw, list) or not keys_raw:
        raise RuleProblem("lookup: keys must be a non-empty list", line)
    keys = [c.value(k, line) for k in keys_raw]
    table = c.resolve(args["table"], c.line_in(raw, "table", line))
    if not isinstance(table, dict):
        raise RuleProblem(f"lookup: table must be a mapping setting, got {args['table']!r}", line)
    try:
        flat = _flatten(table, len(keys))
    except TypeError as exc:
        raise RuleProblem(f"lookup: {exc}", line) from exc
    joined = {"\x1f".join(k): v for k, v in flat.items()}

    def fn(ctx: Ctx) -> pd.Series:
        parts = [
            normalise(k(ctx))
            if isinstance(k(ctx), pd.Series)
            else pd.Series([str(k(ctx)).strip().lower()] * len(ctx), dtype="string")
            for k in keys
        ]
        key = parts[0]
        for part in parts[1:]:
            key = key + "\x1f" + part
        return pd.to_numeric(key.map(joined), errors="coerce").astype("Float64")

    return Node(f"lookup[{';'.join(k.key for k in keys)};{sorted(joined.items())}]", "value", fn)


_REFERENCE = ("contacts", "resources", "companies")


@predicate(
    "join",
    role="value",
    category="lookup",
    summary="A column of a reference row (contacts, resources, companies) found by id; null when not found.",
    args=(
        Arg("entity", "text", "contacts, resources or companies"),
        Arg("key", "value", "the id to look up"),
        Arg("column", "column", "the reference column to read"),
    ),
    example="join: {entity: contacts, key: contactID, column: companyID}",
)
def _join(c: Compiler, raw: Any, line: int) -> Node:
    args = c.args(PREDICATE_JOIN, raw, line)
    entity = args["entity"]
    if entity not in _REFERENCE:
        raise RuleProblem(f"join: unknown entity {entity!r}; known: {', '.join(_REFERENCE)}", line)
    key = c.value(args["key"], line)
    column = c.in_kind(entity).column_name(args["column"], line) if entity in _REFERENCE else ""

    def fn(ctx: Ctx) -> pd.Series:
        ref = getattr(ctx.env.frames, entity)
        ids = ref["id"].astype("Int64").fillna(-1).to_numpy(dtype="int64")
        index = pd.Index(ids).drop_duplicates()
        wanted = key(ctx)
        wanted_ids = pd.Series(wanted).astype("Int64").fillna(-2).to_numpy(dtype="int64")
        pos = index.get_indexer(wanted_ids)
        first = ref.drop_duplicates("id")[column]
        return pd.Series(first.array.take(pos, allow_fill=True))

    return Node(f"join[{entity};{key.key};{column}]", "value", fn)


PREDICATE_LOOKUP = PREDICATES["lookup"]
PREDICATE_JOIN = PREDICATES["join"]
