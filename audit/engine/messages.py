"""Templated finding messages: what was found and what was expected, with the row's values.

A rule's ``message`` may name values in braces — ``"priority {priority} but Impact {impact} ×
Urgency {urgency} gives P{expected}"`` — each one a name from the rule's ``values`` (any value
expression of the vocabulary: a column, ``udf``, ``lookup``, ``parent``, ...) or a column of the
row. The values are computed vectorised over the rule's rows, then formatted only for the failing
ones. The text lives in the rule files; no code is written per rule.
"""

from __future__ import annotations

import math
import string
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from audit.engine.vocabulary import Compiler, Node, RuleProblem

if TYPE_CHECKING:
    from audit.core.yamlload import LineDict
    from audit.engine.context import Ctx
    from audit.engine.model import Rule, RuleSpec

__all__ = ["compile_message", "format_value", "render_messages"]


def placeholders(message: str) -> list[str]:
    """The ``{name}`` fields of a message (``{{`` and ``}}`` are literal braces)."""
    try:
        return [name for _, name, _, _ in string.Formatter().parse(message) if name is not None]
    except ValueError as exc:
        raise ValueError(f"message: {exc}") from exc


def compile_message(compiler: Compiler, spec: RuleSpec, item: LineDict) -> tuple[tuple[str, Node], ...]:
    """The message's placeholders as value nodes; RuleProblem (file, line) for a bad one."""
    line = item.line_for("message") if "message" in item else item.line
    if not spec.message:
        if spec.values:
            raise RuleProblem("values: given, but no message prints them", item.line_for("values"))
        return ()
    try:
        names = placeholders(spec.message)
    except ValueError as exc:
        raise RuleProblem(str(exc), line) from exc
    raw_values = item.get("values") or {}
    values_line = item.line_for("values") if "values" in item else line
    nodes: dict[str, Node] = {}
    for name in names:
        if not name.isidentifier():
            raise RuleProblem(f"message: {{{name}}} is not a name (letters, digits, _)", line)
        if name in nodes:
            continue
        if name in spec.values:
            nodes[name] = compiler.value(raw_values[name], values_line)
        else:  # a column of the row
            try:
                nodes[name] = compiler.value(name, line)
            except RuleProblem as exc:
                raise RuleProblem(
                    f"message: {{{name}}} is neither in `values` nor a column ({exc.message})", line
                ) from exc
    unused = sorted(set(spec.values) - set(nodes))
    if unused:
        raise RuleProblem(f"values: {', '.join(unused)} not printed by the message", values_line)
    return tuple(nodes.items())


def format_value(value: Any) -> str:
    """One value as a reviewer reads it: dates to the minute, whole numbers without decimals,
    lists joined, nothing as "none"."""
    if value is None or value is pd.NA or value is pd.NaT:
        return "none"
    if isinstance(value, float) and math.isnan(value):
        return "none"
    if isinstance(value, pd.Timestamp | datetime):
        stamp = pd.Timestamp(value)
        text: str = (
            stamp.strftime("%Y-%m-%d %H:%M")
            if (stamp.hour, stamp.minute, stamp.second) != (0, 0, 0)
            else stamp.strftime("%Y-%m-%d")
        )
        return text
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, pd.Timedelta):
        minutes = round(value.total_seconds() / 60)
        hours, rest = divmod(abs(minutes), 60)
        sign = "-" if minutes < 0 else ""
        return f"{sign}{hours} h {rest} min" if hours else f"{sign}{rest} min"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, float | np.floating):
        return f"{float(value):g}"
    if isinstance(value, list | tuple | np.ndarray):
        return ", ".join(format_value(v) for v in value) or "none"
    text = " ".join(str(value).split())
    return text if len(text) <= 80 else text[:79] + "…"


def _at(values: Any, rows: np.ndarray) -> Any:
    """The values of ``rows`` (positions in the context), whatever shape the node returned."""
    if isinstance(values, pd.Series):
        return values.iloc[rows]
    if isinstance(values, np.ndarray | pd.api.extensions.ExtensionArray):
        return pd.Series(values[rows])
    return None if values is None else values  # a constant


def _texts(values: Any, n: int) -> np.ndarray:
    """``values`` formatted, as an object array of ``n`` strings. Each distinct value is formatted
    once (factorised), so a million findings cost a million array look-ups, not Python calls."""
    out = np.empty(n, dtype=object)
    if not isinstance(values, pd.Series):
        out[:] = format_value(values)
        return out
    # Dates and text, the common cases, formatted column-wise (format_value's rules, vectorised).
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return _date_texts(values)
    if isinstance(values.dtype, pd.StringDtype):
        # Distinct texts only (labels repeat; the whitespace regex runs in Python per value).
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        text = pd.Series(uniques, dtype=values.dtype).str.replace(r"\s+", " ", regex=True).str.strip()
        long = text.str.len() > 80
        text = text.where(~long.fillna(False).astype(bool), text.str.slice(0, 79) + "…")
        table = np.append(text.fillna("none").to_numpy(dtype=object), np.array(["none"], dtype=object))
        texts: np.ndarray = table[codes]  # the sentinel -1 picks the trailing "none"
        return texts
    try:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    except TypeError:  # unhashable values (lists): one by one
        out[:] = [format_value(v) for v in values]
        return out
    table = np.array([format_value(v) for v in uniques] + ["none"], dtype=object)
    formatted: np.ndarray = table[codes]  # the sentinel -1 picks the trailing "none"
    return formatted


def _date_texts(values: pd.Series) -> np.ndarray:
    """Instants as format_value prints them (local wall time: the day alone at midnight, else to
    the minute; NaT as "none"), with numpy's ISO formatting instead of a strftime per row."""
    local = values.dt.tz_localize(None) if values.dt.tz is not None else values
    stamps = local.to_numpy()
    known = ~np.isnat(stamps)
    years = stamps[known].astype("datetime64[Y]").astype("int64") + 1970
    if len(years) and (years.min() < 1000 or years.max() > 9999):  # strftime's %Y is not 4 digits there
        minutes = values.dt.strftime("%Y-%m-%d %H:%M")
        text = minutes.where(values.dt.normalize() != values, values.dt.strftime("%Y-%m-%d"))
        texts: np.ndarray = text.fillna("none").to_numpy(dtype=object)
        return texts
    out = np.full(len(stamps), "none", dtype=object)
    wall = stamps[known]
    if not len(wall):
        return out
    iso = np.datetime_as_string(wall.astype("datetime64[m]"))  # 2026-11-25T09:30
    iso.view("uint32").reshape(len(iso), -1)[:, 10] = ord(" ")
    midnight = wall == wall.astype("datetime64[D]")
    text = iso.astype(object)
    text[midnight] = np.datetime_as_string(wall[midnight].astype("datetime64[D]")).astype(object)
    out[known] = text
    return out


def render_messages(rule: Rule, ctx: Ctx, rows: np.ndarray) -> np.ndarray | None:
    """The message of each failing row (``rows``: positions in ``ctx``), or None for a fixed message."""
    if not rule.message_values or not len(rows):
        return None
    nodes = dict(rule.message_values)
    n = len(rows)
    out = np.full(n, "", dtype=object)
    # The template as literal text and fields, concatenated column-wise (numpy object arrays).
    for literal, name, spec, _ in string.Formatter().parse(rule.message):
        if literal:
            out = out + literal
        if name is not None:
            texts = _texts(_at(nodes[name](ctx), rows), n)
            if spec:
                texts = np.array([format(t, spec) for t in texts], dtype=object)
            out = out + texts
    return out
