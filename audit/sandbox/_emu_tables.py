"""The emulator's per-entity tables and query plans: rows sorted by ``id``, field kinds, lazy
indexes over parent keys, and a compiled filter's candidate positions and paging.

Values compare as their field's *kind*: date-times as instants whether or not they carry ``Z``
(a naive one is UTC), strings case-insensitively (SQL Server's default collation).
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
    "BOOL",
    "DATETIME",
    "FLOAT",
    "INDEXED_FIELDS",
    "INT",
    "STR",
    "EntityTable",
    "Plan",
    "Predicate",
    "Row",
    "parse_instant",
    "row_id",
]

#: Fields with a value -> positions index. Only parent keys, which never change on a row: the
#: tenant's rows may be mutated in place (``Tenant.mutate``), and an index over a mutable field
#: (status...) would go stale silently. Other conditions are scanned.
INDEXED_FIELDS = frozenset({"ticketID", "parentID"})

Row = dict[str, Any]
Predicate = Callable[[Row], bool]

# Kinds a field's values are compared as.
INT, FLOAT, STR, DATETIME, BOOL = "int", "float", "str", "datetime", "bool"

_ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


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
        ids = [row_id(r) for r in rows]
        if any(a > b for a, b in pairwise(ids)):
            # Only copy when needed: an already sorted list is served as is.
            rows = sorted(records, key=row_id)
            ids = [row_id(r) for r in rows]
        fields, kinds = _field_kinds(name, field_defs, rows)
        udfs = _udf_kinds(udf_defs, rows)
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


def row_id(row: Row) -> int:
    """A row's integer ``id`` (0 when it has none)."""
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
                    return row_id(rows[pos]) - 1 if pos > 0 else None
        return None

    def count(self) -> int:
        if self.predicate is None:
            if self.candidates is None:
                return max(0, self.hi - self.lo)
            return sum(1 for p in self.candidates if self.lo <= p < self.hi)
        return sum(1 for _ in self.matches_after(None))


def _field_kinds(
    name: str, field_defs: list[dict[str, Any]] | None, rows: list[Row]
) -> tuple[dict[str, str], dict[str, str]]:
    """Field names (lower-cased -> canonical) and comparison kinds, from the schema, the
    tenant's ``entityInformation`` fields, then the records themselves."""
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
    return fields, kinds


def _udf_kinds(udf_defs: list[dict[str, Any]] | None, rows: list[Row]) -> dict[str, tuple[str, str]]:
    """UDF names (lower-cased -> (canonical, kind)), from the definitions, then the records."""
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
    return udfs
