"""Query evaluation for the Autotask emulator: compiled filters.

A filter is compiled once per request into a Python closure plus, when the top level allows
it, a narrowed candidate set (an ``id`` range by bisection, or the positions of an indexed
``eq``/``in`` condition such as ``ticketID in [...]``). Pages are then found by scanning
candidates after the paging position (``_emu_tables.Plan``), so a page costs O(rows scanned),
not O(table).

Semantics follow the Autotask REST API: field names are case-insensitive, string
comparisons are case-insensitive (SQL Server's default collation), date-times compare as
instants whether or not they carry ``Z``, an unknown operator is ignored silently (the client
must validate), ``in`` lists are capped at 500 values. Nulls follow SQL: a null field matches
only ``notExist`` (and ``eq null``), never a comparison — ``noteq``/``notIn`` included.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from typing import Any

from audit.sandbox._emu_tables import (
    BOOL,
    DATETIME,
    FLOAT,
    INDEXED_FIELDS,
    INT,
    STR,
    EntityTable,
    Plan,
    Predicate,
    Row,
    parse_instant,
)

__all__ = ["IN_LIMIT", "OPERATORS", "RejectedFilter", "compile_filter"]

#: The documented OR limit of Autotask; more values in one ``in``/``notIn`` is a 500.
IN_LIMIT = 500

OPERATORS = frozenset(
    {
        "eq",
        "noteq",
        "gt",
        "gte",
        "lt",
        "lte",
        "beginswith",
        "endswith",
        "contains",
        "exist",
        "notexist",
        "in",
        "notin",
    }
)
_NO_VALUE = frozenset({"exist", "notexist"})
_LIST_OPS = frozenset({"in", "notin"})


class RejectedFilter(Exception):
    """A filter the real API would refuse (answered as 500 ``{"errors": [message]}``)."""


# --------------------------------------------------------------------------- compilation


def _get(obj: dict[str, Any], key: str) -> Any:
    """A filter key read case-insensitively (``op``/``Op``, ``field``/``Field``...)."""
    if key in obj:
        return obj[key]
    lowered = key.lower()
    for k, v in obj.items():
        if isinstance(k, str) and k.lower() == lowered:
            return v
    return None


def _has(obj: dict[str, Any], key: str) -> bool:
    lowered = key.lower()
    return any(isinstance(k, str) and k.lower() == lowered for k in obj)


def _coerce(value: Any, kind: str, fname: str) -> Any:
    """A filter value as the comparable the rows' values are turned into."""
    if value is None:
        return None
    if kind == INT or kind == FLOAT:
        if isinstance(value, bool):
            raise RejectedFilter(f"Invalid value {value!r} for numeric field {fname}.")
        if isinstance(value, int | float):
            return value
        try:
            number = float(str(value).strip())
        except ValueError:
            raise RejectedFilter(f"Invalid value {value!r} for numeric field {fname}.") from None
        return int(number) if number.is_integer() and kind == INT else number
    if kind == BOOL:
        # The real API wants JSON booleans; 1/0 is tolerated (Contacts.isActive is 1/0).
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise RejectedFilter(f"Invalid value {value!r} for boolean field {fname}: use true or false.")
    if kind == DATETIME:
        instant = parse_instant(value) if isinstance(value, str) else None
        if instant is None:
            raise RejectedFilter(f"Invalid date-time value {value!r} for field {fname}.")
        return instant
    return str(value).lower()


def _converter(kind: str) -> Callable[[Any], Any]:
    """Row value -> comparable (None stays None)."""
    if kind == STR:
        return lambda v: None if v is None else (v.lower() if isinstance(v, str) else str(v).lower())
    if kind == DATETIME:
        return parse_instant
    if kind == BOOL:
        return lambda v: None if v is None else bool(v)
    if kind == FLOAT:

        def to_float(v: Any) -> float | None:
            if v is None or v == "":
                return None
            try:
                return float(v)
            except (TypeError, ValueError):
                return None

        return to_float
    if kind == INT:

        def to_num(v: Any) -> Any:
            if v is None or isinstance(v, int | float):
                return v
            try:
                return float(v)
            except (TypeError, ValueError):
                return None

        return to_num
    return lambda v: v


def _text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    return v.lower() if isinstance(v, str) else str(v).lower()


def _udf_getter(name: str) -> Callable[[Row], Any]:
    lowered = name.lower()

    def get(row: Row) -> Any:
        for entry in row.get("userDefinedFields") or ():
            entry_name = entry.get("name")
            if isinstance(entry_name, str) and entry_name.lower() == lowered:
                return entry.get("value")
        return None

    return get


