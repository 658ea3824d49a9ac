"""The snapshot store: parquet per entity, published atomically, guarded by a lock.

Layout on disk (``Store(path)``)::

    path/
      CURRENT                      run id of the published snapshot (replaced with os.replace)
      lock                         host, pid, boot id, heartbeat while a run holds the store (lock.py)
      failed-runs.jsonl            run-log entries of runs that did not publish (folded in later)
      staging/<run-id>/            a run in progress (never read; removed when stale)
      snapshots/<run-id>/          a published snapshot, immutable once CURRENT names it
      corrupt/<run-id>/            a snapshot found unreadable, set aside by :meth:`Store.recover`
        <Entity>.parquet           one per entity, typed as ``records_to_frame`` makes it
        _picklists.parquet         entity, field, value, label, parent_value, is_active, sort_order
        _udfs.parquet              entity, name, label, data_type, is_picklist, is_required, is_active
        state.json                 watermarks, run log, zone, schema version

Why a pointer file rather than renaming folders: ``os.replace`` of one small file is atomic on
POSIX, so a reader sees either the old snapshot or the new one, and a run killed at any point
(before, during or after the replace) leaves a complete snapshot named by ``CURRENT``. Folders
``CURRENT`` does not name are garbage, collected by the next publish or begin.

An unreadable current snapshot (a truncated parquet file, a garbled ``state.json`` or
``CURRENT``) makes every read raise :class:`~audit.core.errors.StoreError` naming the file, so
``evaluate``/``report`` fail (exit 3) rather than audit half a tenant. The writer heals it:
:meth:`Store.recover`, called by the extractor under the lock before it reads the previous
snapshot, sets the broken snapshot aside and falls back to the newest older snapshot that reads
cleanly (the store keeps one), whose watermarks make the run fetch everything since; when none
is kept the store is treated as empty and the run is a full (first-run) extraction.

The pieces: :mod:`audit.store.state` (``state.json``), :mod:`audit.store.files` (the layout's
names and the durable writes), :mod:`audit.store.staging` (a run being written and its
publish); this module reads, checks and heals.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from audit.core.atomic import fsync_dir, write_bytes_atomic
from audit.core.errors import StoreError
from audit.source.records import (
    PICKLIST_COLUMNS,
    UDF_COLUMNS,
    empty_frame,
    picklists_frame,
    typed_frame,
    udfs_frame,
)
from audit.source.schema import ENTITIES, UDF_PREFIX, EntitySpec
from audit.store.files import (
    CORRUPT,
    CURRENT,
    FAILED_RUNS,
    PICKLISTS,
    REPAIR_HINT,
    STATE,
    UDFS,
    entity_spec,
    new_run_id,
)
from audit.store.lock import LOCK_STALE_SECONDS, hold_lock
from audit.store.staging import StagingRun
from audit.store.state import STORE_SCHEMA_VERSION, RunEntry, StoreState

__all__ = [
    "PICKLIST_COLUMNS",
    "REPAIR_HINT",
    "STORE_SCHEMA_VERSION",
    "UDF_COLUMNS",
    "RunEntry",
    "StagingRun",
    "Store",
    "StoreState",
    "new_run_id",
    "picklists_frame",
    "udfs_frame",
]

log = logging.getLogger("audit.store.snapshot")

#: Snapshots kept besides the current one, so a reader that resolved CURRENT just before a
#: publish can still finish reading the previous snapshot.
_KEEP_PREVIOUS = 1


class Store:
    """A snapshot store folder. Reads never see a half-written snapshot."""

    def __init__(self, path: str | os.PathLike[str], *, lock_stale_after: float = LOCK_STALE_SECONDS) -> None:
        self.path = Path(path)
        self.lock_stale_after = lock_stale_after
        self._current: str | None = None
        self._state: StoreState | None = None

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    # -- reading -----------------------------------------------------------------------

    def exists(self) -> bool:
        """Whether a snapshot has been published here."""
        if self.path.exists() and not self.path.is_dir():
            raise StoreError(f"snapshot store {self.path} is not a folder")
        return (self.path / CURRENT).is_file()

    def refresh(self) -> None:
        """Forget the resolved snapshot; the next read follows ``CURRENT`` again."""
        self._current, self._state = None, None

    @property
    def snapshot_id(self) -> str | None:
        """Run id of the published snapshot (``None`` when nothing was published)."""
        if self._current is None:
            if not self.exists():
                return None
            try:
                text = (self.path / CURRENT).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise StoreError(
                    f"snapshot store {self.path}: cannot read CURRENT: {exc}; {REPAIR_HINT}"
                ) from exc
            if not text or "/" in text or text.startswith("."):
                raise StoreError(
                    f"snapshot store {self.path}: CURRENT is corrupt ({text[:40]!r}); {REPAIR_HINT}"
                )
            if not (self.path / "snapshots" / text).is_dir():
                raise StoreError(
                    f"snapshot store {self.path}: CURRENT names snapshot {text!r}, which is missing; "
                    f"{REPAIR_HINT}"
                )
            self._current = text
        return self._current

    @property
    def snapshot_dir(self) -> Path | None:
        sid = self.snapshot_id
        return None if sid is None else self.path / "snapshots" / sid

    @property
    def state(self) -> StoreState:
        """The published snapshot's state (defaults when nothing was published)."""
        if self._state is None:
            snap = self.snapshot_dir
            if snap is None:
                return StoreState()
            self._state = _read_state(snap / STATE)
        return self._state

    @property
    def web_url(self) -> str | None:
        return self.state.web_url

    def read(self, entity: str) -> pd.DataFrame:
        """The entity's frame, typed as ``records_to_frame`` makes it; empty typed when absent."""
        spec = entity_spec(entity)
        snap = self.snapshot_dir
        udf_names = self._udf_names(spec) if spec.has_udfs else []
        if snap is None or not (snap / f"{spec.name}.parquet").is_file():
            return empty_frame(spec, udf_names)
        frame = _read_parquet(snap / f"{spec.name}.parquet")
        return _conform(frame, spec, udf_names, snap / f"{spec.name}.parquet")

    def rows(self, entity: str) -> int:
        """Rows of the entity in the published snapshot, from the parquet footer (no data read)."""
        snap = self.snapshot_dir
        path = None if snap is None else snap / f"{entity_spec(entity).name}.parquet"
        if path is None or not path.is_file():
            return 0
        try:
            return int(pq.ParquetFile(path).metadata.num_rows)
        except (OSError, ValueError, pa.ArrowException) as exc:
            raise StoreError(
                f"snapshot store: {path} is unreadable or corrupt: {exc}; {REPAIR_HINT}"
            ) from exc

    def picklists(self) -> pd.DataFrame:
        return self._read_aux(PICKLISTS, PICKLIST_COLUMNS)

    def udf_definitions(self) -> pd.DataFrame:
        return self._read_aux(UDFS, UDF_COLUMNS)

    def _read_aux(self, name: str, columns: Mapping[str, str]) -> pd.DataFrame:
        snap = self.snapshot_dir
        if snap is None or not (snap / name).is_file():
            return typed_frame([], columns)
        frame = _read_parquet(snap / name)
        missing = set(columns) - set(frame.columns)
        if missing:
            raise StoreError(f"snapshot store: {snap / name} lacks columns {sorted(missing)}; {REPAIR_HINT}")
        try:
            return frame[list(columns)].astype(dict(columns))
        except (TypeError, ValueError) as exc:
            raise StoreError(
                f"snapshot store: {snap / name} has unexpected column types: {exc}; {REPAIR_HINT}"
            ) from exc

    def _udf_names(self, spec: EntitySpec) -> list[str]:
        defs = self.udf_definitions()
        return sorted(defs.loc[defs["entity"] == spec.name, "name"].astype(str))

    # -- checking and healing ------------------------------------------------------------

    def _pinned(self, snapshot_id: str) -> Store:
        """A reader of one given snapshot of this store (not following ``CURRENT``)."""
        other = Store(self.path)
        other._current = snapshot_id
        return other

    def verify(self) -> None:
        """Read every file of the published snapshot; :class:`StoreError` naming the first bad one.

        No-op when nothing was published.
        """
        snap = self.snapshot_dir
        if snap is None:
            return
        self.state  # noqa: B018
        self.udf_definitions()
        self.picklists()
        for entity in ENTITIES:
            self.read(entity)

    def recover(self) -> str | None:
        """Make an unreadable published snapshot harmless for the next run (hold :meth:`lock`).

        When the current snapshot reads cleanly (or nothing was published) nothing happens and
        ``None`` is returned. Otherwise the broken snapshot is moved to ``corrupt/`` and
        ``CURRENT`` points at the newest older snapshot that reads cleanly; when there is none,
        ``CURRENT`` is removed so the next run is a full extraction. Returns what was done (also
        logged as a warning). A snapshot of another schema version is not "broken": its
        :class:`StoreError` propagates (it needs a new store, not a repair).
        """
        if not self.exists():
            return None
        self.refresh()
        try:
            self.verify()
            return None
        except _SchemaVersionError:
            raise
        except StoreError as exc:
            problem = str(exc)
        finally:
            self.refresh()
        bad = self._current_name()
        snapshots = self.path / "snapshots"
        candidates = sorted(
            (
                p.name
                for p in snapshots.glob("*")
                if p.is_dir() and p.name != bad and (bad is None or p.name < bad)
            ),
            reverse=True,
        )
        if bad is not None and (snapshots / bad).is_dir():
            (self.path / CORRUPT).mkdir(exist_ok=True)
            target = self.path / CORRUPT / bad
            shutil.rmtree(target, ignore_errors=True)
            os.replace(snapshots / bad, target)
            fsync_dir(snapshots)
            set_aside = f"; it was moved to {target}"
        else:
            set_aside = ""
        for candidate in candidates:
            try:
                self._pinned(candidate).verify()
            except StoreError:
                continue
            write_bytes_atomic(self.path / CURRENT, (candidate + "\n").encode())
            self.refresh()
            message = (
                f"snapshot store {self.path}: the current snapshot {bad or '(unknown)'} is unreadable "
                f"({problem}){set_aside}; falling back to the previous good snapshot {candidate}: this run "
                f"re-fetches everything since it"
            )
            log.warning("%s", message)
            return message
        (self.path / CURRENT).unlink(missing_ok=True)
        fsync_dir(self.path)
        self.refresh()
        message = (
            f"snapshot store {self.path}: the current snapshot {bad or '(unknown)'} is unreadable "
            f"({problem}){set_aside}; no good snapshot is kept: this run is a full extraction (first run)"
        )
        log.warning("%s", message)
        return message

    def _current_name(self) -> str | None:
        """The text of ``CURRENT`` if it names a folder-safe id (without checking the folder)."""
        try:
            text = (self.path / CURRENT).read_text(encoding="utf-8").strip()
        except OSError:
            return None
        return text if text and "/" not in text and not text.startswith(".") else None

    # -- writing -----------------------------------------------------------------------

    def begin(self, *, run_id: str | None = None, started: datetime | None = None) -> StagingRun:
        """A staging run: write frames, set watermarks, then ``publish()``.

        Hold :meth:`lock` around a run; ``begin`` also clears staging folders left by killed
        runs, which is only safe under the lock.
        """
        self.state  # noqa: B018  (an unreadable store fails here, before any work is done)
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / "staging").mkdir(exist_ok=True)
        (self.path / "snapshots").mkdir(exist_ok=True)
        self._collect_garbage(staging=True)
        return StagingRun(self, run_id or new_run_id(), started or datetime.now(UTC))

    def _collect_garbage(self, *, staging: bool) -> None:
        """Remove snapshots ``CURRENT`` no longer names (keeping the newest previous ones)."""
        current = self.snapshot_id
        snaps = sorted(p for p in (self.path / "snapshots").glob("*") if p.is_dir())
        # A folder newer than CURRENT is a run killed between its rename and the pointer swap.
        older = [p for p in snaps if current is not None and p.name < current]
        keep = set(older[-_KEEP_PREVIOUS:]) if _KEEP_PREVIOUS else set()
        for p in snaps:
            if p.name != current and p not in keep:
                shutil.rmtree(p, ignore_errors=True)
        if staging:  # only under the lock: no other run can be writing these
            for p in (self.path / "staging").glob("*"):
                shutil.rmtree(p, ignore_errors=True)
            for p in self.path.glob(f".{CURRENT}.*.tmp"):  # a pointer swap killed mid-write
                p.unlink(missing_ok=True)

    def failed_runs(self) -> list[RunEntry]:
        """Run-log entries of runs that stopped without publishing, not yet folded in."""
        path = self.path / FAILED_RUNS
        if not path.is_file():
            return []
        entries = []
        for line in path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError, KeyError, TypeError):
                entries.append(RunEntry.from_json(json.loads(line)))
        return entries

    def _log_failed(self, entry: RunEntry) -> None:
        with contextlib.suppress(OSError), open(self.path / FAILED_RUNS, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry.to_json(), sort_keys=True) + "\n")

    # -- locking -----------------------------------------------------------------------

    def lock(self, *, break_lock: bool = False) -> contextlib.AbstractContextManager[None]:
        """Exclusive hold of the store for one run (:mod:`audit.store.lock`: host, pid, boot id,
        heartbeat; a stale lock is recovered, ``break_lock`` takes over a live-looking one).

        A second holder gets :class:`StoreLockedError` naming the holder.
        """
        return hold_lock(self.path, stale_after=self.lock_stale_after, break_lock=break_lock)


