"""The predicate registry and the compiler from rule-file conditions to vectorised nodes.

Declaration is kept apart from the backend (pandera style): a rule file holds plain data;
each predicate registers its documentation (summary, arguments, example) next to a compile
function that turns its arguments into a ``Node``, a memoised function over a ``Ctx``. The
docs (``docs/rules.md``) are generated from this registry's metadata.

Conditions evaluate to a numpy bool array (one per row of the context); values to a pandas
Series aligned with the context's rows, or a scalar.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from audit.core.config import TenantMapping
from audit.core.errors import RuleProblem
from audit.core.userregex import UnsafeRegexError, compile_user_regex
from audit.core.yamlload import LineDict, LineList
from audit.engine.context import Ctx
from audit.engine.frames import DERIVED_COLUMNS, FRAME_ENTITIES
from audit.source.schema import ENTITIES, UDF_PREFIX

__all__ = [
    "CHILD_KINDS",
    "KINDS",
    "PREDICATES",
    "Arg",
    "Compiler",
    "Definition",
    "Node",
    "PredicateSpec",
    "RuleProblem",
    "check_function",
    "predicate",
]

Role = Literal["condition", "value"]
KINDS = ("tickets", "notes", "time_entries", "attachments", "history")
CHILD_KINDS = ("notes", "time_entries", "attachments", "history")


@dataclass(frozen=True)
class Node:
    """A compiled condition or value: ``key`` is its canonical text (the cache key)."""

    key: str
    role: Role
    fn: Callable[[Ctx], Any]
    memo: bool = True  # column reads are not memoised: a taken text column would stay alive
    column: str | None = None  # set on plain column reads (text predicates slice them lazily)

    def __call__(self, ctx: Ctx) -> Any:
        if not self.memo:
            return self.fn(ctx)
        return ctx.memo(self.key, lambda: self.fn(ctx))


@dataclass(frozen=True)
class Arg:
    name: str
    type: str  # documentation: "value", "column", "condition", "list", "regex", ...
    doc: str
    required: bool = True


@dataclass(frozen=True)
class PredicateSpec:
    name: str
    role: Role
    category: str
    summary: str
    args: tuple[Arg, ...]
    example: str
    compile: Callable[[Compiler, Any, int], Node]
    shorthand: str | None = None  # the argument a non-mapping value fills (``blank: title``)
    kinds: tuple[str, ...] = KINDS  # the row kinds it may be used on


PREDICATES: dict[str, PredicateSpec] = {}
FUNCTIONS: dict[str, tuple[str, Callable[..., np.ndarray]]] = {}


def predicate(
    name: str,
    *,
    role: Role,
    category: str,
    summary: str,
    args: tuple[Arg, ...],
    example: str,
    shorthand: str | None = None,
    kinds: tuple[str, ...] = KINDS,
) -> Callable[[Callable[[Compiler, Any, int], Node]], Callable[[Compiler, Any, int], Node]]:
    """Register a predicate (its metadata documents it in ``docs/rules.md``)."""

    def wrap(fn: Callable[[Compiler, Any, int], Node]) -> Callable[[Compiler, Any, int], Node]:
        PREDICATES[name] = PredicateSpec(name, role, category, summary, args, example, fn, shorthand, kinds)
        return fn

    return wrap


def check_function(name: str, doc: str) -> Callable[[Callable[..., np.ndarray]], Callable[..., np.ndarray]]:
    """Register a named Python check (``function: {name: ..., args: {...}}`` in a rule).

    The function gets ``(ctx, **args)`` and returns one bool per row: it is how a check that
    truly needs Python stays out of the YAML.
    """

    def wrap(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
        FUNCTIONS[name] = (doc, fn)
        return fn

    return wrap


@dataclass(frozen=True)
class Definition:
    """A named condition from ``rules/definitions.yaml`` (``use: staff_note``)."""

    name: str
    kind: str
    raw: Any
    file: str
    line: int


def _canon(raw: Any) -> Any:
    if isinstance(raw, dict):
        return {str(k): _canon(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return [_canon(v) for v in raw]
    return raw


def known_columns(kind: str) -> set[str]:
    spec = ENTITIES[FRAME_ENTITIES[kind]]
    return set(spec.fields) | set(DERIVED_COLUMNS.get(kind, ()))


@dataclass
class Compiler:
    """Compiles rule-file conditions for one rule; ``kind`` is the row kind being compiled."""

    mapping: TenantMapping
    definitions: Mapping[str, Definition]
    kind: str = "tickets"
    #: Settings read so far, in order of first use (a dict: ordered, no duplicates); shared
    #: with the compilers of related and parent rows, so a rule's list is all it reads.
    used_settings: dict[str, None] = field(default_factory=dict)
    _stack: list[str] = field(default_factory=list)

    # --- entry points -------------------------------------------------------------------
    def condition(self, raw: Any, line: int) -> Node:
        return self._node(raw, line, "condition")

    def value(self, raw: Any, line: int) -> Node:
        """A value: a column name, ``$as_of``, ``$mapping.x``, a literal or a value predicate."""
        if isinstance(raw, str) and not raw.startswith("$"):
            return self.column_node(raw, line)
        if isinstance(raw, str) or isinstance(raw, (int, float, bool)) or raw is None:
            resolved = self.resolve(raw, line)
            if is_as_of(resolved):
                return Node("as_of", "value", lambda ctx: ctx.env.as_of)
            if isinstance(resolved, (list, dict)):
                raise RuleProblem(f"{raw!r} is a list or table, not a single value", line)
            return self.constant(resolved)
        return self._node(raw, line, "value")

    def in_kind(self, kind: str) -> Compiler:
        """The same compiler for another row kind (``parent``, ``related``)."""
        return Compiler(self.mapping, self.definitions, kind, self.used_settings, self._stack)

    # --- helpers for predicate implementations ------------------------------------------
    def constant(self, value: Any) -> Node:
        stamp = value if not isinstance(value, pd.Timestamp) else value.isoformat()
        return Node(f"const:{json.dumps(_canon(stamp), default=str)}", "value", lambda ctx: value)

    def resolve(self, raw: Any, line: int) -> Any:
        """``$mapping.name`` -> the setting's value; ``$as_of`` is kept symbolic; else as is."""
        if isinstance(raw, str) and raw.startswith("$"):
            if raw == "$as_of":
                return _AS_OF
            if raw.startswith("$mapping."):
                name = raw[len("$mapping.") :]
                if name not in TenantMapping.model_fields:
                    raise RuleProblem(
                        f"unknown setting {raw!r}; known: {', '.join(sorted(TenantMapping.model_fields))}",
                        line,
                    )
                self.used_settings.setdefault(name)
                return getattr(self.mapping, name)
            raise RuleProblem(f"unknown reference {raw!r} (use $as_of or $mapping.<setting>)", line)
        if isinstance(raw, LineList):
            return [self.resolve(v, line) for v in raw]
        return raw

    def column_name(self, raw: Any, line: int, *, text: bool = False) -> str:
        """Validate a column of the current kind; text predicates read the ``_text`` twin."""
        if isinstance(raw, LineDict) and set(raw) == {"udf"}:
            udf = self.resolve(raw["udf"], raw.line)
            if not isinstance(udf, str):
                raise RuleProblem("udf: expects a UDF name", raw.line)
            raw = f"{UDF_PREFIX}{udf}"
        if not isinstance(raw, str):
            raise RuleProblem(f"expected a column name, got {raw!r}", line)
        if raw.startswith(UDF_PREFIX):
            if self.kind != "tickets":
                raise RuleProblem(f"UDF column {raw!r}: only tickets have UDFs", line)
            return raw
        columns = known_columns(self.kind)
        if raw not in columns:
            raise RuleProblem(
                f"unknown column {raw!r} for {self.kind}; known: {', '.join(sorted(columns))}", line
            )
        if text and f"{raw}_text" in columns:
            return f"{raw}_text"
        return raw

    def column_node(self, raw: Any, line: int, *, text: bool = False) -> Node:
        name = self.column_name(raw, line, text=text)

        def fn(ctx: Ctx) -> pd.Series:
            if name not in ctx.frame.columns and name.startswith(UDF_PREFIX):
                return pd.Series(pd.array([None] * len(ctx), dtype="string"))
            return ctx.frame[name]

        return Node(f"col:{self.kind}:{name}", "value", fn, memo=False, column=name)

    def args(self, spec: PredicateSpec, raw: Any, line: int) -> dict[str, Any]:
        """Arguments as a dict (shorthand filled), unknown and missing ones rejected."""
        if not isinstance(raw, dict):
            if spec.shorthand is None:
                raise RuleProblem(
                    f"{spec.name}: expects a mapping of {', '.join(a.name for a in spec.args)}", line
                )
            raw = {spec.shorthand: raw}
        names = {a.name for a in spec.args}
        for key in raw:
            if key not in names:
                where = raw.line_for(key) if isinstance(raw, LineDict) else line
                raise RuleProblem(
                    f"{spec.name}: unknown key {key!r}; expected {', '.join(sorted(names))}", where
                )
        for a in spec.args:
            if a.required and a.name not in raw:
                raise RuleProblem(f"{spec.name}: missing {a.name!r}", line)
        return dict(raw)

    def line_in(self, raw: Any, key: str, default: int) -> int:
        if isinstance(raw, LineDict):
            return raw.line_for(key)
        return default

    def _node(self, raw: Any, line: int, role: Role) -> Node:
        if isinstance(raw, LineDict):
            line = raw.line or line
        if not isinstance(raw, dict) or len(raw) != 1:
            shown = list(raw) if isinstance(raw, dict) else raw
            raise RuleProblem(f"a {role} must be a mapping with exactly one predicate, got {shown!r}", line)
        ((name, args),) = raw.items()
        spec = PREDICATES.get(name)
        if spec is None:
            choices = sorted(p for p, s in PREDICATES.items() if s.role == role)
            raise RuleProblem(f"unknown predicate {name!r}; known {role}s: {', '.join(choices)}", line)
        # "parent" reads a value or a condition on the ticket, so it fits either position.
        if spec.role != role and not (role == "value" and spec.role == "condition") and name != "parent":
            raise RuleProblem(f"{name!r} is a {spec.role}, used where a {role} is expected", line)
        if self.kind not in spec.kinds:
            raise RuleProblem(
                f"{name!r} cannot be used on {self.kind} (only on {', '.join(spec.kinds)})", line
            )
        arg_line = raw.line_for(name) if isinstance(raw, LineDict) else line
        if isinstance(args, (LineDict, LineList)) and args.line:
            arg_line = args.line
        return spec.compile(self, args, arg_line)


class _AsOf:
    """The symbolic ``$as_of`` (resolved per evaluation, so a rule set is reusable)."""

    def __repr__(self) -> str:
        return "$as_of"


_AS_OF = _AsOf()


def is_as_of(value: Any) -> bool:
    return value is _AS_OF


def regex(pattern: Any, line: int, flags: int = 0) -> re.Pattern[str]:
    if not isinstance(pattern, str):
        raise RuleProblem(f"a pattern must be text, got {pattern!r}", line)
    try:
        return compile_user_regex(pattern, flags)
    except UnsafeRegexError as exc:
        raise RuleProblem(f"invalid regex {pattern!r}: {exc}", line) from exc
