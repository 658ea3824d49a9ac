"""Misses measured: a seeded sample of tickets without findings, and the recall it estimates.

Precision (``audit.results.verdicts.rule_precision``) says how often a finding is right; it cannot say how
often a problem goes unnoticed. For that the QA workbook carries a *Sample* sheet: for each
workflow step, tickets of the period that the step audited and that have no finding in it,
drawn at random (seeded, so the same store, period and seed give the same rows). A reviewer
answers *Correct* or *Missed problem*; the answers come back through ``review import``.

Per step, with ``found`` the tickets that have a finding in the step (false positives
excluded), ``clean`` the tickets the step audited without a finding, and ``missed / answered``
the share of answered sample rows marked *Missed problem* (all answers recorded for the step,
a sample being a random draw of the same population every week):

    estimated missed = clean × missed / answered
    recall           = found / (found + estimated missed)

``recall`` is ``None`` until the step has an answer. The estimate is as good as the sample is
large: ``answered`` is reported next to it.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import pandas as pd

from audit.core.period import Period

__all__ = ["SAMPLE_COLUMNS", "draw_sample", "estimate_recall", "step_population"]

#: Columns of the drawn sample (the workbook's Sample sheet shows them).
SAMPLE_COLUMNS: tuple[str, ...] = ("step", "ticket_id", "ticket_number", "ticket_title", "ticket_url")
#: Steps whose rules audit notes or time entries place a ticket in the period by its last activity.
_FALLBACK_ANCHOR = "lastActivityDate"


def _text(value: Any) -> str:
    return "" if value is None or bool(pd.isna(value)) else str(value)


def _in_period(values: pd.Series, period: Period) -> pd.Series:
    when = pd.to_datetime(values, utc=True, errors="coerce")
    return (when >= pd.Timestamp(period.start_instant)) & (when < pd.Timestamp(period.end_instant))


def step_population(
    tickets: pd.DataFrame,
    findings: pd.DataFrame,
    anchors: Mapping[str, Sequence[str]],
    period: Period,
) -> dict[str, tuple[list[int], int]]:
    """Per step: (ids of the tickets audited in the period without a finding in the step, tickets with one).

    A ticket is audited by a step when one of the step's ticket anchors (``anchors[step]``, the
    anchor columns of its ticket rules) lies in the period; steps whose rules audit notes or
    time entries use the ticket's last activity. Findings marked false positive do not count.
    """
    open_ = findings
    if "false_positive" in findings.columns:
        open_ = findings[~findings["false_positive"].fillna(False).astype(bool)]
    out: dict[str, tuple[list[int], int]] = {}
    ids = pd.to_numeric(tickets["id"], errors="coerce")
    for step in sorted(anchors):
        columns = [c for c in anchors[step] if c in tickets.columns] or [_FALLBACK_ANCHOR]
        audited = pd.Series(False, index=tickets.index)
        for column in columns:
            if column in tickets.columns:
                audited |= _in_period(tickets[column], period)
        flagged = set(
            pd.to_numeric(open_.loc[open_["step"] == step, "ticket_id"], errors="coerce").dropna().astype(int)
        )
        step_ids = ids[audited].dropna().astype(int)
        clean = sorted(int(i) for i in step_ids if int(i) not in flagged)
        out[step] = (clean, len(flagged))
    return out


def draw_sample(
    tickets: pd.DataFrame,
    population: Mapping[str, tuple[list[int], int]],
    *,
    size: int,
    seed: int,
    period: Period,
    url_base: str = "",
    answered: Collection[str] = (),
) -> pd.DataFrame:
    """``size`` rows spread evenly over the steps (the first steps in order take the remainder),
    each step's rows drawn without replacement from its clean tickets; seeded by ``seed`` and
    the period, so a re-run draws the same rows. A step with fewer clean tickets gives what it has.

    Tickets already answered (``answered``: ``step|ticket_id`` keys) that are still clean keep
    their place and the draw fills the rest: the population changes between runs (a finding
    marked false positive makes its ticket clean), and a redraw would drop the rows a reviewer
    answered from the next workbook."""
    steps = [s for s in population if population[s][0]]
    rows: list[dict[str, Any]] = []
    if size > 0 and steps:
        share, extra = divmod(size, len(steps))
        by_id = tickets.assign(_id=pd.to_numeric(tickets["id"], errors="coerce")).set_index("_id")
        for index, step in enumerate(steps):
            wanted = share + (1 if index < extra else 0)
            clean = population[step][0]
            kept = [t for t in clean if f"{step}|{t}" in answered][:wanted]
            rest = [t for t in clean if f"{step}|{t}" not in answered]
            rng = random.Random(f"{seed}|{period.start.isoformat()}|{period.end.isoformat()}|{step}")
            drawn = rng.sample(rest, min(wanted - len(kept), len(rest)))
            for ticket_id in sorted(kept + drawn):
                record = by_id.loc[ticket_id] if ticket_id in by_id.index else None
                rows.append(
                    {
                        "step": step,
                        "ticket_id": str(ticket_id),
                        "ticket_number": _text(None if record is None else record.get("ticketNumber")),
                        "ticket_title": _text(None if record is None else record.get("title")),
                        "ticket_url": f"{url_base}{ticket_id}" if url_base else "",
                    }
                )
    return pd.DataFrame(rows, columns=list(SAMPLE_COLUMNS))


def estimate_recall(
    population: Mapping[str, tuple[list[int], int]],
    answers: Mapping[str, Mapping[str, Any]],
) -> dict[str, dict[str, Any]]:
    """Per step: ``found``, ``clean``, ``answered``, ``missed``, ``estimated_missed`` and ``recall``."""
    out: dict[str, dict[str, Any]] = {}
    for step, (clean, found) in sorted(population.items()):
        verdicts = [str(a.get("verdict")) for a in answers.values() if a.get("step") == step]
        answered = sum(1 for v in verdicts if v in ("correct", "missed"))
        missed = sum(1 for v in verdicts if v == "missed")
        estimated = len(clean) * missed / answered if answered else None
        recall = None
        if estimated is not None and found + estimated > 0:
            recall = round(found / (found + estimated), 4)
        elif estimated is not None:
            recall = 1.0 if not missed else 0.0
        out[step] = {
            "found": found,
            "clean": len(clean),
            "answered": answered,
            "missed": missed,
            "estimated_missed": None if estimated is None else round(estimated, 2),
            "recall": recall,
        }
    return out
