"""Synthetic Autotask tenant: realistic tickets and children, planted violations, ground truth.

``generate_tenant(seed)`` is deterministic (one seeded ``FastRandom`` drives everything, no
hash-ordered iteration) and cheap per row (integer milliseconds, cached date prefixes, no per-row
parsing): 100,000 tickets with about a million child rows generate in 15-25 s on a shared 2-core box.

How compliance is guaranteed: every ticket is first given a *shape* (priority level, open or
closed, escalated, e-mail, ...). The builder derives every field from the shape so that the
ticket passes every catalog rule under the default mapping. A planted ticket forces the shape
its planting needs (``planting.catalog.PLANTINGS``), then the builder introduces exactly that defect;
the ground truth lists the failing checks the planting declares. ``oracle.check_tenant``
re-derives them independently from the raw records, and the tests hold the two equal.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pandas as pd

from audit.sandbox._builder import build_ticket
from audit.sandbox._core import (
    DAY,
    DEFAULT_AS_OF,
    GROUND_TRUTH_COLUMNS,
    HOUR,
    MIN,
    OPEN_STATUSES,
    FastRandom,
    GenerationState,
    Shape,
    fmt_ms,
)
from audit.sandbox._mutate import mutate_tenant
from audit.sandbox._reference import BILLING_CODES, build_fields, build_people, build_udfs
from audit.sandbox.model import Tenant
from audit.sandbox.planting.catalog import PLANTINGS

__all__ = [
    "DEFAULT_AS_OF",
    "GROUND_TRUTH_COLUMNS",
    "PLANTINGS",
    "fmt_ms",
    "generate_tenant",
    "ground_truth_frame",
    "mutate_tenant",
]


# --------------------------------------------------------------------------------------- shapes
def _base_shape(ctx: GenerationState, start: int) -> Shape:
    r = ctx.rng
    span = ctx.as_of - 30 * MIN - start
    while True:
        created = start + int(r.random() * span)
        if ((created // DAY) + 3) % 7 < 5 or r.random() < 0.25:  # fewer tickets at week-ends
            break
    if r.random() < 0.25:  # whole seconds: with style 1 these print as "...T13:00:00Z"
        created -= created % 1000
    source = r.choices(
        ["Email", "Phone", "Client Portal", "Monitoring Alert", "In Person", "Other"], [45, 20, 15, 15, 3, 2]
    )[0]
    level = r.choices([1, 2, 3, 4], [3, 10, 37, 50])[0]
    age = ctx.as_of - created
    closed = r.random() < (0.95 if age > 14 * DAY else 0.75 if age > 3 * DAY else 0.45)
    escalated = r.random() < 0.09
    if closed:
        status = "Complete"
    elif age < 3 * DAY and not escalated and r.random() < (0.6 if age < DAY else 0.25):
        status = "New"
    elif escalated:
        status = r.choice(["Escalate", "In Progress", "Waiting Vendor"])
    else:
        status = r.choice(OPEN_STATUSES)
    queue = (
        "N2 - Support"
        if escalated
        else "Monitoring"
        if source == "Monitoring Alert"
        else r.choices(["N1 - Support", "Projects", "Recurring Tickets"], [90, 5, 5])[0]
    )
    open_resolution = not closed and status != "New" and r.random() < 0.2
    return Shape(created, level, closed, status, escalated, source, queue, open_resolution=open_resolution)


def _force(ctx: GenerationState, s: Shape, key: str, week_start: int) -> None:
    """Give a planted ticket the shape its planting needs, placed in the ISO week starting at
    ``week_start`` so that the planting's anchor dates land in that week."""
    r, p = ctx.rng, PLANTINGS[key]
    needs = p.needs
    s.planting, s.window, s.week_start = key, p.window in ("life", "stale"), week_start
    _force_kind(r, s, needs)
    _force_status(r, s, needs, p.window)
    if "resolved" in needs:
        s.open_resolution = True
    if p.window == "stale":  # last activity in the week and >= 5 days before as-of
        s.created = week_start - r.randint(2 * HOUR, min(5 * DAY, max(2 * HOUR, week_start - ctx.start)))
    else:
        # the planting must still fit before as-of
        latest = ctx.as_of - (3 * DAY if "aged" in needs else 30 * MIN)
        lo = week_start + (2 * DAY if "midweek" in needs else 0)
        s.created = lo + r.randint(HOUR, min(3 * DAY, max(HOUR + 1, latest - lo - DAY)))
    if s.status == "New" and ctx.as_of - s.created > 3 * DAY:
        s.status = r.choice(OPEN_STATUSES)


