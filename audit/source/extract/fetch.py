"""The extractor's fetching: the planned queries run through the client, pages -> typed frames.

Independent entities run in parallel; each entity's watermark query is split into the plan's
disjoint slices (``query_many``). After the watermarked entities, the tickets that changed
decide what is read by ticket (``ticketID in [...]`` chunks of 500): SLA results, attachments,
the children of back-filled and reconciled tickets, and optionally TicketHistory.

The previous snapshot's tickets and coverage come in as plain values: this layer never opens
the store.
"""

from __future__ import annotations

import logging
import math
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from tqdm import tqdm

from audit.core.config import ExtractSettings
from audit.source.autotask import Filter, chunk_in, cond
from audit.source.extract.plan import (
    BACKFILLED,
    PAGE_SIZE,
    ExtractClient,
    ExtractPlan,
    picklist_entities,
    udf_entities,
)
from audit.source.records import records_to_frame
from audit.source.schema import ENTITIES

__all__ = ["Fetched", "Fetcher", "Progress", "fetch_run", "ticket_chunks"]

log = logging.getLogger(__name__)


class Progress:
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


def _to_frame(
    entity: str, items: Sequence[Mapping[str, Any]], udf_names: Mapping[str, Sequence[str]]
) -> pd.DataFrame:
    spec = ENTITIES[entity]
    frame = records_to_frame(spec, items, udf_names.get(entity, ()))
    # Overlapping pages (a row that moved while we paged) appear twice: keep the last.
    return frame.drop_duplicates(spec.key, keep="last").reset_index(drop=True)


