"""Query evaluation for the Autotask emulator: per-entity tables and compiled filters.

A filter is compiled once per request into a Python closure plus, when the top level allows
it, a narrowed candidate set (an ``id`` range by bisection, or the positions of an indexed
``eq``/``in`` condition such as ``ticketID in [...]``). Pages are then found by scanning
candidates after the paging position, so a page costs O(rows scanned), not O(table).

Semantics follow ``../shared/autotask-api.md``: field names are case-insensitive, string
comparisons are case-insensitive (SQL Server's default collation), date-times compare as
instants whether or not they carry ``Z``, an unknown operator is ignored silently (the client
must validate), ``in`` lists are capped at 500 values. Nulls follow SQL: a null field matches
only ``notExist`` (and ``eq null``), never a comparison — ``noteq``/``notIn`` included.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from audit.source.schema import ENTITIES, FieldType

__all__ = [
    "IN_LIMIT",
    "OPERATORS",
    "EntityTable",
    "FilterError",
    "Plan",
    "compile_filter",
    "parse_instant",
]

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

#: Fields with a value -> positions index. Only parent keys, which never change on a row: the
#: tenant's rows may be mutated in place (``Tenant.mutate``), and an index over a mutable field
#: (status...) would go stale silently. Other conditions are scanned.
INDEXED_FIELDS = frozenset({"ticketID", "parentID"})

Row = dict[str, Any]
Predicate = Callable[[Row], bool]

# Kinds a field's values are compared as.
INT, FLOAT, STR, DATETIME, BOOL = "int", "float", "str", "datetime", "bool"

_ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


class FilterError(Exception):
    """A filter the real API would refuse (answered as 500 ``{"errors": [message]}``)."""


# Date-time strings repeat across requests (watermarks, the same rows scanned page after
# page): a process-wide cache turns the parse into one dict lookup. Strings are immutable, so
# sharing across threads is safe; a racing double insert writes the same value.
_INSTANTS: dict[str, float | None] = {}
_INSTANT_CACHE_MAX = 2_000_000


def parse_instant(value: Any) -> float | None:
    """An ISO-8601 date-time (with or without ``Z``/offset; naive means UTC) as epoch seconds."""
    if not isinstance(value, str):
        return None
    hit = _INSTANTS.get(value)
    if hit is not None or value in _INSTANTS:
        return hit
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        result: float | None = None
    else:
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        result = parsed.timestamp()
    if len(_INSTANTS) < _INSTANT_CACHE_MAX:
        _INSTANTS[value] = result
    return result


def _kind_from_datatype(data_type: Any) -> str | None:
    text = str(data_type or "").lower()
    if not text:
        return None
    if "date" in text or "time" in text:
        return DATETIME
    if "bool" in text:
        return BOOL
    if any(t in text for t in ("decimal", "double", "float", "single", "money")):
        return FLOAT
    if any(t in text for t in ("int", "long", "short", "byte")):
        return INT
    return STR


_SCHEMA_KIND = {
    FieldType.INT: INT,
    FieldType.STR: STR,
    FieldType.DATETIME: DATETIME,
    FieldType.DECIMAL: FLOAT,
    FieldType.BOOL: BOOL,
}


def _kind_from_value(value: Any) -> str:
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT
    if isinstance(value, float):
        return FLOAT
    if isinstance(value, str) and _ISO_RE.match(value) and parse_instant(value) is not None:
        return DATETIME
    return STR


@dataclass
class EntityTable:
    """One entity's rows sorted by ``id``, with the lookups queries need, built once."""

    name: str
    rows: list[Row]
    ids: list[int]
    fields: dict[str, str]  # lower-cased name -> canonical name
    kinds: dict[str, str]  # canonical name -> comparison kind
    udfs: dict[str, tuple[str, str]]  # lower-cased UDF name -> (canonical name, kind)
    _indexes: dict[str, dict[Any, list[int]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def build(
        cls,
        name: str,
        records: list[Row],
        field_defs: list[dict[str, Any]] | None,
        udf_defs: list[dict[str, Any]] | None,
    ) -> EntityTable:
        rows = records
        ids = [_row_id(r) for r in rows]
        if any(a > b for a, b in pairwise(ids)):
            # Only copy when needed: an already sorted list is served as is.
            rows = sorted(records, key=_row_id)
            ids = [_row_id(r) for r in rows]
        fields: dict[str, str] = {}
        kinds: dict[str, str] = {}
        spec = next((s for k, s in ENTITIES.items() if k.lower() == name.lower()), None)
        if spec is not None:
            for fname, ftype in spec.fields.items():
                fields[fname.lower()] = fname
                kinds[fname] = _SCHEMA_KIND[ftype]
        for fdef in field_defs or []:
            fname = str(fdef.get("name", ""))
            if not fname:
                continue
            fields[fname.lower()] = fname
            kind = _kind_from_datatype(fdef.get("dataType"))
            if kind is not None:
                kinds[fname] = kind
        # Records can carry keys neither the schema nor entityInformation mention: infer.
        for row in rows[:50]:
            for key, value in row.items():
                if key == "userDefinedFields":
                    continue
                canonical = fields.setdefault(key.lower(), key)
                if canonical not in kinds and value is not None:
                    kinds[canonical] = _kind_from_value(value)
        fields.setdefault("id", "id")
        kinds.setdefault("id", INT)
        udfs: dict[str, tuple[str, str]] = {}
        for udef in udf_defs or []:
            uname = str(udef.get("name", ""))
            if uname:
                udfs[uname.lower()] = (uname, _kind_from_datatype(udef.get("type")) or STR)
        for row in rows[:50]:
            for entry in row.get("userDefinedFields") or []:
                uname = str(entry.get("name", ""))
                if uname and uname.lower() not in udfs:
                    udfs[uname.lower()] = (uname, STR)
        return cls(name=name, rows=rows, ids=ids, fields=fields, kinds=kinds, udfs=udfs)

    def index(self, fname: str) -> dict[Any, list[int]]:
        """Positions (ascending) of the rows per value of ``fname``; built on first use."""
        found = self._indexes.get(fname)
        if found is not None:
            return found
        with self._lock:
            found = self._indexes.get(fname)
            if found is None:
                found = {}
                for pos, row in enumerate(self.rows):
                    found.setdefault(row.get(fname), []).append(pos)
                self._indexes[fname] = found
        return found

    def position_of(self, row_id: int) -> int | None:
        pos = bisect_left(self.ids, row_id)
        return pos if pos < len(self.ids) and self.ids[pos] == row_id else None


def _row_id(row: Row) -> int:
    value = row.get("id")
    return value if isinstance(value, int) else 0


@dataclass
class Plan:
    """A compiled filter: a predicate and the candidate positions it can match."""

    table: EntityTable
    predicate: Predicate | None  # None: every row matches
    lo: int  # candidate positions are within [lo, hi)
    hi: int
    candidates: list[int] | None = None  # sorted positions from an index, or None: the range

    def _positions(self, start: int) -> Iterable[int]:
        start = max(start, self.lo)
        if self.candidates is None:
            return range(start, self.hi)
        cands = self.candidates
        i = bisect_left(cands, start)
        return (p for p in cands[i:] if p < self.hi)

    def matches_after(self, after_id: int | None) -> Iterator[Row]:
        """Matching rows with ``id > after_id``, ascending."""
        start = 0 if after_id is None else bisect_right(self.table.ids, after_id)
        rows, pred = self.table.rows, self.predicate
        if pred is None:
            for pos in self._positions(start):
                yield rows[pos]
        else:
            for pos in self._positions(start):
                row = rows[pos]
                if pred(row):
                    yield row

    def page(self, after_id: int | None, size: int) -> tuple[list[Row], bool]:
        """Up to ``size`` rows after ``after_id`` and whether more follow."""
        out: list[Row] = []
        for row in self.matches_after(after_id):
            if len(out) == size:
                return out, True
            out.append(row)
        return out, False

    def previous_start(self, first_id: int, size: int) -> int | None:
        """The paging position (``after`` id) of the page before the one starting at ``first_id``.

        Scans backwards for ``size`` matches; ``None`` means the first page.
        """
        end = bisect_left(self.table.ids, first_id)
        rows, pred = self.table.rows, self.predicate
        if self.candidates is None:
            positions: Iterable[int] = range(min(end, self.hi) - 1, self.lo - 1, -1)
        else:
            i = bisect_left(self.candidates, min(end, self.hi))
            positions = (p for p in reversed(self.candidates[:i]) if p >= self.lo)
        seen = 0
        for pos in positions:
            if pred is None or pred(rows[pos]):
                seen += 1
                if seen == size:
                    return _row_id(rows[pos]) - 1 if pos > 0 else None
        return None

    def count(self) -> int:
        if self.predicate is None:
            if self.candidates is None:
                return max(0, self.hi - self.lo)
            return sum(1 for p in self.candidates if self.lo <= p < self.hi)
        return sum(1 for _ in self.matches_after(None))


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
            raise FilterError(f"Invalid value {value!r} for numeric field {fname}.")
        if isinstance(value, int | float):
            return value
        try:
            number = float(str(value).strip())
        except ValueError:
            raise FilterError(f"Invalid value {value!r} for numeric field {fname}.") from None
        return int(number) if number.is_integer() and kind == INT else number
    if kind == BOOL:
        # The real API wants JSON booleans; 1/0 is tolerated (Contacts.isActive is 1/0).
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise FilterError(f"Invalid value {value!r} for boolean field {fname}: use true or false.")
    if kind == DATETIME:
        instant = parse_instant(value) if isinstance(value, str) else None
        if instant is None:
            raise FilterError(f"Invalid date-time value {value!r} for field {fname}.")
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


def _compile_condition(
    table: EntityTable, cond: dict[str, Any]
) -> tuple[Predicate, tuple[str, str, Any] | None] | None:
    """One condition -> (predicate, index hint) or None when the operator is unknown (ignored)."""
    op_raw = _get(cond, "op")
    op = str(op_raw).lower() if isinstance(op_raw, str) else ""
    items = _get(cond, "items")
    if op in ("and", "or"):
        if not isinstance(items, list) or not items:
            raise FilterError(f"A '{op}' group needs a non-empty 'items' list.")
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
    if op not in OPERATORS:
        return None  # the real API ignores an unknown operator silently
    fname_raw = _get(cond, "field")
    if not isinstance(fname_raw, str) or not fname_raw:
        raise FilterError(f"Condition {cond!r} has no field.")
    is_udf = _get(cond, "udf") is True
    raw: Callable[[Row], Any]
    if is_udf:
        udf = table.udfs.get(fname_raw.lower())
        if udf is None:
            raise FilterError(f"Unable to find user-defined field {fname_raw} in the {table.name} entity.")
        fname, kind = udf
        raw = _udf_getter(fname)
    else:
        canonical = table.fields.get(fname_raw.lower())
        if canonical is None or canonical == "userDefinedFields":
            raise FilterError(f"Unable to find {fname_raw} in the {table.name} entity.")
        fname, kind = canonical, table.kinds.get(canonical, STR)
        raw = _field_getter(fname)
    if op == "exist":
        return (lambda r: raw(r) is not None), None
    if op == "notexist":
        return (lambda r: raw(r) is None), None
    if not _has(cond, "value"):
        raise FilterError(f"Condition on {fname} with operator {op} needs a value.")
    value = _get(cond, "value")
    hint_field = None if is_udf else fname
    if op in _LIST_OPS:
        if not isinstance(value, list):
            raise FilterError(f"Operator {op} on {fname} needs a list value.")
        if len(value) > IN_LIMIT:
            raise FilterError(
                f"Operator {op} on {fname} accepts at most {IN_LIMIT} values, got {len(value)}."
            )
        targets = frozenset(_coerce(v, kind, fname) for v in value if v is not None)
        conv = _converter(kind)
        if op == "in":
            hint = ("in", hint_field, [v for v in value if v is not None]) if hint_field else None
            return (lambda r: (v := conv(raw(r))) is not None and v in targets), hint
        return (lambda r: (v := conv(raw(r))) is not None and v not in targets), None
    if isinstance(value, list | dict):
        raise FilterError(f"Operator {op} on {fname} needs a single value.")
    if op in ("beginswith", "endswith", "contains"):
        if value is None:
            raise FilterError(f"Operator {op} on {fname} needs a value.")
        needle = _text(value) or ""
        if op == "beginswith":
            return (lambda r: (t := _text(raw(r))) is not None and t.startswith(needle)), None
        if op == "endswith":
            return (lambda r: (t := _text(raw(r))) is not None and t.endswith(needle)), None
        return (lambda r: (t := _text(raw(r))) is not None and needle in t), None
    target = _coerce(value, kind, fname)
    hint = (op, hint_field, value) if hint_field and value is not None else None
    if kind == INT and not is_udf:
        # Fast path: ints on records need no conversion when the record holds an int.
        return _compare(op, raw, _converter(INT), target), hint
    return _compare(op, raw, _converter(kind), target), hint


def _field_getter(fname: str) -> Callable[[Row], Any]:
    def get(row: Row) -> Any:
        return row.get(fname)

    return get


def _compile_item(table: EntityTable, item: Any) -> tuple[Predicate, tuple[str, str, Any] | None] | None:
    if not isinstance(item, dict):
        raise FilterError(f"A filter item must be an object, got {item!r}.")
    return _compile_condition(table, item)


def compile_filter(table: EntityTable, conditions: Any) -> Plan:
    """Compile a top-level filter (a non-empty list, and-ed) into a :class:`Plan`."""
    if not isinstance(conditions, list) or not conditions:
        raise FilterError("A query requires a filter: a non-empty list of conditions.")
    preds: list[Predicate] = []
    hints: list[tuple[str, str, Any]] = []
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
    ids = table.ids
    for op, fname, value in hints:
        # Narrowing only: the predicate still checks every candidate, so a hint may be loose.
        if fname == "id" and op in ("eq", "in"):
            values = value if op == "in" else [value]
            numbers = [n for n in map(_as_number, values) if n is not None and float(n).is_integer()]
            found = sorted(p for p in (table.position_of(int(n)) for n in numbers) if p is not None)
            candidates = found if candidates is None else sorted(set(candidates) & set(found))
        elif fname == "id":
            bound = _as_number(value)
            if bound is None:
                continue
            if op == "gt":
                lo = max(lo, bisect_right(ids, bound))
            elif op == "gte":
                lo = max(lo, bisect_left(ids, bound))
            elif op == "lt":
                hi = min(hi, bisect_left(ids, bound))
            elif op == "lte":
                hi = min(hi, bisect_right(ids, bound))
        elif op in ("eq", "in") and fname in INDEXED_FIELDS:
            index = table.index(fname)
            values = value if op == "in" else [value]
            positions: set[int] = set()
            for v in values:
                number = _as_number(v)
                if number is not None and float(number).is_integer():
                    positions.update(index.get(int(number), ()))
            found = sorted(positions)
            candidates = found if candidates is None else sorted(set(candidates) & positions)
    return Plan(table=table, predicate=predicate, lo=lo, hi=hi, candidates=candidates)


def _as_number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    try:
        return float(str(value))
    except ValueError:
        return None