class _SchemaVersionError(StoreError):
    """A snapshot written by another store layout: not repairable in place."""


def _read_state(path: Path) -> StoreState:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        state = StoreState.from_json(data)
    except FileNotFoundError:
        raise StoreError(f"snapshot store: {path} is missing; {REPAIR_HINT}") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StoreError(f"snapshot store: {path} is unreadable: {exc}; {REPAIR_HINT}") from exc
    if state.schema_version != STORE_SCHEMA_VERSION:
        raise _SchemaVersionError(
            f"snapshot store: {path} has schema version {state.schema_version}; this ticket-audit "
            f"reads version {STORE_SCHEMA_VERSION}: run a full extraction into a new store"
        )
    return state


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path, engine="pyarrow")
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise StoreError(f"snapshot store: {path} is unreadable or corrupt: {exc}; {REPAIR_HINT}") from exc


def _conform(frame: pd.DataFrame, spec: EntitySpec, udf_names: Sequence[str], path: Path) -> pd.DataFrame:
    """Check columns and re-apply the schema's dtypes (guards against files from elsewhere)."""
    template = empty_frame(spec, udf_names)
    missing = [c for c in spec.fields if c not in frame.columns]
    if missing:
        raise StoreError(f"snapshot store: {path} lacks columns {missing}; {REPAIR_HINT}")
    for col in template.columns:  # a UDF defined after this file was written: all null
        if col not in frame.columns:
            frame[col] = pd.Series([None] * len(frame), dtype="string")
    extra_udfs = sorted(c for c in frame.columns if c.startswith(UDF_PREFIX) and c not in template.columns)
    columns = [*template.columns, *extra_udfs]
    dtypes = {c: template[c].dtype for c in template.columns}
    dtypes.update({c: pd.StringDtype() for c in extra_udfs})
    try:
        return frame[columns].astype(dtypes)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"snapshot store: {path} has unexpected column types: {exc}; {REPAIR_HINT}") from exc
