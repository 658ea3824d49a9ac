"""The extractor's request plan: what one run will ask Autotask, counted before anything is fetched.

Read ``ThresholdInformation`` (the caller), ``count()`` every planned query and estimate the
run's requests as Σ ceil(rows/500) over the queries + the chunked queries (SLA results,
back-fill, attachments, history) + the reference-data calls. The caller checks the total
against the hour's budget before anything is fetched.

What the previous snapshot says (its watermarks, coverage and row counts) comes in as plain
values: this layer never opens the store.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from audit.core.config import ExtractSettings
from audit.source.autotask import ALL_ROWS, Filter, ThresholdInfo, ZoneInfo, cond
from audit.source.schema import ENTITIES, EntitySpec

__all__ = [
    "BACKFILLED",
    "LOGS",
    "PAGE_SIZE",
    "PLANNED_FROM_SNAPSHOT",
    "REFERENCE",
    "WATERMARKED",
    "WATERMARK_MARGIN",
    "ExtractClient",
    "ExtractPlan",
    "PlannedQuery",
    "evaluated_since",
    "iso",
    "picklist_entities",
    "plan_run",
    "udf_entities",
]

log = logging.getLogger(__name__)

#: Items per page of an Autotask query (the server's maximum).
PAGE_SIZE = 500
#: Entities fetched by their own watermark.
WATERMARKED = ("Tickets", "TicketNotes", "TimeEntries", "DeletedTicketLogs", "DeletedTicketActivityLogs")
#: Deletion logs: stored as they come, never pruned with the deleted tickets.
LOGS = ("DeletedTicketLogs", "DeletedTicketActivityLogs")
#: Children re-read by ticket: back-filled for tickets entering the snapshot from before the
#: children's window, reconciled for tickets named by DeletedTicketActivityLogs.
BACKFILLED = ("TicketNotes", "TimeEntries")
#: Reference data: read in full every run and replaced whole.
REFERENCE = ("Resources", "Companies", "Contacts", "BillingCodes")
#: Entities whose row counts in the previous snapshot size the by-ticket reads.
PLANNED_FROM_SNAPSHOT = ("Tickets", *BACKFILLED, "TicketAttachments")
#: Children per ticket assumed by the plan when the store has none to measure (a first run).
_DEFAULT_CHILDREN_PER_TICKET = 1.0
#: How far past ``as_of`` (the run's start, standing for the server's "now") a watermark may go:
#: rows written while the run pages are read by the open-ended last slice. A ceiling below the
#: server's real "now" costs only a re-read next run (merging de-duplicates), never a lost row.
WATERMARK_MARGIN = timedelta(hours=1)
#: A slice of a watermark query should hold at least this many rows: each extra slice may add
#: one partly filled page, so slicing small results would cost more requests than it saves time.
_MIN_ROWS_PER_SLICE = 5_000


class ExtractClient(Protocol):
    """What the extractor needs of :class:`audit.source.autotask.AutotaskClient`."""

    @property
    def request_count(self) -> int: ...

    @property
    def zone(self) -> ZoneInfo: ...

    def threshold(self) -> ThresholdInfo: ...

    def count(self, entity: str, filters: Any, /) -> int: ...

    def query_many(
        self,
        entity: str,
        filter_sets: Sequence[Any],
        /,
        *,
        include_fields: Sequence[str] | None = None,
        planned_rows: int | None = None,
    ) -> Iterable[list[dict[str, Any]]]: ...

    def limit_requests(self, total: int | None, /) -> None: ...

    def entity_fields(self, entity: str, /) -> list[dict[str, Any]]: ...

    def entity_udfs(self, entity: str, /) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class PlannedQuery:
    """One counted query of the plan (its slices share the count)."""

    entity: str
    filters: tuple[Filter, ...]
    rows: int
    slices: tuple[tuple[Filter, ...], ...]

    @property
    def requests(self) -> int:
        # Σ ceil(rows/500) + at most one partly filled page per extra slice.
        return max(1, math.ceil(self.rows / PAGE_SIZE)) + len(self.slices) - 1


@dataclass
class ExtractPlan:
    """The request arithmetic of a run, decided before anything is fetched."""

    queries: dict[str, PlannedQuery]
    since: dict[str, datetime]
    changed_tickets_estimate: int
    backfill_estimate: int
    counts_spent: int
    reference_info_requests: int
    include_history: bool
    as_of: datetime
    #: Start of the weeks a report for ``as_of`` evaluates (see :func:`evaluated_since`).
    evaluated_since: datetime
    #: Tickets whose attachments are read (changed or active in the evaluated weeks).
    attachment_tickets_estimate: int = 0
    #: Tickets named by DeletedTicketActivityLogs (an upper bound: the log rows).
    reconcile_estimate: int = 0
    #: Rows per ticket in the previous snapshot, by child entity (for by-ticket page counts).
    children_per_ticket: Mapping[str, float] = field(default_factory=dict)

    @property
    def sla_requests(self) -> int:
        return math.ceil(self.changed_tickets_estimate / PAGE_SIZE) + 1  # +1: the range count

    def by_ticket_requests(self, entity: str, tickets: int) -> int:
        """Requests to read ``entity`` for ``tickets`` tickets in ``ticketID in`` chunks of 500:
        one per chunk, plus one per further page (at most Σ floor(rows of a chunk / 500))."""
        rows = tickets * self.children_per_ticket.get(entity, _DEFAULT_CHILDREN_PER_TICKET)
        return math.ceil(tickets / PAGE_SIZE) + math.floor(rows / PAGE_SIZE)

    @property
    def backfill_requests(self) -> int:
        """Notes and time entries of back-filled and reconciled tickets."""
        n = self.backfill_estimate + self.reconcile_estimate
        return sum(self.by_ticket_requests(child, n) for child in BACKFILLED)

    @property
    def attachment_requests(self) -> int:
        n = self.attachment_tickets_estimate + self.reconcile_estimate
        return self.by_ticket_requests("TicketAttachments", n)

    @property
    def history_requests(self) -> int:
        return self.changed_tickets_estimate if self.include_history else 0

    @property
    def total(self) -> int:
        return (
            self.counts_spent
            + self.reference_info_requests
            + sum(q.requests for q in self.queries.values())
            + self.sla_requests
            + self.backfill_requests
            + self.attachment_requests
            + self.history_requests
        )


def _since(
    entity: str, prev_watermarks: Mapping[str, datetime], settings: ExtractSettings, as_of: datetime
) -> datetime:
    previous = prev_watermarks.get(entity)
    if previous is not None and previous > as_of + WATERMARK_MARGIN:
        # Stored before watermarks had a ceiling (or --as-of went back in time): reading from
        # there would skip every change up to it. Start over as a first run does.
        log.warning(
            "the %s watermark %s is after --as-of %s: reading the last %d days again",
            entity,
            iso(previous),
            iso(as_of),
            settings.initial_days,
        )
        previous = None
    if previous is None:
        return as_of - timedelta(days=settings.initial_days)
    # The overlap re-reads rows whose watermark was written late (transactions committing
    # after our last read); re-reading is harmless because merging de-duplicates by id.
    return previous - timedelta(minutes=settings.overlap_minutes)


def _slices(
    spec: EntitySpec, since: datetime, as_of: datetime, rows: int, max_in_flight: int
) -> list[tuple[Filter, ...]]:
    """Disjoint watermark slices covering ``[since, ∞)`` so ``query_many`` can run them at once.

    The last slice is open-ended: rows changed after ``as_of`` (the server's clock runs on) are
    fetched too rather than lost between this run and the next.
    """
    assert spec.watermark is not None
    n = max(1, min(max_in_flight, rows // _MIN_ROWS_PER_SLICE))
    end = max(as_of, since + timedelta(seconds=n))
    bounds = [since + (end - since) * k / n for k in range(n)]
    out: list[tuple[Filter, ...]] = []
    for k, lower in enumerate(bounds):
        parts: list[Filter] = [cond(spec.watermark, "gte", lower)]
        if k + 1 < n:
            parts.append(cond(spec.watermark, "lt", bounds[k + 1]))
        out.append(tuple(parts))
    return out


def evaluated_since(as_of: datetime, trend_weeks: int) -> datetime:
    """The first instant of the weeks a report for ``as_of`` evaluates (its trend weeks, the
    last of them the period), less a day so a tenant's local midnight is covered too."""
    monday = (as_of - timedelta(days=as_of.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    return monday - timedelta(weeks=trend_weeks, days=1)


def _children_per_ticket(snapshot_rows: Mapping[str, int]) -> dict[str, float]:
    """Rows per ticket of each child entity in the previous snapshot (none: the default)."""
    tickets = snapshot_rows.get("Tickets", 0)
    if not tickets:
        return {}
    return {child: snapshot_rows.get(child, 0) / tickets for child in PLANNED_FROM_SNAPSHOT[1:]}


def plan_run(
    client: ExtractClient,
    settings: ExtractSettings,
    *,
    as_of: datetime,
    evaluated_since: datetime,
    watermarks: Mapping[str, datetime],
    coverage: Mapping[str, datetime],
    snapshot_rows: Mapping[str, int],
) -> ExtractPlan:
    """Count every query of the run: ``watermarks`` and ``coverage`` are the previous snapshot's,
    ``snapshot_rows`` its rows per entity of :data:`PLANNED_FROM_SNAPSHOT` (empty: none)."""
    before = client.request_count
    queries: dict[str, PlannedQuery] = {}
    since: dict[str, datetime] = {}
    for name in WATERMARKED:
        spec = ENTITIES[name]
        assert spec.watermark is not None
        since[name] = _since(name, watermarks, settings, as_of)
        filters = (cond(spec.watermark, "gte", since[name]),)
        rows = client.count(name, list(filters))
        queries[name] = PlannedQuery(
            name, filters, rows, tuple(_slices(spec, since[name], as_of, rows, settings.max_in_flight))
        )
    for name in REFERENCE:
        rows = client.count(name, [ALL_ROWS])
        queries[name] = PlannedQuery(name, (ALL_ROWS,), rows, ((ALL_ROWS,),))
    # Tickets that may need their children back-filled: in this run's window but created before
    # the children's first window. An upper bound (some may already be in the snapshot).
    first_window = min((coverage.get(c, since[c]) for c in BACKFILLED), default=since["Tickets"])
    backfill = client.count(
        "Tickets", [cond("lastActivityDate", "gte", since["Tickets"]), cond("createDate", "lt", first_window)]
    )
    # Attachments are read for the changed tickets and those active in the evaluated weeks.
    attachment_tickets = client.count(
        "Tickets", [cond("lastActivityDate", "gte", min(since["Tickets"], evaluated_since))]
    )
    return ExtractPlan(
        queries=queries,
        since=since,
        changed_tickets_estimate=queries["Tickets"].rows,
        backfill_estimate=backfill,
        counts_spent=client.request_count - before + 1,  # + the ThresholdInformation read
        reference_info_requests=len(picklist_entities()) + len(udf_entities()),
        include_history=settings.include_history,
        as_of=as_of,
        evaluated_since=evaluated_since,
        attachment_tickets_estimate=attachment_tickets,
        reconcile_estimate=queries["DeletedTicketActivityLogs"].rows,
        children_per_ticket=_children_per_ticket(snapshot_rows),
    )


def picklist_entities() -> list[str]:
    return [n for n, s in ENTITIES.items() if s.picklists]


def udf_entities() -> list[str]:
    return [n for n, s in ENTITIES.items() if s.has_udfs]


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
