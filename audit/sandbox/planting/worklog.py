"""Plantings of step 4, work log (LOG-xx): the ticket's notes and time entries. All are placed
with their whole ticket in the week (``life``), on tickets past New."""

from __future__ import annotations

from audit.sandbox import _texts as tx
from audit.sandbox._build_notes import worklog_notes
from audit.sandbox._core import CUSTOMER, DAY, HOUR, MIN
from audit.sandbox._draft import Draft
from audit.sandbox._reference import NOTE_TYPES
from audit.sandbox.planting._registry import Step, plants


@plants("LOG-01", instead=Step.WORKLOG, needs="notnew p34 noesc", window="life")
def worklog_published(d: Draft) -> None:
    """The work log is published to the customer (jargon-free, > 40 characters): LOG-02 still
    passes (it counts any staff note) and LOG-03 passes on it."""
    worklog_notes(d, published=True)


@plants("LOG-02", instead=Step.WORKLOG, needs="notnew", window="life", rate=0.008)
def worklog_incomplete(d: Draft) -> None:
    worklog_notes(d, incomplete=True)


@plants("LOG-03", after=Step.CUSTOMER_NOTES, needs="notnew", window="life", rate=0.008, row="note")
def poor_customer_note(d: Draft) -> None:
    r = d.r
    t = d.during(0.2, 1.0)
    bad_title, bad_text = tx.bad_customer_note(r)
    row = d.note(t, bad_title, bad_text, NOTE_TYPES["Task Notes"], CUSTOMER, d.author)
    d.customer_times.append(t)
    d.truth.append(("LOG-03", "note", row["id"], t))


@plants("LOG-04", after=Step.ENTRY_TIMES, needs="notnew", window="life", row="time_entry")
def entry_times_invalid(d: Draft) -> None:
    e = d.entry
    start, end = e.start, e.end
    assert start is not None
    e.start, e.end = d.r.choice(
        [(None, end), (start, None), (None, None), (start, start), (start, start - 30 * MIN)]
    )


@plants("LOG-05", instead=Step.ENTRY_BILLING, needs="notnew", window="life", row="time_entry")
def entry_without_billing_code(d: Draft) -> None:
    d.entry.billing = None


@plants("LOG-06", instead=Step.ENTRY_SUMMARY, needs="notnew", window="life", rate=0.01, row="time_entry")
def entry_summary_poor(d: Draft) -> None:
    d.entry.summary = tx.bad_summary(d.r)


@plants("LOG-07", after=Step.ENTRY_TIMES, needs="notnew midweek", window="life", row="time_entry")
def entry_dated_outside_ticket_life(d: Draft) -> None:
    """Dated a day or two after completion (still before today and, when the planting is placed
    in a week, inside that week), else a day or two before creation."""
    r, s, e, as_of, completed = d.r, d.s, d.entry, d.ctx.as_of, d.completed
    last_day = as_of - as_of % DAY
    if s.window:
        last_day = min(last_day, s.week_start + 6 * DAY)
    late_ok = completed is not None and completed - completed % DAY + 2 * DAY <= last_day
    if late_ok and r.random() < 0.5:
        assert completed is not None
        e.worked = completed - completed % DAY + r.randint(1, 2) * DAY
    else:
        e.worked = s.created - s.created % DAY - r.randint(1, 2) * DAY
    e.start = e.worked + 9 * HOUR + r.randint(0, 6 * HOUR)
    e.end = e.start + e.dur
