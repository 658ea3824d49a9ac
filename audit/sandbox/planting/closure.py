"""Plantings of step 6, closure quality (CLO-xx)."""

from __future__ import annotations

from audit.sandbox import _texts as tx
from audit.sandbox._core import DAY, HOUR, MIN
from audit.sandbox._draft import Draft
from audit.sandbox.planting._registry import Step, binds, plants


@plants("CLO-01", instead=Step.RESOLUTION, needs="closed", window="life")
def blank_resolution(d: Draft) -> None:
    d.resolution = d.r.choice([None, "", "  ", "<p></p>"])


@plants("CLO-02", instead=Step.CUSTOMER_NOTES, needs="closed", window="life")
def no_customer_note(d: Draft) -> None:
    """No customer-visible note..."""


@binds("CLO-02", instead=Step.NOTIFICATION)
def no_notification(d: Draft) -> None:
    """... and no notification e-mail either."""
    d.last_notification = None


@plants("CLO-03", instead=Step.TIME_ENTRIES, needs="closed", window="life")
def no_time_entry(d: Draft) -> None:
    """Closed without any time entry."""


@plants("CLO-04", instead=Step.DESCRIPTION, needs="closed noesc", window="life")
def evidence_mentioned(d: Draft) -> None:
    """The description mentions a screenshot and a log file... (on a non-escalated ticket: no
    attachment on an escalated one would also fail ESC-04)"""
    d.desc = tx.EVIDENCE_DESC.format(svc=d.svc, sym=d.sym)


@binds("CLO-04", instead=Step.ATTACHMENT_TIMES)
def evidence_not_attached(d: Draft) -> None:
    """... and nothing is attached."""


@plants("CLO-05", instead=Step.WORK_END, needs="open notnew resolved", window="stale")
def resolved_left_open(d: Draft) -> None:
    """Resolved (on time: no SLA-04 cascade), left open, no activity for at least 5 days."""
    r, s = d.r, d.s
    if s.window:
        d.work_end = s.week_start + r.randint(HOUR, 2 * DAY - HOUR)
    else:
        d.work_end = s.created + r.randint(30 * MIN, d.ctx.as_of - 5 * DAY - HOUR - s.created)
