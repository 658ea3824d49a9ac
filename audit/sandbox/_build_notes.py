"""Compliant steps of the builder for the ticket's notes: ESCALATION, work log, customer notes,
RETEX, and the system and customer-authored notes no rule counts as staff notes.

The ESCALATION and RETEX writers take the two defects their plantings need (``incomplete``:
a required section left blank; ``published``: the latest note shown to the customer).
"""

from __future__ import annotations

from collections.abc import Callable

from audit.sandbox import _texts as tx
from audit.sandbox._core import CUSTOMER, HOUR, INTERNAL, MIN, fmt_ms
from audit.sandbox._draft import Draft
from audit.sandbox._reference import NOTE_TYPES

__all__ = [
    "STAFF_TYPES",
    "customer_notes",
    "escalation_notes",
    "notification",
    "retex_notes",
    "system_notes",
    "worklog_notes",
]

STAFF_TYPES = [NOTE_TYPES["Task Notes"], NOTE_TYPES["Task Summary"], NOTE_TYPES["Task Detail"]]
_ESCALATION_TITLES = ["ESCALATION - N2 needed", "Escalation: vendor case", "  escalation to N2", "ESCALATION"]


def _sectioned(
    d: Draft,
    times: list[int],
    titles: list[str],
    text: Callable[[bool], str],
    *,
    double: bool,
    incomplete: bool,
    published: bool,
) -> None:
    """One or two notes with required sections; the LATEST one decides the rule, so with two
    notes an incomplete planting blanks the latest and a complete earlier one does not save it."""
    r = d.r
    for i, t in enumerate(times):
        latest = i == len(times) - 1
        missing = incomplete == latest if double else incomplete
        pub = CUSTOMER if published and latest else r.choice(INTERNAL)
        d.note(t, r.choice(titles), text(missing), r.choice(STAFF_TYPES), pub, d.author)


def escalation_notes(d: Draft, *, incomplete: bool = False, published: bool = False) -> None:
    r = d.r
    esc_first = d.esc_first = d.during(0.2, 0.6)
    double = r.random() < (0.5 if incomplete else 0.1)
    times = (
        [esc_first, esc_first + 1000 + int(r.random() * max(0, d.work_end - esc_first - 1000))]
        if double
        else [esc_first]
    )
    stamp = fmt_ms(d.s.created, 1)
    _sectioned(
        d,
        times,
        _ESCALATION_TITLES,
        lambda missing: tx.escalation_pack(r, d.svc, d.sym, stamp, missing=missing),
        double=double,
        incomplete=incomplete,
        published=published,
    )


def worklog_notes(d: Draft, *, incomplete: bool = False, published: bool = False) -> None:
    """The work log (internal unless ``published``), and the internal notes around it."""
    r, ctx = d.r, d.ctx
    internal = not published
    long = internal and not incomplete and (ctx.long_notes < 3 or r.random() < 0.002)
    ctx.long_notes += long
    d.note(
        d.during(0.3, 0.95),
        r.choice(["Work log", "Troubleshooting", "Intervention summary", "Compte rendu"]),
        tx.worklog(r, d.svc, d.sym, missing=incomplete, internal=internal, long=long),
        r.choice(STAFF_TYPES),
        r.choice(INTERNAL) if internal else CUSTOMER,
        d.author,
    )
    if internal and r.random() < 0.3:
        d.note(
            d.during(),
            "Internal",
            "Called the user back, no answer; will retry.",
            NOTE_TYPES["Task Notes"],
            r.choice(INTERNAL),
            r.choice(ctx.techs),
        )
    if d.p12 and internal and r.random() < 0.3:  # SLA-07 is off by default: harmless either way
        d.note(
            d.during(0, 0.1),
            "NOTIFIED on-call manager",
            "Manager paged at creation.",
            NOTE_TYPES["Task Notes"],
            r.choice(INTERNAL),
            d.author,
        )


def customer_notes(d: Draft) -> None:
    r = d.r
    if d.s.closed:
        count = (1 + int(r.random() < 0.3)) if r.random() < 0.85 else 0
    else:
        count = int(r.random() < 0.6)
    for _ in range(count):
        t = d.during(0.4, 1.0)
        d.customer_times.append(t)
        d.note(
            t,
            r.choice(["Update for you", "Good news", "Information", "Mise à jour"]),
            tx.customer_note(r),
            r.choice([NOTE_TYPES["Task Notes"], NOTE_TYPES["Email Note"]]),
            CUSTOMER,
            d.author,
        )


def retex_notes(d: Draft, *, incomplete: bool = False, published: bool = False) -> None:
    """The RETEX of a closed P1/P2 ticket: at completion or, now and then, in the day after."""
    r, s, as_of, completed = d.r, d.s, d.ctx.as_of, d.completed
    assert completed is not None
    after = not s.window and r.random() < 0.5 and as_of - completed > 2 * MIN
    retex_time = d.retex_time = (
        completed + r.randint(MIN, min(18 * HOUR, as_of - completed - MIN)) if after else d.during(0.5, 1.0)
    )
    double = r.random() < (0.5 if incomplete else 0.1)
    times = [d.during(0.3, 0.45), retex_time] if double else [retex_time]
    _sectioned(
        d,
        times,
        ["RETEX - outage", "retex: post-mortem", " RETEX"],
        lambda missing: tx.retex(r, d.svc, missing=missing),
        double=double,
        incomplete=incomplete,
        published=published,
    )


def system_notes(d: Draft) -> None:
    """Workflow, RMM and customer-authored notes: never staff notes, whatever they say."""
    r, ctx, s = d.r, d.ctx, d.s
    if r.random() < 0.4:
        wf_title = (
            "Escalation rule: SLA warning"
            if r.random() < 0.1
            else "RETEX reminder"
            if d.p12
            else "Workflow: routed to queue"
        )
        d.note(
            d.during(0, 0.2),
            wf_title,
            "Automatic notification.",
            NOTE_TYPES["Workflow Rule Note"],
            r.choice([CUSTOMER, *INTERNAL]),
            r.choice([ctx.automation, None]),
        )
    if s.source == "Monitoring Alert" and r.random() < 0.5:
        d.note(d.during(0, 0.1), "Alert", "RDP port down", NOTE_TYPES["RMM"], CUSTOMER, ctx.automation)
    if d.contact is not None and r.random() < 0.1:
        d.note(
            d.during(), "Re: your ticket", "thx", NOTE_TYPES["Client Portal Note"], CUSTOMER, None, d.contact
        )


def notification(d: Draft) -> None:
    """The last customer notification: the latest customer note or, on a closed ticket without
    one, the notification e-mail sent at resolution (it counts for CLO-02)."""
    d.last_notification = max(d.customer_times) if d.customer_times else None
    if d.s.closed and not d.customer_times:
        d.last_notification = d.during(0.5, 1.0)
