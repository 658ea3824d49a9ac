"""The extractor's request plan, from plain values (no store): slices, request arithmetic, watermarks."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from audit.core.config import ExtractSettings
from audit.source.extract.plan import (
    BACKFILLED,
    PAGE_SIZE,
    REFERENCE,
    WATERMARK_MARGIN,
    WATERMARKED,
    PlannedQuery,
    evaluated_since,
    plan_run,
)

AS_OF = datetime(2026, 11, 23, 6, tzinfo=UTC)


class CountingClient:
    """Answers ``count`` with fixed row counts and counts its requests, as the API would."""

    def __init__(self, rows: dict[str, int]) -> None:
        self.rows = rows
        self.request_count = 0
        self.asked: list[tuple[str, list[Any]]] = []

    def count(self, entity: str, filters: Any, /) -> int:
        self.request_count += 1
        self.asked.append((entity, list(filters)))
        return self.rows.get(entity, 0)


def _plan(client: CountingClient, **kw: Any) -> Any:
    args: dict[str, Any] = {
        "as_of": AS_OF,
        "evaluated_since": evaluated_since(AS_OF, 4),
        "watermarks": {},
        "coverage": {},
        "snapshot_rows": {},
    }
    args.update(kw)
    return plan_run(client, ExtractSettings(max_in_flight=3), **args)  # type: ignore[arg-type]


def test_a_first_run_reads_the_initial_window_and_counts_every_query() -> None:
    client = CountingClient({"Tickets": 1200, "TicketNotes": 30_000, "Resources": 40})
    plan = _plan(client)
    settings = ExtractSettings()
    for name in WATERMARKED:
        assert plan.since[name] == AS_OF - timedelta(days=settings.initial_days)
    assert set(plan.queries) == {*WATERMARKED, *REFERENCE}
    # One count per planned query, the back-fill and attachment estimates, + ThresholdInformation.
    assert plan.counts_spent == len(WATERMARKED) + len(REFERENCE) + 2 + 1
    assert plan.queries["Tickets"].requests == math.ceil(1200 / PAGE_SIZE)
    # 30,000 notes are sliced (at most max_in_flight slices): one partly filled page per extra slice.
    notes = plan.queries["TicketNotes"]
    assert len(notes.slices) == 3
    assert notes.requests == math.ceil(30_000 / PAGE_SIZE) + 2
    assert plan.total >= sum(q.requests for q in plan.queries.values()) + plan.counts_spent


def test_watermark_slices_are_disjoint_and_the_last_is_open_ended() -> None:
    plan = _plan(CountingClient({"TicketNotes": 50_000}))
    slices = plan.queries["TicketNotes"].slices
    bounds = [{c.op: c.value for c in s} for s in slices]  # type: ignore[attr-defined]
    assert "lt" not in bounds[-1]
    for this, following in itertools.pairwise(bounds):
        assert this["lt"] == following["gte"]


def test_the_next_run_starts_at_the_watermark_less_the_overlap() -> None:
    mark = AS_OF - timedelta(days=1)
    plan = _plan(CountingClient({}), watermarks={"Tickets": mark})
    assert plan.since["Tickets"] == mark - timedelta(minutes=ExtractSettings().overlap_minutes)


def test_a_watermark_beyond_the_ceiling_is_read_again_from_the_window() -> None:
    plan = _plan(CountingClient({}), watermarks={"Tickets": AS_OF + WATERMARK_MARGIN + timedelta(days=1)})
    assert plan.since["Tickets"] == AS_OF - timedelta(days=ExtractSettings().initial_days)


def test_by_ticket_reads_are_sized_by_the_previous_snapshot_rows() -> None:
    rows = {"Tickets": 100, "TicketNotes": 1_000, "TimeEntries": 300, "TicketAttachments": 0}
    client = CountingClient({"Tickets": 10, "DeletedTicketActivityLogs": 0})
    plan = _plan(client, snapshot_rows=rows)
    assert plan.children_per_ticket == {"TicketNotes": 10.0, "TimeEntries": 3.0, "TicketAttachments": 0.0}
    # 600 tickets at 10 notes each: 2 chunks of ticket ids + one request per further page.
    assert plan.by_ticket_requests("TicketNotes", 600) == 2 + math.floor(6_000 / PAGE_SIZE)
    # Nothing to measure: one child per ticket is assumed.
    assert _plan(CountingClient({})).by_ticket_requests("TimeEntries", 600) == 2 + 1


def test_backfill_is_counted_from_the_childrens_first_window() -> None:
    first_read = AS_OF - timedelta(days=30)
    client = CountingClient({})
    _plan(client, coverage={child: first_read for child in BACKFILLED})
    backfill = [f for entity, f in client.asked if entity == "Tickets" and len(f) == 2]
    assert backfill and backfill[0][1].value == "2026-10-24T06:00:00Z"  # type: ignore[attr-defined]


def test_planned_query_requests() -> None:
    assert PlannedQuery("Tickets", (), 0, ((),)).requests == 1
    assert PlannedQuery("Tickets", (), 501, ((), ())).requests == 3


def test_evaluated_since_is_the_monday_of_the_first_trend_week_less_a_day() -> None:
    since = evaluated_since(AS_OF, 4)  # AS_OF is a Monday
    assert since == datetime(2026, 10, 25, tzinfo=UTC)
