"""Query filters, validated before anything is sent.

Autotask was seen to ignore an unknown operator silently (the query then returns rows the
caller did not ask for), so every condition is checked here, client-side. A bad filter raises
:class:`FilterError`: it is both a :class:`~audit.core.errors.ConfigError` (exit 2 — a filter is
built from code or from the tenant mapping, and nothing was sent) and a :class:`ValueError`
(what Python callers expect for a bad argument).

Filters are built with :func:`cond`, :func:`and_`, :func:`or_` (or given as the API's own
dicts, which are parsed and validated the same way) and serialised by :func:`build_filters`.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from audit.core.errors import FilterError

__all__ = [
    "ALL_ROWS",
    "CONDITION_OPERATORS",
    "GROUP_OPERATORS",
    "MAX_IN_VALUES",
    "MISSING",
    "Condition",
    "Filter",
    "FilterError",
    "FilterInput",
    "Group",
    "and_",
    "build_filters",
    "chunk_in",
    "cond",
    "or_",
    "parse_filter",
]

#: The documented OR limit: an ``in`` list longer than this must be split (see :func:`chunk_in`).
MAX_IN_VALUES: Final = 500

CONDITION_OPERATORS: Final = (
    "eq", "noteq", "gt", "gte", "lt", "lte", "beginsWith", "endsWith", "contains",
    "exist", "notExist", "in", "notIn",
)  # fmt: skip
GROUP_OPERATORS: Final = ("and", "or")
_BY_LOWER = {op.lower(): op for op in CONDITION_OPERATORS}
_NO_VALUE_OPS = frozenset({"exist", "notExist"})
_LIST_OPS = frozenset({"in", "notIn"})
_TEXT_OPS = frozenset({"beginsWith", "endsWith", "contains"})


class _Missing(enum.Enum):
    MISSING = "MISSING"

    def __repr__(self) -> str:
        return "MISSING"


#: "No value" (for ``exist``/``notExist``), distinct from ``None``.
MISSING: Final = _Missing.MISSING

Scalar = str | int | float | bool


def _scalar(value: Any, *, where: str, udf: bool) -> Scalar:
    """Check (and normalise) one comparison value."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise FilterError(f"{where}: datetime {value!r} has no time zone; Autotask compares in UTC")
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if value is None:
        raise FilterError(f"{where}: value is None; use op 'exist'/'notExist' to test for null")
    # bool first: it is an int subclass, and numpy.bool_ & co. are neither (rejected below).
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise FilterError(f"{where}: value {value!r} is not a finite number")
        return float(value)
    if isinstance(value, str):
        # Booleans must be real true/false: "true" on a bool field was seen not to match.
        # UDF values are strings on the server, so "True" is legitimate there.
        if not udf and value.strip().lower() in ("true", "false"):
            raise FilterError(f"{where}: value {value!r} is a string; pass a real bool (True/False)")
        return value
    raise FilterError(
        f"{where}: value of type {type(value).__name__} is not allowed "
        "(use str, int, float, bool, or an aware datetime)"
    )


@dataclasses.dataclass(frozen=True)
class Condition:
    """``{"op": op, "field": field, "value": value}`` (``"udf": true`` for a user-defined field)."""

    field: str
    op: str
    value: Any = MISSING
    udf: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.field, str) or not self.field.strip():
            raise FilterError(f"condition field name must be a non-empty string, got {self.field!r}")
        if self.field != self.field.strip():
            raise FilterError(f"condition field name {self.field!r} has surrounding blanks")
        if self.field.lower() == "userdefinedfields":
            raise FilterError("filter on a UDF by its name with udf=True, not on 'userDefinedFields'")
        if not isinstance(self.udf, bool):
            raise FilterError(f"{self.field}: udf must be a bool, got {self.udf!r}")
        op = _BY_LOWER.get(self.op.lower()) if isinstance(self.op, str) else None
        if op is None:
            raise FilterError(
                f"{self.field}: unknown operator {self.op!r}; expected one of {', '.join(CONDITION_OPERATORS)}"
            )
        object.__setattr__(self, "op", op)  # canonical spelling ("beginswith" -> "beginsWith")
        where = f"{self.field} {op}"
        if op in _NO_VALUE_OPS:
            if self.value is not MISSING:
                raise FilterError(f"{where}: takes no value, got {self.value!r}")
            return
        if self.value is MISSING:
            raise FilterError(f"{where}: needs a value")
        if op in _LIST_OPS:
            if isinstance(self.value, str | bytes | Mapping) or not isinstance(
                self.value, list | tuple | set | frozenset | range
            ):
                raise FilterError(f"{where}: needs a list of values, got {type(self.value).__name__}")
            values = [_scalar(v, where=where, udf=self.udf) for v in self.value]
            if not values:
                raise FilterError(f"{where}: empty list (nothing can match; skip the query instead)")
            if len(values) > MAX_IN_VALUES:
                raise FilterError(
                    f"{where}: {len(values)} values, over the limit of {MAX_IN_VALUES}; "
                    "split them with chunk_in()"
                )
            object.__setattr__(self, "value", tuple(values))
            return
        value = _scalar(self.value, where=where, udf=self.udf)
        if op in _TEXT_OPS and not isinstance(value, str):
            raise FilterError(f"{where}: needs a string, got {type(value).__name__}")
        object.__setattr__(self, "value", value)

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {"op": self.op, "field": self.field}
        if self.value is not MISSING:
            out["value"] = list(self.value) if isinstance(self.value, tuple) else self.value
        if self.udf:
            out["udf"] = True
        return out


