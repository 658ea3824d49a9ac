"""Evaluation context: the frames a compiled rule reads, with the caches that make the whole
catalog cheap (a sub-condition such as "staff note" is computed once per frame, not per rule).

Every frame a context holds has a RangeIndex. Rows are tied to tickets through positions into
the full tickets frame (``ticket_pos``; -1 when the ticket is unknown), so related-row
aggregates are ``np.bincount``/fancy indexing, never Python loops.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from audit.core.config import TenantMapping
from audit.engine.frames import Frames

__all__ = ["ORDER_COLUMNS", "Ctx", "Env", "RowView"]

#: "latest / first" order of each child kind (ties broken by id).
ORDER_COLUMNS: dict[str, str] = {
    "notes": "createDateTime",
    "time_entries": "createDateTime",
    "attachments": "attachDate",
    "history": "date",
}


def _int_ids(series: pd.Series) -> np.ndarray:
    """Nullable integer ids -> int64 array with nulls as -1 (ids are non-negative)."""
    ids: np.ndarray = series.astype("Int64").fillna(-1).to_numpy(dtype="int64")
    return ids


@dataclass
class Env:
    """Per-evaluation state shared by every rule: frames, mapping, as-of, the tenant's time zone
    (weeks and calendar dates are local) and caches."""

    frames: Frames
    mapping: TenantMapping
    as_of: pd.Timestamp
    timezone: str = "UTC"
    cache: dict[tuple[str, str], Any] = field(default_factory=dict)
    _full: dict[str, Ctx] = field(default_factory=dict)

    def forget(self, tag_prefix: str) -> None:
        """Drop cached results of the contexts whose tag starts with ``tag_prefix`` (a
        period subset no later rule reads): the memory goes back before the next anchor."""
        for key in [k for k in self.cache if k[0].startswith(tag_prefix)]:
            del self.cache[key]

    def has(self, kind: str) -> bool:
        return self.frames.frame(kind) is not None

    def full(self, kind: str) -> Ctx:
        """Context over the whole frame of ``kind`` (cached)."""
        if kind not in self._full:
            frame = self.frames.frame(kind)
            if frame is None:
                raise LookupError(f"{kind} were not extracted")
            if not isinstance(frame.index, pd.RangeIndex) or frame.index.start != 0:
                frame = frame.reset_index(drop=True)
            self._full[kind] = Ctx(kind=kind, frame=RowView(frame, None), tag=kind, env=self, base_rows=None)
        return self._full[kind]

    def memo(self, key: tuple[str, str], compute: Callable[[], Any]) -> Any:
        if key not in self.cache:
            self.cache[key] = compute()
        return self.cache[key]

    def ids(self, kind: str, column: str) -> np.ndarray:
        """An id column of the full ``kind`` frame as int64 (null: -1), computed once."""
        return self.memo(("ids", f"{kind}.{column}"), lambda: _int_ids(self.full(kind).frame[column]))  # type: ignore[no-any-return]

    def ticket_count(self) -> int:
        return len(self.full("tickets").frame)

    def child_ticket_pos(self, kind: str) -> np.ndarray:
        """Position in the full tickets frame of each row of the full ``kind`` frame (-1: none)."""

        def compute() -> np.ndarray:
            if kind == "tickets":
                return np.arange(self.ticket_count(), dtype="int64")
            tickets = self.full("tickets").frame
            index = pd.Index(_int_ids(tickets["id"]))
            ids = _int_ids(self.full(kind).frame["ticketID"])
            pos = (
                np.asarray(index.get_indexer(ids), dtype="int64")
                if index.is_unique
                else np.asarray(index.drop_duplicates().get_indexer(ids), dtype="int64")
            )
            pos[ids < 0] = -1
            return pos

        return self.memo(("ticket_pos", kind), compute)  # type: ignore[no-any-return]

    def child_order(self, kind: str) -> np.ndarray:
        """Rows of the full ``kind`` frame with a known ticket and order date, sorted by
        (ticket, order date, id): the backbone of latest-of / first-of."""

        def compute() -> np.ndarray:
            frame = self.full(kind).frame
            pos = self.child_ticket_pos(kind)
            when = frame[ORDER_COLUMNS[kind]]
            ok: np.ndarray = (pos >= 0) & when.notna().to_numpy()
            stamp = when.to_numpy(dtype="datetime64[us]", na_value=np.datetime64("NaT")).astype("int64")
            ids = _int_ids(frame["id"])
            order: np.ndarray = np.lexsort((ids, stamp, pos))
            ordered: np.ndarray = order[ok[order]]
            return ordered

        return self.memo(("order", kind), compute)  # type: ignore[no-any-return]


class RowView:
    """Columns of some rows of a frame, taken lazily and cached: a subset never copies the
    whole frame (which holds long text), only the columns a rule reads."""

    def __init__(self, full: pd.DataFrame, rows: np.ndarray | None) -> None:
        self.full = full
        self.rows = rows
        self._cache: dict[str, pd.Series] = {}

    @property
    def columns(self) -> pd.Index:
        return self.full.columns

    def __contains__(self, name: object) -> bool:
        return name in self.full.columns

    def __len__(self) -> int:
        return len(self.full) if self.rows is None else len(self.rows)

    def __getitem__(self, name: str) -> pd.Series:
        if self.rows is None:
            return self.full[name]
        if name in self._cache:
            return self._cache[name]
        column = pd.Series(self.full[name].array.take(self.rows), name=name)
        # Text is taken again when read again rather than cached: subsets live as long as the
        # evaluation, and cached copies of long text would multiply the memory of the frames.
        if not isinstance(column.dtype, pd.StringDtype):
            self._cache[name] = column
        return column


@dataclass
class Ctx:
    """The rows a compiled node is evaluated over: some rows of the frame of one kind."""

    kind: str
    frame: RowView
    tag: str  # identifies the rows (cache key part): "notes", "tickets@createDate", ...
    env: Env
    base_rows: np.ndarray | None  # positions in the full frame of this kind; None = all rows

    def __len__(self) -> int:
        return len(self.frame)

    def memo(self, key: str, compute: Callable[[], Any]) -> Any:
        return self.env.memo((self.tag, key), compute)

    def ticket_pos(self) -> np.ndarray:
        """Position of each row's ticket in the full tickets frame (-1 when unknown)."""
        full = self.env.child_ticket_pos(self.kind)
        return full if self.base_rows is None else full[self.base_rows]

    def subset(self, rows: np.ndarray, tag: str) -> Ctx:
        """A context over some rows (positions in this context's rows)."""
        base = np.asarray(rows if self.base_rows is None else self.base_rows[rows], dtype="int64")
        return Ctx(
            kind=self.kind, frame=RowView(self.frame.full, base), tag=tag, env=self.env, base_rows=base
        )