def _force_kind(r: random.Random, s: Shape, needs: frozenset[str]) -> None:
    """Source, priority level and escalation."""
    if "email" in needs:
        s.source = "Email"
    if "p12" in needs:
        s.level = r.choice([1, 2, 2])
    if "p34" in needs:
        s.level = r.choice([3, 4])
    if "p3" in needs:
        s.level = 3
    if "esc" in needs:
        s.escalated, s.queue = True, "N2 - Support"
    if "noesc" in needs:
        s.escalated = False
        if s.queue == "N2 - Support":
            s.queue = "N1 - Support"


def _force_status(r: random.Random, s: Shape, needs: frozenset[str], window: str) -> None:
    """Open or closed, and a status that agrees with the rest of the shape."""
    if "closed" in needs or window == "life":
        s.closed, s.status = True, "Complete"
    if "open" in needs or "vendor" in needs:
        s.closed = False
    if "vendor" in needs:
        s.status = "Waiting Vendor"
    if not s.closed and (
        s.status == "Complete" or (s.status == "New" and (s.escalated or "notnew" in needs))
    ):
        s.status = "Escalate" if s.escalated else r.choice(OPEN_STATUSES)
    if not s.escalated and s.status in ("Escalate", "Waiting Vendor"):
        s.status = "In Progress"


#: Share of the tickets that carry a planting (a minority, as on a real desk).
_PLANTED_SHARE = 0.4


def _plan(ctx: GenerationState, n: int, weeks: int) -> list[Shape]:
    r = ctx.rng
    start = ctx.start = ctx.as_of - weeks * 7 * DAY
    shapes = [_base_shape(ctx, start) for _ in range(n)]
    # The full ISO weeks of the generated span, the last full week (the reported one) first.
    week_starts = [ctx.week_start - back * 7 * DAY for back in range(max(1, weeks - 1))]
    pools: list[list[int]] = [[] for _ in week_starts]
    spare: list[int] = []  # tickets of the current (partial) week and of the span's first hours
    order = list(range(n))
    r.shuffle(order)
    for i in order:
        back = (ctx.week_start + 7 * DAY - 1 - shapes[i].created) // (7 * DAY)
        (pools[back] if 0 <= back < len(pools) else spare).append(i)
    for back, key in _weekly_plantings(ctx, int(_PLANTED_SHARE * n), [len(pool) for pool in pools]):
        # A ticket of that week when one is left (each week keeps its natural volume), else any.
        pool = pools[back] if pools[back] else max([spare, *pools], key=len)
        _force(ctx, shapes[pool.pop()], key, week_starts[back])
    shapes.sort(key=lambda s: s.created)  # ids ascend with creation, as in a live tenant
    return shapes


def _weekly_plantings(ctx: GenerationState, budget: int, week_sizes: list[int]) -> list[tuple[int, str]]:
    """Which plantings go in which week (0: the last full week, 1: the week before, ...).

    The last full week holds a planting of every catalog rule, so the reported week exercises
    the whole catalog; which variant covers a rule (companyID 0 or null, ...) is drawn. The rest
    of the budget is spread over every week by rule rate and by a drawn weekly load, so the trend
    moves from week to week as a real desk's does instead of falling off a cliff in the last week.
    """
    r = ctx.rng
    keys = list(PLANTINGS)
    r.shuffle(keys)  # ties below are broken by this drawn order: the variants vary by seed
    uncovered = {rule for p in PLANTINGS.values() for rule in p.rules}
    cover: list[str] = []
    while uncovered:  # greedy set cover: few plantings, so the week stays a plausible one
        key = max(keys, key=lambda k: len(uncovered.intersection(PLANTINGS[k].rules)))
        cover.append(key)
        uncovered.difference_update(PLANTINGS[key].rules)
    plan = [(0, key) for key in cover[:budget]]
    spread = budget - len(plan)
    if spread <= 0:
        return plan
    # Every week's load: its ticket volume times a drawn factor (a good week, a bad one); the
    # last full week already carries the catalog, a bad week's load, so it takes half its share.
    loads = [size * r.uniform(0.4, 1.6) for size in week_sizes]
    loads[0] *= 0.5
    if not any(loads):  # no ticket in any week (a tiny tenant): spread evenly
        loads = [1.0] * len(loads)
    rates = [PLANTINGS[key].rate for key in PLANTINGS]
    names = list(PLANTINGS)
    # Every planting at least once more (every rule fails on more than one ticket), then by rate.
    extra = names + r.choices(names, rates, k=max(0, spread - len(names)))
    for key in extra[:spread]:
        plan.append((r.choices(range(len(loads)), loads)[0], key))
    return plan