@dataclasses.dataclass(frozen=True)
class Group:
    """``{"op": "and"|"or", "items": [...]}``."""

    op: str
    items: tuple[Condition | Group, ...]

    def __post_init__(self) -> None:
        op = self.op.lower() if isinstance(self.op, str) else None
        if op not in GROUP_OPERATORS:
            raise FilterError(f"unknown group operator {self.op!r}; expected 'and' or 'or'")
        object.__setattr__(self, "op", op)
        if isinstance(self.items, str | bytes | Mapping) or not isinstance(self.items, Iterable):
            raise FilterError(f"{op} group: items must be a list of conditions")
        items = tuple(parse_filter(item) for item in self.items)
        if not items:
            raise FilterError(f"{op} group: no items")
        object.__setattr__(self, "items", items)

    def to_api(self) -> dict[str, Any]:
        return {"op": self.op, "items": [item.to_api() for item in self.items]}


Filter = Condition | Group
#: What the client accepts: one filter, an API-shaped dict, or a list of them (and-ed).
FilterInput = Filter | Mapping[str, Any] | Sequence[Filter | Mapping[str, Any]]


def cond(field: str, op: str, value: Any = MISSING, *, udf: bool = False) -> Condition:
    """A validated condition, e.g. ``cond("status", "noteq", 5)``, ``cond("Impact", "exist", udf=True)``."""
    return Condition(field, op, value, udf)


def and_(*items: Filter | Mapping[str, Any]) -> Group:
    return Group("and", tuple(parse_filter(i) for i in items))


def or_(*items: Filter | Mapping[str, Any]) -> Group:
    return Group("or", tuple(parse_filter(i) for i in items))


def parse_filter(item: Filter | Mapping[str, Any]) -> Filter:
    """Validate an API-shaped dict (keys case-insensitive, as the server's) or pass a built filter."""
    if isinstance(item, Condition | Group):
        return item
    if not isinstance(item, Mapping):
        raise FilterError(f"a filter item must be a condition or a dict, got {type(item).__name__}")
    data = {str(k).lower(): v for k, v in item.items()}
    if "items" in data:
        unknown = set(data) - {"op", "items"}
        if unknown:
            raise FilterError(f"group has unknown key(s) {sorted(unknown)}")
        return Group(data.get("op", ""), data["items"])
    unknown = set(data) - {"op", "field", "value", "udf"}
    if unknown:
        raise FilterError(f"condition has unknown key(s) {sorted(unknown)}")
    return Condition(
        data.get("field", ""), data.get("op", ""), data.get("value", MISSING), data.get("udf", False)
    )


def build_filters(filters: FilterInput) -> list[dict[str, Any]]:
    """The ``filter`` array of a query body. Top-level items are and-ed by the server.

    A filter is mandatory (the server rejects a query without one): ask for every row with
    :data:`ALL_ROWS`.
    """
    if isinstance(filters, Condition | Group | Mapping):
        items: list[Filter | Mapping[str, Any]] = [filters]
    elif isinstance(filters, str | bytes) or not isinstance(filters, Sequence):
        raise FilterError(
            f"filters must be a condition or a list of conditions, got {type(filters).__name__}"
        )
    else:
        items = list(filters)
    if not items:
        raise FilterError("a filter is mandatory; use ALL_ROWS (id gte 0) for every row")
    return [parse_filter(item).to_api() for item in items]


def chunk_in(
    field: str,
    values: Iterable[Any],
    *,
    extra: Sequence[Filter | Mapping[str, Any]] = (),
    size: int = MAX_IN_VALUES,
    udf: bool = False,
) -> list[list[Filter]]:
    """Split ``field in values`` into several filters of at most ``size`` values each.

    Each returned filter is ``[field in chunk, *extra]``: run them as separate queries (e.g. with
    ``AutotaskClient.query_many``); the union of their rows is the answer. Duplicate values are
    dropped (first occurrence kept, order preserved). No values -> no filters (nothing to ask).
    Only ``in`` can be chunked this way: ``notIn`` split across queries would be a union, not an
    intersection, so it is not offered.
    """
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_IN_VALUES:
        raise FilterError(f"chunk size must be an int in 1..{MAX_IN_VALUES}, got {size!r}")
    if isinstance(values, str | bytes | Mapping):
        raise FilterError(f"{field} in: needs an iterable of values, got {type(values).__name__}")
    extras = [parse_filter(item) for item in extra]
    try:
        unique = list(dict.fromkeys(values))
    except TypeError as exc:  # an unhashable value (a list, a dict): not a valid scalar anyway
        raise FilterError(f"{field} in: values must be scalars ({exc})") from exc
    return [
        [Condition(field, "in", tuple(unique[i : i + size]), udf), *extras]
        for i in range(0, len(unique), size)
    ]


#: Every row: ``id gte 0`` (Autotask has no "no filter" query).
ALL_ROWS: Final = Condition("id", "gte", 0)
