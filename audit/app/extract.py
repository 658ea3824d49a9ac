"""The extractor: Autotask -> the snapshot store, incrementally, within the request budget.

One run (:func:`extract`):

1. **Plan.** Read ``ThresholdInformation``; ``count()`` every planned query; estimate the run's
   requests as Σ ceil(rows/500) over the queries + the chunked queries (SLA results, back-fill,
   history) + the reference-data calls; refuse with :class:`BudgetExceededError` when that does
   not fit ``budget_share`` of what is left of the hour. Nothing is written before this passes.
2. **Fetch** (independent entities in parallel; each entity's query split into up to
   ``max_in_flight`` disjoint watermark slices run with ``query_many``):

   * reference data (Resources, Companies, Contacts, BillingCodes, picklists, UDF definitions)
     in full;
   * Tickets, TicketNotes, TimeEntries, DeletedTicketLogs, DeletedTicketActivityLogs by their
     watermark from ``watermark - overlap`` (first run: ``as_of - initial_days``);
   * then, for the tickets that changed: ServiceLevelAgreementResults (no watermark) by
     ``ticketID in [...]`` chunks of 500 — or one ``ticketID gte min`` range when that is fewer
     pages; TicketAttachments (metadata only) by ``ticketID in [...]`` chunks of 500 for every
     ticket whose rules can still change — the changed tickets and those active since the
     first of the evaluated weeks (the report's trend weeks before ``as_of``): since Autotask
     2021.1 an attachment query must name its tickets, so attachments have no watermark and
     a ticket's set is replaced whole (a deleted attachment disappears);
     the notes and time entries of every ticket named by DeletedTicketActivityLogs (a child was
     deleted; the log does not say which row) and of tickets that enter the snapshot but were
     created before the children's first window (back-fill), by ``ticketID in`` chunks,
     replacing what the snapshot held for those tickets; and, optionally, TicketHistory (one
     request per ticket: the API's rule; budgeted).
3. **Merge** into the previous snapshot: concat, de-duplicate by id (last write wins), drop
   deleted tickets with every child row, re-type with the schema's dtypes.
4. **Publish** atomically with the new watermarks: the maximum watermark value seen, never the
   local clock (the server's clock decides what "changed since" means), but never beyond
   ``as_of`` + :data:`WATERMARK_MARGIN` — one row dated in the future (a 2099 date typed by
   hand) would otherwise move the watermark past every later change. Such rows are still
   stored; each is logged once (the store remembers them).

A run that fails or is interrupted anywhere discards its staging folder: the previous snapshot
and its watermarks stay, so the next run fetches the same window again and completes the work.
A previous snapshot that cannot be read is healed first (:meth:`Store.recover`): the run falls
back to the last good snapshot kept, or extracts in full as on a first run.
"""

from __future__ import annotations

import contextlib
import logging
import math
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import pandas as pd
from tqdm import tqdm

from audit.core.config import Config, ExtractSettings, ReportSettings, load_config
from audit.core.period import parse_as_of
from audit.source.autotask import (
    ALL_ROWS,
    AutotaskClient,
    Filter,
    ThresholdInfo,
    ZoneInfo,
    check_budget,
    chunk_in,
    cond,
)
from audit.source.records import records_to_frame
from audit.source.schema import ENTITIES, UDF_PREFIX, EntitySpec
from audit.store.snapshot import StagingRun, Store, picklists_frame, udfs_frame

__all__ = [
    "PAGE_SIZE",
    "ExtractClient",
    "ExtractPlan",
    "ExtractReport",
    "PlannedQuery",
    "WATERMARK_MARGIN",
    "extract",
    "run_extract",
]

log = logging.getLogger("audit.app.extract")

