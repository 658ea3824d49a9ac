"""Compliant steps of the builder for the ticket's own fields: priority, lifecycle, SLA, people,
classification and text. Each step is a function of the :class:`Draft`; a planting bound to a
step replaces it or overwrites what it wrote (see ``planting``).

The random draws happen in a fixed order (a seed's tenant is part of the test contract): a
step draws exactly what it always drew, in the same order.
"""

from __future__ import annotations

from typing import Any

from audit.sandbox import _texts as tx
from audit.sandbox._core import CELLS, DAY, HOUR, MIN, SLA_WINDOWS
from audit.sandbox._draft import Draft
from audit.sandbox._reference import ISSUE_TYPES, SLAS
from audit.sandbox.planting._registry import Step

__all__ = [
    "ISSUE_LABELS",
    "SUBS",
    "assignee",
    "classification",
    "customer",
    "description_variant",
    "first_response",
    "lifecycle",
    "matrix",
    "routing",
    "sla",
    "spell",
    "ticket_type",
    "title",
    "udf_values",
    "vendor_case",
]

ISSUE_LABELS = list(ISSUE_TYPES)
SUBS = {label: list(subs.values()) for label, (_, subs) in ISSUE_TYPES.items()}
_SLA_VALUES = list(SLAS.values())


def spell(r: Any, value: str) -> str:
    """UDF values are matched trimmed and case-insensitive: vary the spelling a little."""
    x = r.random()
    return value if x < 0.9 else f" {value.lower()}" if x < 0.95 else f"{value.upper()} "


# ------------------------------------------------------------------ priority (QUA-06/07/09)
def matrix(d: Draft) -> None:
    d.impact, d.urgency = d.r.choice(CELLS[d.level])


def udf_values(d: Draft) -> None:
    d.impact_v = spell(d.r, d.impact)
    d.urgency_v = spell(d.r, d.urgency)


# -------------------------------------------------------------------------------- lifecycle
def resolved(d: Draft) -> None:
    """A closed ticket's resolution, within its resolution window."""
    s, r = d.s, d.r
    d.resolved = s.created + int(r.uniform(0.15, 0.9) * min(d.res_win, _closed_span(d) * 0.8))


def _closed_span(d: Draft) -> int:
    s = d.s
    span = d.ctx.as_of - 10 * MIN - s.created
    if s.window:
        span = min(span, 2 * DAY, s.week_start + 7 * DAY - 6 * HOUR - s.created)
    return span


def work_end(d: Draft) -> None:
    """Last work on an open ticket that is past New."""
    s, r, as_of = d.s, d.r, d.ctx.as_of
    if s.open_resolution:  # resolved, awaiting confirmation, recent activity (CLO-05 passes)
        d.work_end = max(s.created + 10 * MIN, as_of - r.randint(HOUR, 4 * DAY))
    else:
        d.work_end = s.created + int(r.uniform(0.2, 1.0) * (as_of - MIN - s.created))


def lifecycle(d: Draft) -> None:
    """Resolution, completion and the working life of the ticket."""
    s, r, as_of, created = d.s, d.r, d.ctx.as_of, d.s.created
    d.fr_win, d.res_win = SLA_WINDOWS[d.level]
    if s.closed:
        span = _closed_span(d)
        d.step(Step.RESOLVED, resolved)
        assert d.resolved is not None
        d.completed = d.resolved + r.randint(0, max(0, min(8 * HOUR, created + span - d.resolved)))
        d.work_end = d.completed
    else:
        if s.status == "New":
            d.work_end = created + r.randint(0, min(2 * HOUR, as_of - created - MIN))
        else:
            d.step(Step.WORK_END, work_end)
        if s.open_resolution:
            d.resolved = created + int(r.uniform(0.1, 0.9) * min(d.res_win, d.work_end - created))
    d.life = max(d.work_end - created, 0)


def first_response(d: Draft) -> None:
    s, r, as_of, created = d.s, d.r, d.ctx.as_of, d.s.created
    d.fr_due = created + d.fr_win
    d.res_due = created + d.res_win
    if not s.closed and d.resolved is None and d.res_due <= as_of:
        d.res_due = as_of + r.randint(2 * HOUR, 72 * HOUR)  # waiting statuses pause the SLA clock
    if s.status == "New" and created + d.fr_win > as_of and r.random() < 0.5:
        d.first = None  # still inside its first-response window: SLA-03 not applicable yet
    else:
        d.first = created + int(r.uniform(0.05, 0.9) * max(MIN, min(d.fr_win, d.life)))
        if d.resolved is not None:
            d.first = min(d.first, d.resolved)


def sla(d: Draft) -> None:
    r = d.r
    d.sla_id = SLAS["Premium 24x7"] if d.p12 and r.random() < 0.6 else r.choice(_SLA_VALUES)


# ---------------------------------------------------------- people, company, classification
def assignee(d: Draft) -> None:
    d.assigned = d.r.choice(d.ctx.techs)
    if d.s.status == "New" and not d.p12 and d.r.random() < 0.5:
        d.assigned = None


def customer(d: Draft) -> None:
    d.home = d.r.choice(d.ctx.companies)
    d.company = d.home
    d.contact = d.r.choice(d.ctx.contacts[d.home])


def routing(d: Draft) -> None:
    d.source, d.queue = d.s.source, d.s.queue


def ticket_type(d: Draft) -> None:
    d.ttype = (
        "Incident"
        if d.s.source == "Monitoring Alert"
        else d.r.choices(["Incident", "Service Request", "Problem"], [55, 35, 10])[0]
    )


def classification(d: Draft) -> None:
    d.issue_label = d.r.choice(ISSUE_LABELS)
    d.issue = ISSUE_TYPES[d.issue_label][0]
    d.sub = d.r.choice(SUBS[d.issue_label])


# ------------------------------------------------------------------------------------- text
def title(d: Draft) -> None:
    r, ctx = d.r, d.ctx
    if d.email:
        d.title = f"{d.short} - {d.svc} - {d.sym}"
    elif ctx.counters["formula"] < len(tx.FORMULA_TITLES):  # every formula bait at least once
        d.title = tx.FORMULA_TITLES[ctx.counters["formula"]]
        ctx.counters["formula"] += 1
    else:
        d.title = (
            r.choice(tx.FORMULA_TITLES)
            if r.random() < 0.04
            else r.choice([f"{d.svc}: {d.sym}", f"[{d.svc}] {d.sym}"])
        )


def description_variant(d: Draft) -> None:
    """Some descriptions carry an inline image; some non-e-mail tickets have none."""
    ctx = d.ctx
    if d.desc_roll < 0.02 or ctx.counters["img"] < 2:
        ctx.counters["img"] += 1
        d.desc = tx.IMG_DESC.format(svc=d.svc, sym=d.sym)
    elif not d.email and d.desc_roll < 0.1:
        d.desc = d.r.choice([None, ""])  # e-mail body rules only read e-mail tickets


def vendor_case(d: Draft) -> None:
    if d.case_open:
        d.vendor_case = f"VND-{d.r.randint(100000, 999999)}"
    else:
        d.vendor_case = d.r.choice([None, None, "", "   "])  # whitespace is blank: not escalated


def on_call(d: Draft) -> None:
    r = d.r
    d.on_call = (
        r.choice(["Yes", "yes", " TRUE", "1", "On-call"]) if d.p12 else r.choice([None, "", "No", "Yes"])
    )
