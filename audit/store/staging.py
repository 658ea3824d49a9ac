"""A snapshot being written (:class:`StagingRun`), and its atomic publish.

A run writes every frame into ``staging/<run-id>/``; :meth:`StagingRun.publish` carries over
what it did not rewrite, writes ``state.json``, renames the folder into ``snapshots/`` and then
swaps ``CURRENT`` (the commit point). A run that stops before that leaves the published
snapshot untouched and its staging folder is dropped.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING

import pandas as pd

from audit.core.atomic import fsync_dir, write_bytes_atomic
from audit.core.errors import StoreError
from audit.core.logs import redact
from audit.source.records import PICKLIST_COLUMNS, UDF_COLUMNS
from audit.store.files import (
    CURRENT,
    FAILED_RUNS,
    PICKLISTS,
    STATE,
    UDFS,
    entity_spec,
    link_or_copy,
    write_parquet,
)
from audit.store.state import RunEntry, StoreState

if TYPE_CHECKING:
    from audit.store.snapshot import Store

__all__ = ["StagingRun"]

log = logging.getLogger("audit.store.snapshot")


class StagingRun:
    """A snapshot being written. Nothing is visible to readers until :meth:`publish`.

    Entities not written in this run are carried over from the previous snapshot (hard links:
    published files are never modified, so sharing them is safe).
    """

    def __init__(self, store: Store, run_id: str, started: datetime) -> None:
        self.store = store
        self.run_id = run_id
        self.started = started
        self.dir = store.path / "staging" / run_id
        self.dir.mkdir(parents=True)
        prev = store.state
        self._watermarks: dict[str, datetime] = dict(prev.watermarks)
        self._coverage: dict[str, datetime] = dict(prev.coverage)
        self._future_rows: dict[str, list[int]] = dict(prev.future_rows)
        self._zone_name, self._web_url = prev.zone_name, prev.web_url
        self._ruleset_version = prev.ruleset_version
        self._written: set[str] = set()
        self.published = False
        self.discarded = False

    def __enter__(self) -> StagingRun:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self.published and not self.discarded:
            status = (
                "interrupted" if exc_type is not None and not issubclass(exc_type, Exception) else "failed"
            )
            self.discard(error=None if exc is None else f"{type(exc).__name__}: {exc}", status=status)

    # -- content ---------------------------------------------------------------------------

    def write(self, entity: str, frame: pd.DataFrame) -> None:
        spec = entity_spec(entity)
        missing = [c for c in spec.fields if c not in frame.columns]
        if missing:
            raise StoreError(f"staging {entity}: frame lacks columns {missing}")
        self._write_file(f"{spec.name}.parquet", frame)

    def write_picklists(self, frame: pd.DataFrame) -> None:
        self._write_file(PICKLISTS, frame[list(PICKLIST_COLUMNS)].astype(PICKLIST_COLUMNS))

    def write_udfs(self, frame: pd.DataFrame) -> None:
        self._write_file(UDFS, frame[list(UDF_COLUMNS)].astype(UDF_COLUMNS))

    def _write_file(self, name: str, frame: pd.DataFrame) -> None:
        self._check_open()
        write_parquet(frame.reset_index(drop=True), self.dir / name)
        self._written.add(name)

    def set_watermark(self, entity: str, value: datetime | None) -> None:
        entity_spec(entity)
        if value is None:
            self._watermarks.pop(entity, None)
        else:
            self._watermarks[entity] = value.astimezone(UTC)

    def set_coverage(self, entity: str, value: datetime) -> None:
        entity_spec(entity)
        self._coverage[entity] = value.astimezone(UTC)

    def set_future_rows(self, entity: str, ids: Sequence[int]) -> None:
        entity_spec(entity)
        self._future_rows[entity] = sorted({int(i) for i in ids})

    def set_zone(self, name: str | None, web_url: str | None) -> None:
        self._zone_name, self._web_url = name, web_url

    def set_ruleset_version(self, version: str | None) -> None:
        self._ruleset_version = version

    # -- ending ----------------------------------------------------------------------------

    def publish(
        self,
        *,
        as_of: datetime | None = None,
        fetched: Mapping[str, int] | None = None,
        requests: int = 0,
        deleted_tickets: int = 0,
    ) -> StoreState:
        """Make this run the store's snapshot, atomically; returns the new state."""
        self._check_open()
        store = self.store
        prev_dir = store.snapshot_dir
        prev = store.state
        if prev_dir is not None:  # carry over what this run did not rewrite
            for src in prev_dir.iterdir():
                if src.suffix == ".parquet" and src.name not in self._written:
                    link_or_copy(src, self.dir / src.name)
        entry = RunEntry(
            run_id=self.run_id,
            started=self.started,
            finished=datetime.now(UTC),
            as_of=as_of,
            status="ok",
            fetched=dict(fetched or {}),
            requests=requests,
            deleted_tickets=deleted_tickets,
        )
        # Runs that failed since the last publish go into the log too (de-duplicated by id).
        known = {r.run_id for r in prev.runs}
        failed = [r for r in store.failed_runs() if r.run_id not in known]
        state = StoreState(
            run_id=self.run_id,
            as_of=as_of,
            watermarks=self._watermarks,
            coverage=self._coverage,
            future_rows={k: v for k, v in self._future_rows.items() if v},
            zone_name=self._zone_name,
            web_url=self._web_url,
            ruleset_version=self._ruleset_version,
            runs=[*prev.runs, *failed, entry][-200:],  # bounded: state.json stays small
        )
        write_bytes_atomic(self.dir / STATE, json.dumps(state.to_json(), indent=1, sort_keys=True).encode())
        fsync_dir(self.dir)
        target = store.path / "snapshots" / self.run_id
        os.replace(self.dir, target)  # same filesystem: an atomic folder rename
        fsync_dir(target.parent)
        # The commit point: before it the old snapshot is current, after it the new one.
        write_bytes_atomic(store.path / CURRENT, (self.run_id + "\n").encode())
        self.published = True
        store._current, store._state = self.run_id, state
        with contextlib.suppress(OSError):
            (store.path / FAILED_RUNS).unlink(missing_ok=True)
        store._collect_garbage(staging=False)
        log.info("store %s: published snapshot %s", store.path, self.run_id)
        return state

    def discard(self, *, error: str | None = None, status: str = "failed") -> None:
        """Drop the staging folder; the published snapshot is untouched."""
        if self.published or self.discarded:
            return
        self.discarded = True
        shutil.rmtree(self.dir, ignore_errors=True)
        self.store._log_failed(
            RunEntry(
                run_id=self.run_id,
                started=self.started,
                finished=datetime.now(UTC),
                status=status,
                error=None if error is None else redact(error),
            )
        )

    def _check_open(self) -> None:
        if self.published or self.discarded:
            raise StoreError(
                f"staging run {self.run_id} is already {'published' if self.published else 'discarded'}"
            )
