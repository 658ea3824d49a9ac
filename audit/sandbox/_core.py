"""Shared pieces of the sandbox generator: time formatting, the ticket shape, generation state."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from audit.core.period import Period
from audit.sandbox._reference import PUBLISH

__all__ = [
    "FastRandom",
    "CELLS",
    "CUSTOMER",
    "EVIDENCE",
    "INTERNAL",
    "OPEN_STATUSES",
    "SLA_WINDOWS",
    "DAY",
    "DEFAULT_AS_OF",
    "GROUND_TRUTH_COLUMNS",
    "HOUR",
    "MIN",
    "GenerationState",
    "Shape",
    "fmt_ms",
    "to_ms",
]

#: A Monday morning: the default period (last full ISO week) is 2026-11-16 .. 2026-11-22.
DEFAULT_AS_OF = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
#: Ground-truth columns: the model's plus ``needs_history`` (fails only with TicketHistory).
GROUND_TRUTH_COLUMNS = ("rule_id", "row_kind", "row_id", "ticket_id", "anchor_date", "needs_history")

MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR
# (first-response window, resolution window) per priority level; level 0 = no level (legacy label).
SLA_WINDOWS = {
    0: (2 * HOUR, 16 * HOUR),
    1: (30 * MIN, 4 * HOUR),
    2: (HOUR, 8 * HOUR),
    3: (4 * HOUR, 2 * DAY),
    4: (8 * HOUR, 5 * DAY),
}
# Impact x Urgency cells per expected level under the default matrix.
CELLS = {
    1: [("High", "High")],
    2: [("High", "Medium"), ("Medium", "High")],
    3: [("Medium", "Medium")],
    4: [("High", "Low"), ("Medium", "Low"), ("Low", "High"), ("Low", "Medium"), ("Low", "Low")],
}
EVIDENCE = re.compile(r"(?i)\b(attach|attached|screenshot|log file)\b|\.(log|png|jpg|pdf)\b")
OPEN_STATUSES = ["In Progress", "Waiting Customer", "Waiting Materials", "Dispatched", "Waiting Approval"]
INTERNAL = [PUBLISH["Internal Project Team"], PUBLISH["Internal & Co-Managed"]]
CUSTOMER = PUBLISH["All Autotask Users"]

_minute_cache: dict[int, str] = {}


class FastRandom(random.Random):
    """``random.Random`` with cheaper ``choice``/``randint`` (one ``random()`` call each).

    The stock versions rejection-sample with ``getrandbits``; at a million calls per 100,000
    tickets that is a third of the generation time. Still fully determined by the seed.
    """

    def choice(self, seq: Any) -> Any:
        return seq[int(self.random() * len(seq))]

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))


def fmt_ms(ms: int, style: int = 0) -> str:
    """Epoch milliseconds -> API date-time text. style 0: ``.407Z``; 1: trimmed fraction
    (``.2Z``, none when whole); 2: older tenants' style, no ``Z``."""
    minute, milli = divmod(ms, MIN)  # the "YYYY-MM-DDTHH:MM:" prefix is cached per minute
    prefix = _minute_cache.get(minute)
    if prefix is None:
        day, rem = divmod(minute, 1440)
        prefix = _minute_cache[minute] = (
            f"{(date(1970, 1, 1) + timedelta(days=day)).isoformat()}T{rem // 60:02d}:{rem % 60:02d}:"
        )
    sec, milli = divmod(milli, 1000)
    text = f"{prefix}{sec:02d}"
    if style == 0:
        text += f".{milli:03d}"
    elif milli:
        text += f".{milli:03d}".rstrip("0")
    return text if style == 2 else text + "Z"


def to_ms(moment: datetime) -> int:
    return int(moment.astimezone(UTC).timestamp() * 1000)


@dataclass(slots=True)
class Shape:
    """What a ticket is, before any field is written."""

    created: int
    level: int  # 1..4, 0 = priority label without level
    closed: bool
    status: str
    escalated: bool
    source: str | None
    queue: str
    planting: str | None = None
    window: bool = False
    open_resolution: bool = False
    #: First instant (ms) of the ISO week a planting is placed in; its anchor dates land there.
    week_start: int = 0


class GenerationState:
    """Generation state: the random source, id counters, the record lists, ground truth."""

    def __init__(self, rng: random.Random, as_of: datetime, people: dict[str, list[dict[str, Any]]]) -> None:
        self.rng = rng
        self.as_of = to_ms(as_of)
        week = Period.last_full_week(as_of)
        self.week_start = to_ms(week.start_instant)
        self.week_end = to_ms(week.end_instant)
        resources = people["Resources"]
        self.techs = [r["id"] for r in resources if r["firstName"] not in ("API", "Workflow")]
        self.automation = resources[-1]["id"]
        self.companies = [c["id"] for c in people["Companies"] if c["id"] != 0]
        self.company_names = {c["id"]: c["companyName"] for c in people["Companies"]}
        self.contacts: dict[int, list[int]] = {}
        for c in people["Contacts"]:
            self.contacts.setdefault(c["companyID"], []).append(c["id"])
        self.ids = {
            "note": 3_000_000,
            "entry": 7_000_000,
            "attach": 11_000_000,
            "hist": 20_000_000,
            "sla": 900_000,
        }
        self.out: dict[str, list[dict[str, Any]]] = {
            n: []
            for n in (
                "Tickets",
                "TicketNotes",
                "TimeEntries",
                "TicketAttachments",
                "ServiceLevelAgreementResults",
                "TicketHistory",
            )
        }
        self.truth: list[tuple[str, str, int, int, int, bool]] = []
        self.start = self.as_of  # first instant of the generated weeks (set by the planner)
        self.long_notes = 0
        self.counters = {"formula": 0, "img": 0}  # adversarial content guaranteed at any size
        self.day_seq: dict[int, int] = {}

    def next_id(self, kind: str) -> int:
        self.ids[kind] += self.rng.randint(1, 3)  # gaps, like a live database
        return self.ids[kind]