#: Items per page of an Autotask query (the server's maximum).
PAGE_SIZE = 500
#: Entities fetched by their own watermark.
_WATERMARKED = ("Tickets", "TicketNotes", "TimeEntries", "DeletedTicketLogs", "DeletedTicketActivityLogs")
#: Deletion logs: stored as they come, never pruned with the deleted tickets.
_LOGS = ("DeletedTicketLogs", "DeletedTicketActivityLogs")
#: Children re-read by ticket: back-filled for tickets entering the snapshot from before the
#: children's window, reconciled for tickets named by DeletedTicketActivityLogs.
_BACKFILLED = ("TicketNotes", "TimeEntries")
#: Children per ticket assumed by the plan when the store has none to measure (a first run).
_DEFAULT_CHILDREN_PER_TICKET = 1.0
#: How far past ``as_of`` (the run's start, standing for the server's "now") a watermark may go:
#: rows written while the run pages are read by the open-ended last slice. A ceiling below the
#: server's real "now" costs only a re-read next run (merging de-duplicates), never a lost row.
WATERMARK_MARGIN = timedelta(hours=1)
#: Every entity whose rows hang under a ticket (removed with a deleted ticket).
_CHILDREN = tuple(n for n, s in ENTITIES.items() if s.child_of_ticket)
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
    #: Start of the weeks a report for ``as_of`` evaluates (see :func:`_evaluated_since`).
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
        return sum(self.by_ticket_requests(child, n) for child in _BACKFILLED)

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


@dataclass(frozen=True)
class ExtractReport:
    """What a run did."""

    run_id: str
    as_of: datetime
    fetched: dict[str, int]  # rows fetched per entity (before merge)
    stored: dict[str, int]  # rows per entity in the published snapshot
    requests: int  # API requests this run spent (counts, info and queries)
    planned_requests: int
    deleted_tickets: int
    duration_seconds: float
    first_run: bool = False
    notes: list[str] = field(default_factory=list)
    #: Entities read by ``ticketID in [...]`` -> how many tickets they were read for.
    by_ticket: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(self.fetched.values())

    def summary(self) -> str:
        """One line for the terminal."""
        return (
            f"extracted {self.rows} rows ({', '.join(f'{k} {v}' for k, v in self.fetched.items() if v) or 'no changes'}) "
            f"in {self.requests} requests (planned {self.planned_requests}), "
            f"{self.deleted_tickets} deleted ticket(s) removed, {self.duration_seconds:.1f}s; snapshot {self.run_id}"
        )


# ------------------------------------------------------------------------------ progress


