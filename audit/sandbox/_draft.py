"""The ticket being built: every field the builder's steps and the plantings read and write.

All times are integer epoch milliseconds until they are written as text. Fields are filled in
step order (see ``_builder.build_ticket``); a field is only read by steps that run after the
one that writes it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from audit.sandbox._core import GenerationState, Shape, fmt_ms
from audit.sandbox.planting._registry import Planting, Step, registered

__all__ = ["Draft", "Entry"]


@dataclass(slots=True)
class Entry:
    """The time entry being written."""

    dur: int = 0
    start: int | None = None
    end: int | None = None
    worked: int = 0
    summary: str | None = None
    billing: int | None = None
    planted: bool = False  # the entry the ticket's time-entry planting (if any) applies to


@dataclass(slots=True)
class Draft:
    ctx: GenerationState
    s: Shape
    tid: int
    style: int  # date-time text style of this ticket (see ``fmt_ms``)
    planting: Planting | None = None
    #: Row-level failures: (rule, kind, row id, anchor ms).
    truth: list[tuple[str, str, int, int]] = field(default_factory=list)
    # priority and the Impact x Urgency matrix
    level: int = 0
    impact: str = ""
    urgency: str = ""
    impact_v: str | None = None
    urgency_v: str | None = None
    # lifecycle
    fr_win: int = 0
    res_win: int = 0
    completed: int | None = None
    resolved: int | None = None
    work_end: int = 0
    life: int = 0
    fr_due: int | None = None
    res_due: int | None = None
    first: int | None = None
    sla_id: int | None = None
    # people, company, classification
    assigned: int | None = None
    home: int = 0
    company: int | None = None
    contact: int | None = None
    source: str | None = None
    email: bool = False
    queue: str | None = None
    ttype: str | None = None
    issue_label: str = ""
    issue: int | None = None
    sub: int | None = None
    # text
    short: str = ""
    svc: str = ""
    sym: str = ""
    title: str | None = None
    desc: str | None = None
    desc_roll: float = 0.0  # the draw that picks the description's variant
    case_open: bool = False  # a vendor case is open (escalated ticket)
    vendor_case: str | None = None
    on_call: str | None = None
    # notes and children
    author: int = 0
    notes: list[dict[str, Any]] = field(default_factory=list)  # this ticket's notes
    customer_times: list[int] = field(default_factory=list)
    esc_first: int | None = None
    retex_time: int | None = None
    last_notification: int | None = None
    entry: Entry = field(default_factory=Entry)
    te_ids: list[int] = field(default_factory=list)
    att_times: list[int] = field(default_factory=list)
    assign_delay: int = 0
    resolution: str | None = None

    @classmethod
    def start(cls, ctx: GenerationState, s: Shape, tid: int) -> Draft:
        r = ctx.rng
        style = 2 if r.random() < 0.06 else 0 if r.random() < 0.6 else 1  # Z + .407 / Z + .2 or none / no Z
        planting = None if s.planting is None else registered(s.planting)
        return cls(ctx, s, tid, style, planting, level=s.level)

    @property
    def r(self) -> random.Random:
        return self.ctx.rng

    @property
    def p12(self) -> bool:
        return self.level in (1, 2)

    def step(self, at: Step, compliant: Callable[[Draft], None], *, eligible: bool = True) -> None:
        """Run step ``at``: the compliant version, and the ticket's planting if it binds here.

        ``eligible`` False keeps the planting off this run of the step (a time entry other than
        the planted one).
        """
        binding = None if self.planting is None or not eligible else self.planting.bindings.get(at)
        if binding is None or not binding.replaces:
            compliant(self)
        if binding is not None:
            binding.plant(self)

    def f(self, ms: int | None) -> str | None:
        return None if ms is None else fmt_ms(ms, self.style)

    def during(self, lo: float = 0.0, hi: float = 1.0) -> int:
        """An instant in the ticket's working life, between fractions ``lo`` and ``hi`` of it."""
        return self.s.created + int(self.r.uniform(lo, hi) * self.life)

    def note(
        self,
        t: int,
        title: str | None,
        text: str | None,
        ntype: int,
        publish: int,
        creator: int | None,
        by_contact: int | None = None,
    ) -> dict[str, Any]:
        row = {
            "id": self.ctx.next_id("note"),
            "ticketID": self.tid,
            "title": title,
            "description": text,
            "noteType": ntype,
            "publish": publish,
            "creatorResourceID": creator,
            "createdByContactID": by_contact,
            "createDateTime": self.f(t),
            "lastActivityDate": self.f(t),
        }
        self.ctx.out["TicketNotes"].append(row)
        self.notes.append(row)
        return row