class Fetcher:
    """Runs queries and turns their pages into typed frames."""

    def __init__(
        self, client: ExtractClient, progress: Progress, udf_names: Mapping[str, Sequence[str]]
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
        return _to_frame(entity, items, self.udf_names)

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


def ticket_chunks(ids: Iterable[int]) -> list[list[Filter]]:
    """``ticketID in [...]`` filters of at most 500 ids (the API's OR limit), in id order."""
    return [list(f) for f in chunk_in("ticketID", sorted({int(i) for i in ids}))]


@dataclass
class Fetched:
    """What one run read from Autotask, and what it decided from it about the tickets."""

    #: Planned queries (watermarked entities and reference data) by entity.
    frames: dict[str, pd.DataFrame]
    #: Entities read by ticket (children, attachments, SLA results, history) by entity.
    by_ticket_frames: dict[str, pd.DataFrame]
    #: ``entityInformation/fields`` and ``userDefinedFields`` answers by entity.
    fields: dict[str, Any]
    udf_definitions: dict[str, Any]
    #: The previous snapshot's Tickets frame (passed in; the merge starts from it).
    previous_tickets: pd.DataFrame
    #: Tickets deleted (DeletedTicketLogs), changed (read this run, not deleted) and stored before.
    deleted: set[int]
    changed: set[int]
    known: set[int]
    #: Stored tickets whose children are read again (DeletedTicketActivityLogs named them).
    reconcile: set[int]
    #: Tickets entering the snapshot whose children were back-filled.
    backfilled: set[int]
    #: Entities read by ``ticketID in [...]`` -> the tickets they were read for.
    by_ticket: dict[str, set[int]]
    #: Rows fetched per entity (before merge).
    rows: dict[str, int]
    udf_names: Mapping[str, Sequence[str]]

    def empty(self, entity: str) -> pd.DataFrame:
        """An empty frame of ``entity`` with the columns a fetched one would have."""
        return _to_frame(entity, [], self.udf_names)

    def notes(self) -> list[str]:
        out = []
        if self.backfilled:
            out.append(f"back-filled children of {len(self.backfilled)} ticket(s)")
        if self.reconcile:
            out.append(
                f"re-read the children of {len(self.reconcile)} ticket(s) with deleted notes, time entries or attachments"
            )
        return out


def fetch_run(
    client: ExtractClient,
    plan: ExtractPlan,
    settings: ExtractSettings,
    *,
    previous_tickets: pd.DataFrame,
    coverage: Mapping[str, datetime],
    progress: Progress,
    check_fields: Callable[[Mapping[str, Any]], object] | None = None,
) -> Fetched:
    """Run the plan's queries, then the by-ticket reads they call for.

    ``coverage`` is the previous snapshot's (the first instant its children were read from).
    ``check_fields`` is called with the picklist entities' field answers as soon as they are
    fetched, before the big queries: an error it raises stops the run early.
    """
    workers = max(2, min(8, len(plan.queries)))
    fetcher = Fetcher(client, progress, {})
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="extract") as pool:
        try:
            # Reference information first (UDF names fix the Tickets frame's columns).
            fields_f = {e: pool.submit(client.entity_fields, e) for e in picklist_entities()}
            udfs_f = {e: pool.submit(client.entity_udfs, e) for e in udf_entities()}
            udf_defs = _gather(udfs_f, fetcher.cancelled)
            fetcher.udf_names = {e: sorted(str(u.get("name")) for u in defs) for e, defs in udf_defs.items()}
            if check_fields is not None:
                check_fields(_gather(fields_f, fetcher.cancelled))

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
            for child in BACKFILLED:
                first_read = coverage.get(child, plan.since[child])
                entering = tickets_new[
                    ~tickets_new["id"].isin(known) & (tickets_new["createDate"] < pd.Timestamp(first_read))
                ]
                ids = set(int(i) for i in entering["id"].dropna()) - deleted
                backfilled |= ids
                if ids | reconcile:
                    by_ticket[child] = ids | reconcile
            # Attachments of every ticket whose rules can still change: the changed ones and
            # those active in the weeks a report evaluates.
            active = previous_tickets[
                previous_tickets["lastActivityDate"] >= pd.Timestamp(plan.evaluated_since)
            ]
            by_ticket["TicketAttachments"] = (
                changed | reconcile | set(int(i) for i in active["id"].dropna())
            ) - deleted
            later: dict[str, Future[pd.DataFrame]] = {
                child: pool.submit(fetcher.fetch, child, ticket_chunks(ids), None)
                for child, ids in by_ticket.items()
            }
            later["ServiceLevelAgreementResults"] = pool.submit(_fetch_sla, client, fetcher, changed)
            if settings.include_history:
                later["TicketHistory"] = pool.submit(_fetch_history, fetcher, changed)
            results = _gather(later, fetcher.cancelled)
        except BaseException:
            fetcher.cancelled.set()  # Ctrl-C or a failure: stop the other fetches promptly
            raise
    return Fetched(
        frames=frames,
        by_ticket_frames=results,
        fields=fields,
        udf_definitions=udf_defs,
        previous_tickets=previous_tickets,
        deleted=deleted,
        changed=changed,
        known=known,
        reconcile=reconcile,
        backfilled=backfilled,
        by_ticket=by_ticket,
        rows=dict(sorted(fetcher.fetched.items())),
        udf_names=fetcher.udf_names,
    )


def _fetch_sla(client: ExtractClient, fetcher: Fetcher, changed: set[int]) -> pd.DataFrame:
    """SLA results of the changed tickets (the entity has no watermark).

    ``ticketID in`` chunks cost one request per 500 tickets. On a first or large run the changed
    tickets are most of the tenant, and one ``ticketID gte min`` range (counted first) fetches
    the same rows in Σ ceil(rows/500) pages, fewer when only some tickets have an SLA.
    """
    entity = "ServiceLevelAgreementResults"
    if not changed:
        return fetcher.frame(entity, [])
    chunks = ticket_chunks(changed)
    filters_list: list[list[Filter]] = chunks
    if len(chunks) > 4:
        low = min(changed)
        in_range = client.count(entity, [cond("ticketID", "gte", low)])
        if math.ceil(in_range / PAGE_SIZE) < len(chunks):
            filters_list = [[cond("ticketID", "gte", low)]]
    frame = fetcher.fetch(entity, filters_list, None)
    return frame[frame["ticketID"].isin(changed).fillna(False)].reset_index(drop=True)


def _fetch_history(fetcher: Fetcher, changed: set[int]) -> pd.DataFrame:
    """TicketHistory: the API allows exactly one ``ticketID eq`` per query (budgeted in the plan)."""
    return fetcher.fetch(
        "TicketHistory", [[cond("ticketID", "eq", t)] for t in sorted(changed)], len(changed)
    )
