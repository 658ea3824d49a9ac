"""Plantings of step 3, SLA (SLA-xx). SLA-07 is off by default: nothing is planted for it."""

from __future__ import annotations

from audit.sandbox._core import HOUR, MIN
from audit.sandbox._draft import Draft
from audit.sandbox.planting._registry import Step, plants


@plants("SLA-01", after=Step.SLA)
def no_sla(d: Draft) -> None:
    """The due dates go too (no SLA, no clock): SLA-02 is out of scope, SLA-03/04 not applicable."""
    d.sla_id = d.fr_due = d.res_due = None


@plants("SLA-02", after=Step.SLA)
def missing_due_date(d: Draft) -> None:
    if d.r.random() < 0.5:
        d.fr_due = None
    else:
        d.res_due = None


@plants("SLA-03", after=Step.FIRST_RESPONSE, needs="closed aged", rate=0.01)
def late_first_response(d: Draft) -> None:
    d.first = d.s.created + d.fr_win + d.r.randint(5 * MIN, 3 * HOUR)
    if d.resolved is not None and d.completed is not None and d.resolved < d.first:
        d.resolved = d.first + MIN
        d.completed = d.work_end = max(d.completed, d.resolved)


@plants("SLA-04", instead=Step.RESOLVED, needs="closed p3 aged", rate=0.01)
def late_resolution(d: Draft) -> None:
    d.resolved = d.s.created + d.res_win + d.r.randint(10 * MIN, 6 * HOUR)


@plants("SLA-05", after=Step.ASSIGNEE, needs="p12")
def unassigned(d: Draft) -> None:
    """Fails with or without history, once (needs_history False)."""
    d.assigned = None


@plants("SLA-05h", instead=Step.ASSIGNMENT_DELAY, needs="p12")
def assigned_late(d: Draft) -> None:
    """Assigned 20-90 minutes after creation: fails only with history."""
    d.assign_delay = d.r.randint(20 * MIN, 90 * MIN)


@plants("SLA-06", after=Step.ON_CALL, needs="p12")
def on_call_not_set(d: Draft) -> None:
    d.on_call = d.r.choice([None, "", "No", "false", "  "])