class _Progress:
    """tqdm bars on a terminal; otherwise one structured log line per finished entity."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bars: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._position = 0

    def start(self, entity: str, total: int | None) -> None:
        if not self.enabled:
            return

        with self._lock:
            self._bars[entity] = tqdm(
                total=total,
                desc=f"{entity:<28}",
                unit="rows",
                position=self._position,
                leave=True,
                file=sys.stderr,
                dynamic_ncols=True,
            )
            self._position += 1

    def advance(self, entity: str, rows: int) -> None:
        bar = self._bars.get(entity)
        if bar is not None:
            with self._lock:
                bar.update(rows)

    def done(self, entity: str, rows: int, requests: int | None, seconds: float) -> None:
        bar = self._bars.pop(entity, None)
        if bar is not None:
            with self._lock:
                bar.close()
        log.info(
            "extract entity=%s rows=%d%s seconds=%.2f",
            entity,
            rows,
            "" if requests is None else f" requests={requests}",
            seconds,
        )

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()


# ---------------------------------------------------------------------------------- plan


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
            _iso(previous),
            _iso(as_of),
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


def _evaluated_since(as_of: datetime, trend_weeks: int) -> datetime:
    """The first instant of the weeks a report for ``as_of`` evaluates (its trend weeks, the
    last of them the period), less a day so a tenant's local midnight is covered too."""
    monday = (as_of - timedelta(days=as_of.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    return monday - timedelta(weeks=trend_weeks, days=1)


def _children_per_ticket(store: Store) -> dict[str, float]:
    """Rows per ticket of each child entity in the previous snapshot (none: the default)."""
    tickets = store.rows("Tickets") if store.exists() else 0
    if not tickets:
        return {}
    return {child: store.rows(child) / tickets for child in (*_BACKFILLED, "TicketAttachments")}


def _plan(
    client: ExtractClient, store: Store, settings: ExtractSettings, as_of: datetime, evaluated_since: datetime
) -> ExtractPlan:
    prev = store.state
    before = client.request_count
    queries: dict[str, PlannedQuery] = {}
    since: dict[str, datetime] = {}
    for name in _WATERMARKED:
        spec = ENTITIES[name]
        assert spec.watermark is not None
        since[name] = _since(name, prev.watermarks, settings, as_of)
        filters = (cond(spec.watermark, "gte", since[name]),)
        rows = client.count(name, list(filters))
        queries[name] = PlannedQuery(
            name, filters, rows, tuple(_slices(spec, since[name], as_of, rows, settings.max_in_flight))
        )
    for name in ("Resources", "Companies", "Contacts", "BillingCodes"):
        rows = client.count(name, [ALL_ROWS])
        queries[name] = PlannedQuery(name, (ALL_ROWS,), rows, ((ALL_ROWS,),))
    # Tickets that may need their children back-filled: in this run's window but created before
    # the children's first window. An upper bound (some may already be in the snapshot).
    coverage = min((prev.coverage.get(c, since[c]) for c in _BACKFILLED), default=since["Tickets"])
    backfill = client.count(
        "Tickets", [cond("lastActivityDate", "gte", since["Tickets"]), cond("createDate", "lt", coverage)]
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
        reference_info_requests=len(_picklist_entities()) + len(_udf_entities()),
        include_history=settings.include_history,
        as_of=as_of,
        evaluated_since=evaluated_since,
        attachment_tickets_estimate=attachment_tickets,
        reconcile_estimate=queries["DeletedTicketActivityLogs"].rows,
        children_per_ticket=_children_per_ticket(store),
    )


def _picklist_entities() -> list[str]:
    return [n for n, s in ENTITIES.items() if s.picklists]


def _udf_entities() -> list[str]:
    return [n for n, s in ENTITIES.items() if s.has_udfs]


# --------------------------------------------------------------------------------- fetch


class _Cancelled(Exception):
    """A fetch stopped because the run is failing anyway (never surfaces: the cause does)."""


def _gather(futures: Mapping[str, Future[Any]], cancel: threading.Event) -> dict[str, Any]:
    """Results by key; the first failure cancels the others and is raised at once."""
    done, _ = wait(list(futures.values()), return_when=FIRST_EXCEPTION)
    failed = [f for f in done if f.exception() is not None and not isinstance(f.exception(), _Cancelled)]
    if failed:
        cancel.set()
        raise failed[0].exception()  # type: ignore[misc]
    return {key: f.result() for key, f in futures.items()}


class _Fetcher:
    """Runs queries and turns their pages into typed frames."""

    def __init__(
        self, client: ExtractClient, progress: _Progress, udf_names: Mapping[str, Sequence[str]]
    ) -> None:
        self.client = client
        self.progress = progress
        self.udf_names = udf_names
        self.fetched: dict[str, int] = {}
        self._lock = threading.Lock()
        #: Set when the run fails or is interrupted: other fetches stop after their current page
        #: instead of finishing their whole entity before the error can surface.
        self.cancelled = threading.Event()

    def items(
        self, entity: str, filters_list: Sequence[Sequence[Filter]], planned_rows: int | None = None
    ) -> list[dict[str, Any]]:
        if not filters_list:
            return []
        spec = ENTITIES[entity]
        out: list[dict[str, Any]] = []
        # With IncludeFields the API answers ``userDefinedFields: []``: entities with UDFs are
        # asked for every field (records_to_frame keeps only the schema's).
        include = None if spec.has_udfs else spec.include_fields
        # The plan's count bounds the pages: a server paging on and on is stopped, not followed.
        pages = self.client.query_many(
            entity, [list(f) for f in filters_list], include_fields=include, planned_rows=planned_rows
        )
        for page in pages:
            if self.cancelled.is_set():
                # Leaving the loop closes query_many, which stops its workers.
                raise _Cancelled(entity)
            out.extend(page)
            self.progress.advance(entity, len(page))
        with self._lock:
            self.fetched[entity] = self.fetched.get(entity, 0) + len(out)
        return out

    def frame(self, entity: str, items: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
        spec = ENTITIES[entity]
        frame = records_to_frame(spec, items, self.udf_names.get(entity, ()))
        # Overlapping pages (a row that moved while we paged) appear twice: keep the last.
        return frame.drop_duplicates(spec.key, keep="last").reset_index(drop=True)

    def fetch(
        self,
        entity: str,
        filters_list: Sequence[Sequence[Filter]],
        total: int | None = None,
        planned_rows: int | None = None,
    ) -> pd.DataFrame:
        started, before = time.monotonic(), self.client.request_count
        self.progress.start(entity, total)
        frame = self.frame(entity, self.items(entity, filters_list, planned_rows))
        # request_count is shared by concurrent fetches: per-entity numbers are indicative.
        self.progress.done(entity, len(frame), self.client.request_count - before, time.monotonic() - started)
        return frame


def _ticket_chunks(ids: Iterable[int]) -> list[list[Filter]]:
    """``ticketID in [...]`` filters of at most 500 ids (the API's OR limit), in id order."""
    return [list(f) for f in chunk_in("ticketID", sorted({int(i) for i in ids}))]


def _owned_by(frame: pd.DataFrame, tickets: set[int]) -> pd.Series:
    """Rows of ``frame`` whose ``ticketID`` is one of ``tickets`` (a ticket's attachments
    include its notes' and time entries': Autotask gives them the ticket's ``ticketID``)."""
    if "ticketID" not in frame.columns:
        return pd.Series(False, index=frame.index)
    return frame["ticketID"].isin(tickets).fillna(False).astype(bool)


# --------------------------------------------------------------------------------- merge


def _align(frame: pd.DataFrame, spec: EntitySpec, udf_cols: Sequence[str]) -> pd.DataFrame:
    """Columns in the order records_to_frame gives them: fields, then sorted UDF columns."""
    for col in udf_cols:
        if col not in frame.columns:
            frame = frame.assign(**{col: pd.Series([None] * len(frame), dtype="string", index=frame.index)})
    return frame[[*spec.fields, *udf_cols]]


def _merge(
    spec: EntitySpec,
    previous: pd.DataFrame,
    new: pd.DataFrame,
    *,
    replace_tickets: Iterable[int] = (),
    deleted_tickets: Iterable[int] = (),
) -> pd.DataFrame:
    """previous ∪ new, last write wins by id; rows of ``replace_tickets`` come only from ``new``
    (a full refresh for those tickets: rows gone from the server disappear); rows of deleted
    tickets are dropped."""
    udf_cols = sorted({c for c in (*previous.columns, *new.columns) if c.startswith(UDF_PREFIX)})
    previous, new = _align(previous, spec, udf_cols), _align(new, spec, udf_cols)
    replace = set(replace_tickets)
    if replace:
        previous = previous[~_owned_by(previous, replace)]
    parts = [p for p in (previous, new) if len(p)]
    if not parts:
        return new.reset_index(drop=True)
    merged = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    merged = merged.drop_duplicates(spec.key, keep="last")
    gone = set(deleted_tickets)
    if gone:
        if spec.name == "Tickets":
            merged = merged[~merged["id"].isin(gone).fillna(False)]
        else:
            merged = merged[~_owned_by(merged, gone)]
    merged = merged.sort_values(spec.key, kind="stable").reset_index(drop=True)
    dtypes = {c: new[c].dtype for c in merged.columns}
    return merged.astype(dtypes)


def _watermark(
    entity: str,
    frame: pd.DataFrame,
    column: str,
    previous: datetime | None,
    ceiling: datetime,
    reported: Iterable[int] = (),
) -> tuple[datetime | None, list[int]]:
    """The entity's new watermark — the latest value seen, but none after ``ceiling`` — and the
    ids of the rows dated after it (logged here unless ``reported`` by an earlier run)."""
    values = frame[column]
    beyond = (values > pd.Timestamp(ceiling)).fillna(False).astype(bool)
    future = sorted(int(i) for i in frame.loc[beyond, "id"].dropna())
    fresh = sorted(set(future) - set(reported))
    if fresh:
        log.warning(
            "%d %s row(s) dated after %s (%s %s; ids %s): stored, but kept out of the watermark "
            "so later changes are still read; correct the date in Autotask",
            len(fresh),
            entity,
            _iso(ceiling),
            column,
            _iso(values[beyond].max().to_pydatetime()),
            ", ".join(map(str, fresh[:10])) + (" ..." if len(fresh) > 10 else ""),
        )
    plausible = values[~beyond].dropna()
    latest = None if plausible.empty else plausible.max().to_pydatetime()
    if previous is not None and previous > ceiling:
        previous = None  # a watermark stored beyond the ceiling (see _since): superseded
    if latest is None or previous is None:
        return latest or previous, future
    return max(previous, latest), future


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# ------------------------------------------------------------------------------ extract


def extract(
    client: ExtractClient,
    store: Store,
    config: Config | ExtractSettings | None = None,
    *,
    as_of: datetime,
    progress: bool | None = None,
    lock: bool = True,
    check_picklists: Callable[[pd.DataFrame], object] | None = None,
) -> ExtractReport:
    """Extract the tenant behind ``client`` into ``store`` (see the module docstring).

    ``lock=False`` when the caller already holds ``store.lock()`` (the nightly job holds it
    across extract, evaluate and report). ``check_picklists`` is called with the tenant's
    picklists (the ``_picklists`` frame) as soon as they are fetched, before the big queries:
    an error it raises (a mapping label the tenant lacks) stops the run early.

    Raises :class:`~audit.core.errors.BudgetExceededError` before fetching when the plan does not fit,
    :class:`~audit.core.errors.ApiError` when a request fails after its retries (the previous snapshot
    stays untouched), :class:`~audit.core.errors.StoreLockedError` when another run holds the store.
    """
    settings = config.extract if isinstance(config, Config) else config or ExtractSettings()
    as_of = as_of.astimezone(UTC) if as_of.tzinfo else as_of.replace(tzinfo=UTC)
    started_at, started = datetime.now(UTC), time.monotonic()
    start_requests = client.request_count
    show = sys.stderr.isatty() if progress is None else progress
    bars = _Progress(show)
    with store.lock() if lock else contextlib.nullcontext():
        # An unreadable previous snapshot: fall back to the last good one, or extract in full.
        recovered = store.recover()
        prev_state = store.state
        first_run = not store.exists()
        threshold = client.threshold()
        trend_weeks = (config.report if isinstance(config, Config) else ReportSettings()).trend_weeks
        plan = _plan(client, store, settings, as_of, _evaluated_since(as_of, trend_weeks))
        allowed = check_budget(plan.total, threshold, settings.budget_share)
        # What was granted is what may be spent: retries and unplanned pages included.
        client.limit_requests(start_requests + allowed)
        log.info(
            "extract plan requests=%d remaining=%d share=%.2f first_run=%s",
            plan.total,
            threshold.remaining,
            settings.budget_share,
            first_run,
        )
        try:
            with store.begin(started=started_at) as run:
                report = _run(client, store, run, plan, settings, bars, check_picklists)
                fetched, stored, deleted, notes, by_ticket = report
                spent = client.request_count - start_requests
                run.publish(as_of=as_of, fetched=fetched, requests=spent, deleted_tickets=deleted)
        except BaseException as exc:
            log.warning(
                "extract stopped (%s); the previous snapshot %s is kept and the next run redoes this one",
                type(exc).__name__,
                prev_state.run_id or "(none)",
            )
            raise
        finally:
            bars.close()
    result = ExtractReport(
        run_id=run.run_id,
        as_of=as_of,
        fetched=fetched,
        stored=stored,
        requests=client.request_count - start_requests,
        planned_requests=plan.total,
        deleted_tickets=deleted,
        duration_seconds=time.monotonic() - started,
        first_run=first_run,
        notes=notes if recovered is None else [recovered, *notes],
        by_ticket=by_ticket,
    )
    log.info(
        "extract done run=%s rows=%d requests=%d planned=%d deleted=%d seconds=%.2f previous=%s",
        result.run_id,
        result.rows,
        result.requests,
        result.planned_requests,
        deleted,
        result.duration_seconds,
        prev_state.run_id,
    )
    return result


def _run(
    client: ExtractClient,
    store: Store,
    run: StagingRun,
    plan: ExtractPlan,
    settings: ExtractSettings,
    bars: _Progress,
    check_picklists: Callable[[pd.DataFrame], object] | None = None,
) -> tuple[dict[str, int], dict[str, int], int, list[str], dict[str, int]]:
    notes: list[str] = []
    prev = store.state
    workers = max(2, min(8, len(plan.queries)))
    fetcher = _Fetcher(client, bars, {})
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="extract") as pool:
        try:
            # Reference information first (UDF names fix the Tickets frame's columns).
            fields_f = {e: pool.submit(client.entity_fields, e) for e in _picklist_entities()}
            udfs_f = {e: pool.submit(client.entity_udfs, e) for e in _udf_entities()}
            udf_defs = _gather(udfs_f, fetcher.cancelled)
            fetcher.udf_names = {e: sorted(str(u.get("name")) for u in defs) for e, defs in udf_defs.items()}
            if check_picklists is not None:
                check_picklists(picklists_frame(_gather(fields_f, fetcher.cancelled)))

            # Big entities first so the pool's threads are busy with them from the start. A query
            # counted empty is not run: a row arriving since leaves the watermark where it was,
            # so the next run reads it.
            order = sorted(plan.queries.values(), key=lambda q: -q.rows)
            frames_f: dict[str, Future[pd.DataFrame]] = {
                q.entity: pool.submit(fetcher.fetch, q.entity, q.slices if q.rows else (), q.rows, q.rows)
                for q in order
            }
            frames: dict[str, pd.DataFrame] = _gather(frames_f, fetcher.cancelled)
            fields = _gather(fields_f, fetcher.cancelled)

            tickets_new = frames["Tickets"]
            deleted = set(int(i) for i in frames["DeletedTicketLogs"]["ticketID"].dropna())
            previous_tickets = store.read("Tickets")
            changed = set(int(i) for i in tickets_new["id"].dropna()) - deleted
            known = set(int(i) for i in previous_tickets["id"].dropna())

            # A note, time entry or attachment of these tickets was deleted (the log does not
            # say which row): their children are read again in full and replace the snapshot's.
            # Only tickets already stored can hold a stale child; this run's reads are current.
            named = set(int(i) for i in frames["DeletedTicketActivityLogs"]["ticketID"].dropna())
            reconcile = (named & known) - deleted

            # Tickets entering the snapshot from before the children's first window: fetch
            # their children by ticket (chunks of 500) so none is audited without its notes.
            by_ticket: dict[str, set[int]] = {}
            backfilled: set[int] = set()
            for child in _BACKFILLED:
                coverage = prev.coverage.get(child, plan.since[child])
                entering = tickets_new[
                    ~tickets_new["id"].isin(known) & (tickets_new["createDate"] < pd.Timestamp(coverage))
                ]
                ids = set(int(i) for i in entering["id"].dropna()) - deleted
                backfilled |= ids
                if ids | reconcile:
                    by_ticket[child] = ids | reconcile
            # Attachments of every ticket whose rules can still change (see the module docstring).
            active = previous_tickets[
                previous_tickets["lastActivityDate"] >= pd.Timestamp(plan.evaluated_since)
            ]
            by_ticket["TicketAttachments"] = (
                changed | reconcile | set(int(i) for i in active["id"].dropna())
            ) - deleted
            later: dict[str, Future[pd.DataFrame]] = {
                child: pool.submit(fetcher.fetch, child, _ticket_chunks(ids), None)
                for child, ids in by_ticket.items()
            }
            later["ServiceLevelAgreementResults"] = pool.submit(_fetch_sla, client, fetcher, changed)
            if settings.include_history:
                later["TicketHistory"] = pool.submit(_fetch_history, fetcher, changed)
            results = _gather(later, fetcher.cancelled)
        except BaseException:
            fetcher.cancelled.set()  # Ctrl-C or a failure: stop the other fetches promptly
            raise
    sla = results["ServiceLevelAgreementResults"]
    history = results.get("TicketHistory")
    if backfilled:
        notes.append(f"back-filled children of {len(backfilled)} ticket(s)")
    if reconcile:
        notes.append(
            f"re-read the children of {len(reconcile)} ticket(s) with deleted notes, time entries or attachments"
        )

    stored: dict[str, int] = {}

    def put(entity: str, frame: pd.DataFrame) -> None:
        run.write(entity, frame)
        stored[entity] = len(frame)

    for name in ("Resources", "Companies", "Contacts", "BillingCodes"):
        put(name, frames[name])  # reference data: replaced in full
    ceiling = plan.as_of + WATERMARK_MARGIN
    for name in _WATERMARKED:
        spec = ENTITIES[name]
        new = frames[name]
        if name in by_ticket:
            new = _merge(spec, results[name], new)
        previous = previous_tickets if name == "Tickets" else store.read(name)
        put(
            name,
            _merge(
                spec,
                previous,
                new,
                replace_tickets=by_ticket.get(name, ()),
                deleted_tickets=() if name in _LOGS else deleted,
            ),
        )
        assert spec.watermark is not None
        watermark, future = _watermark(
            name,
            frames[name],
            spec.watermark,
            prev.watermarks.get(name),
            ceiling,
            prev.future_rows.get(name, ()),
        )
        run.set_watermark(name, watermark)
        run.set_future_rows(name, future)
        if name in _BACKFILLED and name not in prev.coverage:
            run.set_coverage(name, plan.since[name])
    attach_spec = ENTITIES["TicketAttachments"]
    put(
        attach_spec.name,
        _merge(
            attach_spec,
            store.read(attach_spec.name),
            results[attach_spec.name],
            replace_tickets=by_ticket[attach_spec.name],
            deleted_tickets=deleted,
        ),
    )
    sla_spec = ENTITIES["ServiceLevelAgreementResults"]
    put(
        sla_spec.name,
        _merge(sla_spec, store.read(sla_spec.name), sla, replace_tickets=changed, deleted_tickets=deleted),
    )
    hist_spec = ENTITIES["TicketHistory"]
    if history is not None:
        put(
            hist_spec.name,
            _merge(
                hist_spec,
                store.read(hist_spec.name),
                history,
                replace_tickets=changed,
                deleted_tickets=deleted,
            ),
        )
    elif deleted:  # not refreshed this run, but a deleted ticket's history goes with it
        put(
            hist_spec.name,
            _merge(
                hist_spec,
                store.read(hist_spec.name),
                fetcher.frame(hist_spec.name, []),
                deleted_tickets=deleted,
            ),
        )
    run.write_picklists(picklists_frame(fields))
    run.write_udfs(udfs_frame(udf_defs))
    zone = client.zone
    run.set_zone(zone.zone_name or None, zone.web_url)
    fetched = dict(sorted(fetcher.fetched.items()))
    # Logs re-read in the overlap window name tickets already gone: count only real removals.
    asked = {entity: len(ids) for entity, ids in sorted(by_ticket.items())}
    return fetched, stored, len(deleted & known), notes, asked


def _fetch_sla(client: ExtractClient, fetcher: _Fetcher, changed: set[int]) -> pd.DataFrame:
    """SLA results of the changed tickets (the entity has no watermark).

    ``ticketID in`` chunks cost one request per 500 tickets. On a first or large run the changed
    tickets are most of the tenant, and one ``ticketID gte min`` range (counted first) fetches
    the same rows in Σ ceil(rows/500) pages, fewer when only some tickets have an SLA.
    """
    entity = "ServiceLevelAgreementResults"
    if not changed:
        return fetcher.frame(entity, [])
    chunks = _ticket_chunks(changed)
    filters_list: list[list[Filter]] = chunks
    if len(chunks) > 4:
        low = min(changed)
        in_range = client.count(entity, [cond("ticketID", "gte", low)])
        if math.ceil(in_range / PAGE_SIZE) < len(chunks):
            filters_list = [[cond("ticketID", "gte", low)]]
    frame = fetcher.fetch(entity, filters_list, None)
    return frame[frame["ticketID"].isin(changed).fillna(False)].reset_index(drop=True)


def _fetch_history(fetcher: _Fetcher, changed: set[int]) -> pd.DataFrame:
    """TicketHistory: the API allows exactly one ``ticketID eq`` per query (budgeted in the plan)."""
    return fetcher.fetch(
        "TicketHistory", [[cond("ticketID", "eq", t)] for t in sorted(changed)], len(changed)
    )


def run_extract(
    *,
    store_dir: str | None,
    config_file: str | None,
    as_of: str | None,
    sandbox: bool,
    break_lock: bool = False,
) -> ExtractReport:
    """``ticket-audit extract``: load the config, build the client, extract into the store."""

    config = load_config(config_file)
    settings = config.extract
    store = Store(store_dir or config.store, lock_stale_after=config.store_lock_stale_seconds)
    client: AutotaskClient
    if sandbox:
        from audit.sandbox.client import DEFAULT_SANDBOX_AS_OF, sandbox_client

        client = sandbox_client(max_retries=settings.max_retries)
        instant = parse_as_of(as_of) if as_of else DEFAULT_SANDBOX_AS_OF
    else:
        instant = parse_as_of(as_of)
        client = AutotaskClient.from_settings(settings)
    with client, store.lock(break_lock=break_lock):
        return extract(client, store, config, as_of=instant, lock=False)
