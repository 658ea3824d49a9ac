"""The extractor's merge: a run's new rows into the previous snapshot's frames, and the new watermarks.

previous ∪ new, de-duplicated by id (last write wins); the rows of tickets read in full by
ticket replace what the snapshot held for them; deleted tickets go with every child row;
frames re-typed with the schema's dtypes. A watermark is the latest value seen, never the
local clock (the server's clock decides what "changed since" means), but never beyond
``as_of`` + :data:`~audit.source.extract.plan.WATERMARK_MARGIN`.

The previous snapshot's frames and state come in as plain values (a reader of frames, the
previous watermarks): this layer never opens the store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from audit.source.extract.fetch import Fetched
from audit.source.extract.plan import (
    BACKFILLED,
    LOGS,
    REFERENCE,
    WATERMARK_MARGIN,
    WATERMARKED,
    ExtractPlan,
    iso,
)
from audit.source.schema import ENTITIES, UDF_PREFIX, EntitySpec

__all__ = ["WatermarkUpdate", "merge_frames", "merged_snapshot", "owned_by", "watermark_updates"]

log = logging.getLogger(__name__)


def owned_by(frame: pd.DataFrame, tickets: set[int]) -> pd.Series:
    """Rows of ``frame`` whose ``ticketID`` is one of ``tickets`` (a ticket's attachments
    include its notes' and time entries': Autotask gives them the ticket's ``ticketID``)."""
    if "ticketID" not in frame.columns:
        return pd.Series(False, index=frame.index)
    return frame["ticketID"].isin(tickets).fillna(False).astype(bool)


def _align(frame: pd.DataFrame, spec: EntitySpec, udf_cols: Sequence[str]) -> pd.DataFrame:
    """Columns in the order records_to_frame gives them: fields, then sorted UDF columns."""
    for col in udf_cols:
        if col not in frame.columns:
            frame = frame.assign(**{col: pd.Series([None] * len(frame), dtype="string", index=frame.index)})
    return frame[[*spec.fields, *udf_cols]]


def merge_frames(
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
        previous = previous[~owned_by(previous, replace)]
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
            merged = merged[~owned_by(merged, gone)]
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
            iso(ceiling),
            column,
            iso(values[beyond].max().to_pydatetime()),
            ", ".join(map(str, fresh[:10])) + (" ..." if len(fresh) > 10 else ""),
        )
    plausible = values[~beyond].dropna()
    latest = None if plausible.empty else plausible.max().to_pydatetime()
    if previous is not None and previous > ceiling:
        previous = None  # a watermark stored beyond the ceiling (see _since): superseded
    if latest is None or previous is None:
        return latest or previous, future
    return max(previous, latest), future


def merged_snapshot(
    fetched: Fetched, plan: ExtractPlan, previous: Callable[[str], pd.DataFrame]
) -> Iterator[tuple[str, pd.DataFrame]]:
    """Each entity's frame of the new snapshot, one at a time (write each before the next is
    merged). ``previous(entity)`` is the previous snapshot's frame of ``entity``."""
    frames, results, by_ticket, deleted = (
        fetched.frames,
        fetched.by_ticket_frames,
        fetched.by_ticket,
        fetched.deleted,
    )
    for name in REFERENCE:
        yield name, frames[name]  # reference data: replaced in full
    for name in WATERMARKED:
        spec = ENTITIES[name]
        new = frames[name]
        if name in by_ticket:
            new = merge_frames(spec, results[name], new)
        before = fetched.previous_tickets if name == "Tickets" else previous(name)
        yield (
            name,
            merge_frames(
                spec,
                before,
                new,
                replace_tickets=by_ticket.get(name, ()),
                deleted_tickets=() if name in LOGS else deleted,
            ),
        )
    attach_spec = ENTITIES["TicketAttachments"]
    yield (
        attach_spec.name,
        merge_frames(
            attach_spec,
            previous(attach_spec.name),
            results[attach_spec.name],
            replace_tickets=by_ticket[attach_spec.name],
            deleted_tickets=deleted,
        ),
    )
    sla_spec = ENTITIES["ServiceLevelAgreementResults"]
    yield (
        sla_spec.name,
        merge_frames(
            sla_spec,
            previous(sla_spec.name),
            results[sla_spec.name],
            replace_tickets=fetched.changed,
            deleted_tickets=deleted,
        ),
    )
    hist_spec = ENTITIES["TicketHistory"]
    history = results.get(hist_spec.name)
    if history is not None:
        yield (
            hist_spec.name,
            merge_frames(
                hist_spec,
                previous(hist_spec.name),
                history,
                replace_tickets=fetched.changed,
                deleted_tickets=deleted,
            ),
        )
    elif deleted:  # not refreshed this run, but a deleted ticket's history goes with it
        yield (
            hist_spec.name,
            merge_frames(
                hist_spec, previous(hist_spec.name), fetched.empty(hist_spec.name), deleted_tickets=deleted
            ),
        )


@dataclass(frozen=True)
class WatermarkUpdate:
    """What the new snapshot records for one watermarked entity."""

    watermark: datetime | None
    #: Ids of rows dated after the ceiling (stored, kept out of the watermark, logged once).
    future_rows: list[int]
    #: The first instant its children were read from, when this run sets it (else None).
    coverage: datetime | None


def watermark_updates(
    fetched: Fetched,
    plan: ExtractPlan,
    *,
    watermarks: Mapping[str, datetime],
    future_rows: Mapping[str, Sequence[int]],
    coverage: Mapping[str, datetime],
) -> dict[str, WatermarkUpdate]:
    """The new watermark of each watermarked entity, from the rows this run read and the
    previous snapshot's ``watermarks``, ``future_rows`` and ``coverage``."""
    ceiling = plan.as_of + WATERMARK_MARGIN
    out: dict[str, WatermarkUpdate] = {}
    for name in WATERMARKED:
        spec = ENTITIES[name]
        assert spec.watermark is not None
        watermark, future = _watermark(
            name,
            fetched.frames[name],
            spec.watermark,
            watermarks.get(name),
            ceiling,
            future_rows.get(name, ()),
        )
        first_read = plan.since[name] if name in BACKFILLED and name not in coverage else None
        out[name] = WatermarkUpdate(watermark, future, first_read)
    return out
