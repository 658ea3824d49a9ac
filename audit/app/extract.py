"""The extractor: Autotask -> the snapshot store, incrementally, within the request budget.

One run (:func:`extract`). This module opens the store, stages and publishes; the steps that
talk to Autotask and shape frames live in :mod:`audit.source.extract` (``plan``, ``fetch``,
``merge``), which are handed the previous snapshot's state and frames as plain values.

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
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pandas as pd

from audit.core.config import Config, ExtractSettings, ReportSettings, load_config
from audit.core.period import parse_as_of
from audit.source.autotask import AutotaskClient, check_budget
from audit.source.extract.fetch import Progress, fetch_run
from audit.source.extract.merge import merged_snapshot, watermark_updates
from audit.source.extract.plan import (
    PAGE_SIZE,
    PLANNED_FROM_SNAPSHOT,
    WATERMARK_MARGIN,
    ExtractClient,
    ExtractPlan,
    PlannedQuery,
    evaluated_since,
    plan_run,
)
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
    bars = Progress(show)
    with store.lock() if lock else contextlib.nullcontext():
        # An unreadable previous snapshot: fall back to the last good one, or extract in full.
        recovered = store.recover()
        prev_state = store.state
        first_run = not store.exists()
        threshold = client.threshold()
        trend_weeks = (config.report if isinstance(config, Config) else ReportSettings()).trend_weeks
        plan = _plan(client, store, settings, as_of, trend_weeks)
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


def _plan(
    client: ExtractClient, store: Store, settings: ExtractSettings, as_of: datetime, trend_weeks: int
) -> ExtractPlan:
    """The run's plan, from what the previous snapshot says (its state and row counts)."""
    prev = store.state
    rows = {entity: store.rows(entity) for entity in PLANNED_FROM_SNAPSHOT} if store.exists() else {}
    return plan_run(
        client,
        settings,
        as_of=as_of,
        evaluated_since=evaluated_since(as_of, trend_weeks),
        watermarks=prev.watermarks,
        coverage=prev.coverage,
        snapshot_rows=rows,
    )


def _run(
    client: ExtractClient,
    store: Store,
    run: StagingRun,
    plan: ExtractPlan,
    settings: ExtractSettings,
    bars: Progress,
    check_picklists: Callable[[pd.DataFrame], object] | None = None,
) -> tuple[dict[str, int], dict[str, int], int, list[str], dict[str, int]]:
    """Fetch, merge into the previous snapshot and stage the result in ``run``."""
    prev = store.state
    fetched = fetch_run(
        client,
        plan,
        settings,
        previous_tickets=store.read("Tickets"),
        coverage=prev.coverage,
        progress=bars,
        check_fields=None
        if check_picklists is None
        else lambda fields: check_picklists(picklists_frame(fields)),
    )
    stored: dict[str, int] = {}
    for entity, frame in merged_snapshot(fetched, plan, store.read):
        run.write(entity, frame)
        stored[entity] = len(frame)
    updates = watermark_updates(
        fetched, plan, watermarks=prev.watermarks, future_rows=prev.future_rows, coverage=prev.coverage
    )
    for entity, update in updates.items():
        run.set_watermark(entity, update.watermark)
        run.set_future_rows(entity, update.future_rows)
        if update.coverage is not None:
            run.set_coverage(entity, update.coverage)
    run.write_picklists(picklists_frame(fetched.fields))
    run.write_udfs(udfs_frame(fetched.udf_definitions))
    zone = client.zone
    run.set_zone(zone.zone_name or None, zone.web_url)
    # Logs re-read in the overlap window name tickets already gone: count only real removals.
    asked = {entity: len(ids) for entity, ids in sorted(fetched.by_ticket.items())}
    return fetched.rows, stored, len(fetched.deleted & fetched.known), fetched.notes(), asked


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
