"""Date and duration predicates: ``plus`` / ``minus`` (a date-time shifted by a duration),
``late_by`` (how late, as a reviewer reads it) and ``date`` (the calendar day in the tenant's
time zone, for day-level comparisons)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from audit.engine.context import Ctx
from audit.engine.vocabulary import PREDICATES, Arg, Compiler, Node, RuleProblem, predicate

__all__: list[str] = []

# Longest duration a rule may shift a date by (a century: date arithmetic stays in range).
_MAX_DURATION_DAYS = 36_600


def _duration(c: Compiler, raw: Any, line: int) -> pd.Timedelta:
    if not isinstance(raw, dict) or len(raw) != 1 or next(iter(raw)) not in ("minutes", "hours", "days"):
        raise RuleProblem(
            f"a duration is one of {{minutes: N}}, {{hours: N}}, {{days: N}}; got {raw!r}", line
        )
    ((unit, amount),) = raw.items()
    value = c.resolve(amount, line)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise RuleProblem(f"duration {unit}: expected a number, got {amount!r}", line)
    try:
        delta: pd.Timedelta | None = pd.Timedelta(**{unit: value})
    except (OverflowError, ValueError):  # beyond what a timestamp can hold (about 292 years)
        delta = None
    if delta is None or abs(delta) > pd.Timedelta(days=_MAX_DURATION_DAYS):
        raise RuleProblem(f"duration {unit}: {value!r} is beyond {_MAX_DURATION_DAYS} days", line)
    return delta


def _shift(name: str, sign: int) -> Callable[[Compiler, Any, int], Node]:
    def compile_shift(c: Compiler, raw: Any, line: int) -> Node:
        if not isinstance(raw, list) or len(raw) != 2:
            raise RuleProblem(f"{name}: expects [value, duration]", line)
        base = c.value(raw[0], line)
        delta = _duration(c, raw[1], line) * sign
        return Node(f"{name}[{base.key};{delta}]", "value", lambda ctx: base(ctx) + delta)

    return compile_shift


for _name, _sign, _doc in (("plus", 1, "later"), ("minus", -1, "earlier")):
    predicate(
        _name,
        role="value",
        category="time",
        summary=f"A date-time shifted {_doc} by a duration (`minutes`, `hours`, `days`; may be a setting).",
        args=(Arg("operands", "[value, duration]", "the date-time and the duration"),),
        example=f"{_name}: [createDate, {{minutes: $mapping.qualification_minutes}}]",
        shorthand="operands",
    )(_shift(_name, _sign))


def _late_text(minutes: int) -> str:
    """A delay as a reviewer reads it: "35 min late", "2 h 05 min late", "3 d 04 h 10 min late"."""
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours:02d} h {mins:02d} min late"
    if hours:
        return f"{hours} h {mins:02d} min late"
    return f"{mins} min late"


@predicate(
    "late_by",
    role="value",
    category="time",
    summary='How late `at` is after `due`, as text: "35 min late", "2 h 05 min late", "3 d 04 h 10 min late" '
    "(whole minutes, rounded up); null when either is null or `at` is not after `due`. For messages: "
    "`at: {coalesce: [firstResponseDateTime, $as_of]}` gives how overdue a missing response is.",
    args=(
        Arg("at", "value", "when it happened (a date-time)"),
        Arg("due", "value", "when it was due (a date-time)"),
    ),
    example="late_by: {at: firstResponseDateTime, due: firstResponseDueDateTime}",
)
def _late_by(c: Compiler, raw: Any, line: int) -> Node:
    args = c.args(PREDICATE_LATE_BY, raw, line)
    at = c.value(args["at"], c.line_in(raw, "at", line))
    due = c.value(args["due"], c.line_in(raw, "due", line))

    def fn(ctx: Ctx) -> pd.Series:
        n = len(ctx)
        start, end = (v if isinstance(v, pd.Series) else pd.Series([v] * n) for v in (due(ctx), at(ctx)))
        seconds = pd.to_numeric(
            (pd.to_datetime(end) - pd.to_datetime(start)).dt.total_seconds(), errors="coerce"
        )
        late = seconds.to_numpy(dtype="float64", na_value=np.nan)
        minutes = np.where(late > 0, np.ceil(late / 60), 0).astype("int64")
        # Each distinct delay is spelt once, then spread over the rows.
        distinct, codes = np.unique(minutes, return_inverse=True)
        texts = pd.array([_late_text(int(m)) if m > 0 else None for m in distinct], dtype="string")
        return pd.Series(texts.take(codes.reshape(-1)))

    return Node(f"late_by[{at.key};{due.key}]", "value", fn)


@predicate(
    "date",
    role="value",
    category="time",
    summary="The calendar day of a date-time in the tenant's time zone (`timezone`), for day-level comparisons "
    "with other `date` values. A date-only field (`dateWorked`) is its own day.",
    args=(Arg("of", "value", "a date-time"),),
    example="date: dateWorked",
    shorthand="of",
)
def _date(c: Compiler, raw: Any, line: int) -> Node:
    inner = c.value(raw["of"] if isinstance(raw, dict) and "of" in raw else raw, line)

    def fn(ctx: Ctx) -> Any:
        return _local_day(inner(ctx), ctx.env.timezone)

    return Node(f"date[{inner.key}]", "value", fn)


def _local_day(value: Any, zone: str) -> Any:
    """The local calendar day of instants, written as that day's midnight UTC: days compare as
    days whatever the offset, and no local midnight a DST change skips is ever built. A naive
    value is a day already."""
    if isinstance(value, pd.Series):
        if value.dt.tz is None:
            return value.dt.floor("D")
        return value.dt.tz_convert(zone).dt.tz_localize(None).dt.floor("D").dt.tz_localize("UTC")
    stamp = pd.Timestamp(value)
    if stamp is pd.NaT or stamp.tzinfo is None:
        return stamp.floor("D")
    return stamp.tz_convert(zone).tz_localize(None).floor("D").tz_localize("UTC")


PREDICATE_LATE_BY = PREDICATES["late_by"]