def ground_truth_frame(rows: list[tuple[str, str, int, int, int, bool]]) -> pd.DataFrame:
    """Ground-truth rows (rule, kind, row id, ticket id, anchor ms, needs_history) -> DataFrame."""
    frame = pd.DataFrame(rows, columns=list(GROUND_TRUTH_COLUMNS))
    frame["anchor_date"] = pd.to_datetime(frame["anchor_date"].astype("int64"), unit="ms", utc=True).astype(
        "datetime64[us, UTC]"
    )
    frame["row_id"] = frame["row_id"].astype("int64")
    frame["ticket_id"] = frame["ticket_id"].astype("int64")
    frame["needs_history"] = frame["needs_history"].astype(bool)
    return frame.sort_values(["rule_id", "row_kind", "row_id"], kind="stable").reset_index(drop=True)


def generate_tenant(
    seed: int = 7,
    *,
    tickets: int = 600,
    weeks: int = 10,
    as_of: datetime = DEFAULT_AS_OF,
    technicians: int = 24,
) -> Tenant:
    """A deterministic synthetic tenant with planted violations and their ground truth."""
    if as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)
    rng = FastRandom(seed)
    people = build_people(rng, technicians=technicians, tickets=tickets)
    ctx = GenerationState(rng, as_of, people)
    ticket_id = 41_200
    for shape in _plan(ctx, tickets, weeks):
        ticket_id += rng.randint(1, 3)
        build_ticket(ctx, shape, ticket_id)
    _project_entries(ctx, max(3, tickets // 4))
    records = {**people, **ctx.out, "DeletedTicketLogs": [], "DeletedTicketActivityLogs": []}
    return Tenant(
        seed=seed,
        as_of=as_of,
        records=records,
        fields=build_fields(),
        udfs=build_udfs(),
        zone={
            "zoneName": "Sandbox Zone",
            "url": "http://sandbox.invalid/ATServicesRest/",
            "webUrl": "http://sandbox.invalid/",
            "ci": 4242,
        },
        ground_truth=ground_truth_frame(ctx.truth),
    )


def _project_entries(ctx: GenerationState, n: int) -> None:
    """Project time entries (no ticketID): out of every rule's scope, so they may look bad."""
    r = ctx.rng
    for _ in range(n):
        start = ctx.as_of - r.randint(2 * HOUR, max(3 * HOUR, ctx.as_of - ctx.start))
        ctx.out["TimeEntries"].append(
            {
                "id": ctx.next_id("entry"),
                "ticketID": None,
                "taskID": r.randint(5000, 6000),
                "resourceID": r.choice(ctx.techs),
                "dateWorked": fmt_ms(start - start % DAY, 1),
                "startDateTime": fmt_ms(start),
                "endDateTime": None if r.random() < 0.2 else fmt_ms(start + HOUR),
                "hoursWorked": 1.0,
                "summaryNotes": r.choice(["done", "", None, "Migration wave 3 cut-over tasks"]),
                "internalNotes": "",
                "billingCodeID": r.choice([None, BILLING_CODES["Project Work"]]),
                "roleID": 29683300,
                "isNonBillable": False,
                "createDateTime": fmt_ms(start + HOUR),
                "lastModifiedDateTime": fmt_ms(start + HOUR),
            }
        )