def _compare(op: str, raw: Callable[[Row], Any], conv: Callable[[Any], Any], target: Any) -> Predicate:
    """The predicate of one binary comparison. Written out per operator: this is the hot path."""

    def val(row: Row) -> Any:
        return conv(raw(row))

    if target is None:  # eq null / noteq null: the only comparisons a null can satisfy
        if op == "eq":
            return lambda r: raw(r) is None
        if op == "noteq":
            return lambda r: raw(r) is not None
    if op == "eq":
        return lambda r: (v := val(r)) is not None and v == target
    if op == "noteq":
        return lambda r: (v := val(r)) is not None and v != target
    if op == "gt":
        return lambda r: (v := val(r)) is not None and v > target
    if op == "gte":
        return lambda r: (v := val(r)) is not None and v >= target
    if op == "lt":
        return lambda r: (v := val(r)) is not None and v < target
    if op == "lte":
        return lambda r: (v := val(r)) is not None and v <= target
    raise AssertionError(op)


Hint = tuple[str, str, Any]  # (op, field, value): an indexable top-level condition
Compiled = tuple[Predicate, Hint | None]


def _compile_condition(table: EntityTable, cond: dict[str, Any]) -> Compiled | None:
    """One condition -> (predicate, index hint) or None when the operator is unknown (ignored)."""
    op_raw = _get(cond, "op")
    op = str(op_raw).lower() if isinstance(op_raw, str) else ""
    if op in ("and", "or"):
        return _compile_group(table, op, _get(cond, "items"))
    if op not in OPERATORS:
        return None  # the real API ignores an unknown operator silently
    fname_raw = _get(cond, "field")
    if not isinstance(fname_raw, str) or not fname_raw:
        raise RejectedFilter(f"Condition {cond!r} has no field.")
    is_udf = _get(cond, "udf") is True
    fname, kind, raw = _field_access(table, fname_raw, is_udf)
    if op == "exist":
        return (lambda r: raw(r) is not None), None
    if op == "notexist":
        return (lambda r: raw(r) is None), None
    if not _has(cond, "value"):
        raise RejectedFilter(f"Condition on {fname} with operator {op} needs a value.")
    value = _get(cond, "value")
    hint_field = None if is_udf else fname
    if op in _LIST_OPS:
        return _compile_list(op, fname, kind, raw, value, hint_field)
    if isinstance(value, list | dict):
        raise RejectedFilter(f"Operator {op} on {fname} needs a single value.")
    if op in ("beginswith", "endswith", "contains"):
        return _compile_text(op, fname, raw, value), None
    target = _coerce(value, kind, fname)
    hint = (op, hint_field, value) if hint_field and value is not None else None
    if kind == INT and not is_udf:
        # Fast path: ints on records need no conversion when the record holds an int.
        return _compare(op, raw, _converter(INT), target), hint
    return _compare(op, raw, _converter(kind), target), hint


def _compile_group(table: EntityTable, op: str, items: Any) -> Compiled | None:
    """An ``and`` / ``or`` group; its conditions give no index hint."""
    if not isinstance(items, list) or not items:
        raise RejectedFilter(f"A '{op}' group needs a non-empty 'items' list.")
    parts: list[Predicate] = []
    for item in items:
        compiled = _compile_item(table, item)
        if compiled is not None:
            parts.append(compiled[0])
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0], None
    if op == "and":
        return (lambda r: all(p(r) for p in parts)), None
    return (lambda r: any(p(r) for p in parts)), None


def _field_access(table: EntityTable, fname_raw: str, is_udf: bool) -> tuple[str, str, Callable[[Row], Any]]:
    """A condition's field: canonical name, comparison kind and the row value getter."""
    if is_udf:
        udf = table.udfs.get(fname_raw.lower())
        if udf is None:
            raise RejectedFilter(f"Unable to find user-defined field {fname_raw} in the {table.name} entity.")
        fname, kind = udf
        return fname, kind, _udf_getter(fname)
    canonical = table.fields.get(fname_raw.lower())
    if canonical is None or canonical == "userDefinedFields":
        raise RejectedFilter(f"Unable to find {fname_raw} in the {table.name} entity.")
    return canonical, table.kinds.get(canonical, STR), _field_getter(canonical)


