"""Past weeks do not move: the trend shows each past week as it was published.

Every finished ``run`` records its scores in the store's history (``history.jsonl``: overall,
steps, technicians, queues — see :mod:`audit.store.history`). When a later report shows a trend, each
past ISO week that a run already published keeps the published figures; recomputing it today
can differ (rules changed, late edits in Autotask, waivers), and such a week is listed in
``trends.revised`` with both values, so the report can mark it instead of silently rewriting
what managers were told.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["apply_published", "published_weeks"]

_WEEK = re.compile(r"^\d{4}-W\d{2}$")
#: A published and a recomputed score closer than this are the same (both are rounded to 0.1).
_SAME = 0.05


def published_weeks(entries: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """ISO week -> the first finished run that reported exactly that week (``entries`` oldest
    first: the history's records as :func:`audit.store.history.read_records` returns them)."""
    out: dict[str, Mapping[str, Any]] = {}
    for entry in entries:
        if (
            entry.get("kind") != "run"
            or entry.get("status") not in ("ok", "threshold")
            or entry.get("score") is None
        ):
            continue
        label = str((entry.get("period") or {}).get("label") or "")
        if _WEEK.match(label):
            out.setdefault(label, entry)
    return out


def _differs(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is not b
    return abs(float(a) - float(b)) > _SAME


def apply_published(summary: Mapping[str, Any], published: Mapping[str, Mapping[str, Any]]) -> None:
    """Replace the past weeks of ``summary['trends']`` (and the entities' previous-week scores)
    by their published values, in place; ``trends['revised']`` lists the weeks whose recomputed
    overall score differs: ``{week: {"published": x, "recomputed": y}}``."""
    trends = summary["trends"]
    current = summary["period"].get("label")
    revised: dict[str, dict[str, Any]] = {}
    weeks = list(trends["weeks"])
    for index, week in enumerate(weeks):
        entry = published.get(week)
        if week == current or entry is None:
            continue
        cell = trends["overall"][index]
        if _differs(entry.get("score"), cell.get("score")):
            revised[week] = {"published": entry.get("score"), "recomputed": cell.get("score")}
        trends["overall"][index] = {**cell, "score": entry.get("score"), "published": True}
        for section, key in (("steps", "steps"), ("technicians", "technicians"), ("queues", "queues")):
            values = entry.get(key)
            if not isinstance(values, Mapping):
                continue
            for name, series in trends[section].items():
                if name in values:
                    series[index] = values[name]
    trends["revised"] = revised
    # "Previous week" beside each score is the published previous week too.
    if len(weeks) >= 2 and weeks[-1] == current and weeks[-2] in published:
        entry = published[weeks[-2]]
        for section in ("technicians", "queues"):
            values = entry.get(section)
            if not isinstance(values, Mapping):
                continue
            for entity in summary[section]:
                if entity["key"] in values:
                    before = values[entity["key"]]
                    entity["previous_score"] = before
                    entity["delta"] = (
                        round(entity["score"] - before, 1)
                        if entity["score"] is not None and before is not None
                        else None
                    )