def _compile_list(
    op: str, fname: str, kind: str, raw: Callable[[Row], Any], value: Any, hint_field: str | None
) -> Compiled:
    """``in`` / ``notIn``: nulls in the list are dropped, a null field matches neither."""
    if not isinstance(value, list):
        raise RejectedFilter(f"Operator {op} on {fname} needs a list value.")
    if len(value) > IN_LIMIT:
        raise RejectedFilter(f"Operator {op} on {fname} accepts at most {IN_LIMIT} values, got {len(value)}.")
    targets = frozenset(_coerce(v, kind, fname) for v in value if v is not None)
    conv = _converter(kind)
    if op == "in":
        hint = ("in", hint_field, [v for v in value if v is not None]) if hint_field else None
        return (lambda r: (v := conv(raw(r))) is not None and v in targets), hint
    return (lambda r: (v := conv(raw(r))) is not None and v not in targets), None


def _compile_text(op: str, fname: str, raw: Callable[[Row], Any], value: Any) -> Predicate:
    """``beginsWith`` / ``endsWith`` / ``contains``, case-insensitive."""
    if value is None:
        raise RejectedFilter(f"Operator {op} on {fname} needs a value.")
    needle = _text(value) or ""
    if op == "beginswith":
        return lambda r: (t := _text(raw(r))) is not None and t.startswith(needle)
    if op == "endswith":
        return lambda r: (t := _text(raw(r))) is not None and t.endswith(needle)
    return lambda r: (t := _text(raw(r))) is not None and needle in t


def _field_getter(fname: str) -> Callable[[Row], Any]:
    def get(row: Row) -> Any:
        return row.get(fname)

    return get


def _compile_item(table: EntityTable, item: Any) -> Compiled | None:
    if not isinstance(item, dict):
        raise RejectedFilter(f"A filter item must be an object, got {item!r}.")
    return _compile_condition(table, item)


def compile_filter(table: EntityTable, conditions: Any) -> Plan:
    """Compile a top-level filter (a non-empty list, and-ed) into a :class:`Plan`."""
    if not isinstance(conditions, list) or not conditions:
        raise RejectedFilter("A query requires a filter: a non-empty list of conditions.")
    preds: list[Predicate] = []
    hints: list[Hint] = []
    for item in conditions:
        compiled = _compile_item(table, item)
        if compiled is None:
            continue
        pred, hint = compiled
        preds.append(pred)
        if hint is not None:
            hints.append(hint)
    predicate: Predicate | None
    if not preds:
        predicate = None
    elif len(preds) == 1:
        predicate = preds[0]
    else:
        predicate = lambda r: all(p(r) for p in preds)  # noqa: E731
    lo, hi = 0, len(table.rows)
    candidates: list[int] | None = None
    for op, fname, value in hints:
        # Narrowing only: the predicate still checks every candidate, so a hint may be loose.
        if fname == "id" and op in ("eq", "in"):
            found = _id_positions(table, value if op == "in" else [value])
            candidates = found if candidates is None else sorted(set(candidates) & set(found))
        elif fname == "id":
            lo, hi = _id_range(table.ids, op, value, lo, hi)
        elif op in ("eq", "in") and fname in INDEXED_FIELDS:
            positions = _indexed_positions(table, fname, value if op == "in" else [value])
            candidates = sorted(positions) if candidates is None else sorted(set(candidates) & positions)
    return Plan(table=table, predicate=predicate, lo=lo, hi=hi, candidates=candidates)


def _id_positions(table: EntityTable, values: list[Any]) -> list[int]:
    numbers = [n for n in map(_as_number, values) if n is not None and float(n).is_integer()]
    return sorted(p for p in (table.position_of(int(n)) for n in numbers) if p is not None)


def _id_range(ids: list[int], op: str, value: Any, lo: int, hi: int) -> tuple[int, int]:
    """The position range [lo, hi) narrowed by a comparison on ``id``."""
    bound = _as_number(value)
    if bound is None:
        return lo, hi
    if op == "gt":
        lo = max(lo, bisect_right(ids, bound))
    elif op == "gte":
        lo = max(lo, bisect_left(ids, bound))
    elif op == "lt":
        hi = min(hi, bisect_left(ids, bound))
    elif op == "lte":
        hi = min(hi, bisect_right(ids, bound))
    return lo, hi


def _indexed_positions(table: EntityTable, fname: str, values: list[Any]) -> set[int]:
    index = table.index(fname)
    positions: set[int] = set()
    for v in values:
        number = _as_number(v)
        if number is not None and float(number).is_integer():
            positions.update(index.get(int(number), ()))
    return positions


def _as_number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    try:
        return float(str(value))
    except ValueError:
        return None
