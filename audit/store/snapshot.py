"""The snapshot store: parquet per entity, published atomically, guarded by a lock.

Layout on disk (``Store(path)``)::

    path/
      CURRENT                      run id of the published snapshot (replaced with os.replace)
      lock                         host, pid, boot id, heartbeat while a run holds the store (store_lock.py)
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
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from audit.core.atomic import fsync_dir, fsync_path, write_bytes_atomic
from audit.core.errors import StoreError
from audit.core.logs import redact
from audit.source.records import empty_frame
from audit.source.schema import ENTITIES, UDF_PREFIX, EntitySpec
from audit.store.lock import LOCK_STALE_SECONDS, hold_lock

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

#: Bumped when the on-disk layout or a column type changes; an older store is refused clearly.
STORE_SCHEMA_VERSION = 1

PICKLIST_COLUMNS: dict[str, str] = {
    "entity": "string",
    "field": "string",
    "value": "Int64",
    "label": "string",
    "parent_value": "Int64",
    "is_active": "boolean",
    "sort_order": "Int64",
}
UDF_COLUMNS: dict[str, str] = {
    "entity": "string",
    "name": "string",
    "label": "string",
    "data_type": "string",
    "is_picklist": "boolean",
    "is_required": "boolean",
    "is_active": "boolean",
}

_CURRENT = "CURRENT"
_STATE = "state.json"
_FAILED = "failed-runs.jsonl"
_PICKLISTS = "_picklists.parquet"
_UDFS = "_udfs.parquet"
_CORRUPT = "corrupt"
#: What a user reads next to an unreadable-store error.
REPAIR_HINT = (
    "`ticket-audit extract` (or `ticket-audit run`) repairs the store: it falls back to the last "
    "good snapshot, or re-extracts in full"
)
#: Snapshots kept besides the current one, so a reader that resolved CURRENT just before a
#: publish can still finish reading the previous snapshot.
_KEEP_PREVIOUS = 1


# --------------------------------------------------------------------------------------- state


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_dt(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class RunEntry:
    """One line of the run log."""

    run_id: str
    started: datetime
    finished: datetime | None = None
    as_of: datetime | None = None
    status: str = "ok"  # ok | failed | interrupted
    fetched: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    deleted_tickets: int = 0
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("started", "finished", "as_of"):
            data[key] = _iso(data[key])
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunEntry:
        return cls(
            run_id=str(data["run_id"]),
            started=_parse_dt(data["started"]) or datetime.fromtimestamp(0, UTC),
            finished=_parse_dt(data.get("finished")),
            as_of=_parse_dt(data.get("as_of")),
            status=str(data.get("status", "ok")),
            fetched={str(k): int(v) for k, v in (data.get("fetched") or {}).items()},
            requests=int(data.get("requests", 0)),
            deleted_tickets=int(data.get("deleted_tickets", 0)),
            error=data.get("error"),
        )


@dataclass(frozen=True)
class StoreState:
    """``state.json`` of a snapshot: what the next run needs, and what the last runs did."""

    schema_version: int = STORE_SCHEMA_VERSION
    run_id: str | None = None
    as_of: datetime | None = None
    watermarks: dict[str, datetime] = field(default_factory=dict)
    #: Per child entity, the earliest instant its rows are complete from (first run's window);
    #: tickets older than it entering the snapshot later get their children back-filled.
    coverage: dict[str, datetime] = field(default_factory=dict)
    #: Per entity, ids of rows dated after the run that read them (kept out of the watermark):
    #: each is logged once, not on every run that reads it again.
    future_rows: dict[str, list[int]] = field(default_factory=dict)
    zone_name: str | None = None
    web_url: str | None = None
    ruleset_version: str | None = None
    runs: list[RunEntry] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "run_id": self.run_id,
            "as_of": _iso(self.as_of),
            "watermarks": {k: _iso(v) for k, v in sorted(self.watermarks.items())},
            "coverage": {k: _iso(v) for k, v in sorted(self.coverage.items())},
            "future_rows": {k: sorted(v) for k, v in sorted(self.future_rows.items()) if v},
            "zone_name": self.zone_name,
            "web_url": self.web_url,
            "ruleset_version": self.ruleset_version,
            "runs": [r.to_json() for r in self.runs],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StoreState:
        def instants(key: str) -> dict[str, datetime]:
            out = {}
            for name, value in (data.get(key) or {}).items():
                parsed = _parse_dt(value)
                if parsed is not None:
                    out[str(name)] = parsed
            return out

        return cls(
            schema_version=int(data.get("schema_version", 0)),
            run_id=data.get("run_id"),
            as_of=_parse_dt(data.get("as_of")),
            watermarks=instants("watermarks"),
            coverage=instants("coverage"),
            future_rows={
                str(k): [int(i) for i in v if isinstance(i, int)]
                for k, v in (data.get("future_rows") or {}).items()
                if isinstance(v, list)
            },
            zone_name=data.get("zone_name"),
            web_url=data.get("web_url"),
            # Stores written by 0.1 spell the key "rule_set_version"; they are still read.
            ruleset_version=data.get("ruleset_version", data.get("rule_set_version")),
            runs=[RunEntry.from_json(r) for r in data.get("runs") or []],
        )


# ------------------------------------------------------------------------- reference frames


def _typed(rows: Sequence[Mapping[str, Any]], columns: Mapping[str, str]) -> pd.DataFrame:
    data = {name: pd.Series([r.get(name) for r in rows], dtype="object") for name in columns}
    frame = pd.DataFrame(data, columns=list(columns))
    return (
        frame.astype(dict(columns))
        if len(frame)
        else pd.DataFrame({n: pd.Series([], dtype=t) for n, t in columns.items()})
    )


def _int_or_none(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _bool_or_none(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes"}
    return bool(value)


def picklists_frame(fields_by_entity: Mapping[str, Sequence[Mapping[str, Any]]]) -> pd.DataFrame:
    """``entityInformation/fields`` answers -> the ``_picklists`` frame.

    Picklist values are strings in this API but integers on records: they are stored as ints so
    they join with record columns. A value that is not an integer cannot appear on a record
    and is dropped. UDF picklists (given under the same entity) land with field ``udf:<name>``
    when the caller passes them with that name.
    """
    rows: list[dict[str, Any]] = []
    for ent, fields in sorted(fields_by_entity.items()):
        for fld in fields:
            if not fld.get("isPickList") and not fld.get("picklistValues"):
                continue
            for pv in fld.get("picklistValues") or []:
                value = _int_or_none(pv.get("value"))
                if value is None:
                    continue
                rows.append(
                    {
                        "entity": ent,
                        "field": str(fld.get("name")),
                        "value": value,
                        "label": None if pv.get("label") is None else str(pv.get("label")),
                        "parent_value": _int_or_none(pv.get("parentValue")),
                        "is_active": _bool_or_none(pv.get("isActive")),
                        "sort_order": _int_or_none(pv.get("sortOrder")),
                    }
                )
    frame = _typed(rows, PICKLIST_COLUMNS)
    return frame.sort_values(["entity", "field", "value"], kind="stable").reset_index(drop=True)


def udfs_frame(udfs_by_entity: Mapping[str, Sequence[Mapping[str, Any]]]) -> pd.DataFrame:
    """``entityInformation/userDefinedFields`` answers -> the ``_udfs`` frame."""
    rows = [
        {
            "entity": ent,
            "name": str(u.get("name")),
            "label": None if u.get("label") is None else str(u.get("label")),
            # UDF definitions call it ``type`` (REST swagger: UserDefinedFieldInformationResultModel).
            "data_type": None if u.get("type") is None else str(u.get("type")),
            "is_picklist": _bool_or_none(u.get("isPickList")),
            "is_required": _bool_or_none(u.get("isRequired")),
            "is_active": _bool_or_none(u.get("isActive", True)),
        }
        for ent, udfs in sorted(udfs_by_entity.items())
        for u in udfs
    ]
    frame = _typed(rows, UDF_COLUMNS)
    return frame.sort_values(["entity", "name"], kind="stable").reset_index(drop=True)


# ----------------------------------------------------------------------------- file helpers


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    # pyarrow via pandas keeps the pandas dtypes (Int64, string, boolean, UTC) in the file's
    # metadata, so a read gives back exactly what records_to_frame produced.
    frame.to_parquet(path, engine="pyarrow", index=False)
    fsync_path(path)


def new_run_id() -> str:
    # Sortable by time, unique across hosts and processes.
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ") + "-" + uuid.uuid4().hex[:8]


# ------------------------------------------------------------------------------------ store


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
        return (self.path / _CURRENT).is_file()

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
                text = (self.path / _CURRENT).read_text(encoding="utf-8").strip()
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
            self._state = _read_state(snap / _STATE)
        return self._state

    @property
    def web_url(self) -> str | None:
        return self.state.web_url

    def read(self, entity: str) -> pd.DataFrame:
        """The entity's frame, typed as ``records_to_frame`` makes it; empty typed when absent."""
        spec = _spec(entity)
        snap = self.snapshot_dir
        udf_names = self._udf_names(spec) if spec.has_udfs else []
        if snap is None or not (snap / f"{spec.name}.parquet").is_file():
            return empty_frame(spec, udf_names)
        frame = _read_parquet(snap / f"{spec.name}.parquet")
        return _conform(frame, spec, udf_names, snap / f"{spec.name}.parquet")

    def rows(self, entity: str) -> int:
        """Rows of the entity in the published snapshot, from the parquet footer (no data read)."""
        snap = self.snapshot_dir
        path = None if snap is None else snap / f"{_spec(entity).name}.parquet"
        if path is None or not path.is_file():
            return 0
        try:
            return int(pq.ParquetFile(path).metadata.num_rows)
        except (OSError, ValueError, pa.ArrowException) as exc:
            raise StoreError(
                f"snapshot store: {path} is unreadable or corrupt: {exc}; {REPAIR_HINT}"
            ) from exc

    def picklists(self) -> pd.DataFrame:
        return self._read_aux(_PICKLISTS, PICKLIST_COLUMNS)

    def udf_definitions(self) -> pd.DataFrame:
        return self._read_aux(_UDFS, UDF_COLUMNS)

    def _read_aux(self, name: str, columns: Mapping[str, str]) -> pd.DataFrame:
        snap = self.snapshot_dir
        if snap is None or not (snap / name).is_file():
            return _typed([], columns)
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
            (self.path / _CORRUPT).mkdir(exist_ok=True)
            target = self.path / _CORRUPT / bad
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
            write_bytes_atomic(self.path / _CURRENT, (candidate + "\n").encode())
            self.refresh()
            message = (
                f"snapshot store {self.path}: the current snapshot {bad or '(unknown)'} is unreadable "
                f"({problem}){set_aside}; falling back to the previous good snapshot {candidate}: this run "
                f"re-fetches everything since it"
            )
            log.warning("%s", message)
            return message
        (self.path / _CURRENT).unlink(missing_ok=True)
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
            text = (self.path / _CURRENT).read_text(encoding="utf-8").strip()
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
            for p in self.path.glob(f".{_CURRENT}.*.tmp"):  # a pointer swap killed mid-write
                p.unlink(missing_ok=True)

    def failed_runs(self) -> list[RunEntry]:
        """Run-log entries of runs that stopped without publishing, not yet folded in."""
        path = self.path / _FAILED
        if not path.is_file():
            return []
        entries = []
        for line in path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError, KeyError, TypeError):
                entries.append(RunEntry.from_json(json.loads(line)))
        return entries

    def _log_failed(self, entry: RunEntry) -> None:
        with contextlib.suppress(OSError), open(self.path / _FAILED, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry.to_json(), sort_keys=True) + "\n")

    # -- locking -----------------------------------------------------------------------

    def lock(self, *, break_lock: bool = False) -> contextlib.AbstractContextManager[None]:
        """Exclusive hold of the store for one run (:mod:`audit.store.lock`: host, pid, boot id,
        heartbeat; a stale lock is recovered, ``break_lock`` takes over a live-looking one).

        A second holder gets :class:`StoreLockedError` naming the holder.
        """
        return hold_lock(self.path, stale_after=self.lock_stale_after, break_lock=break_lock)


def _spec(entity: str) -> EntitySpec:
    try:
        return ENTITIES[entity]
    except KeyError:
        raise StoreError(f"unknown entity {entity!r}; the store holds: {', '.join(ENTITIES)}") from None


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


# ---------------------------------------------------------------------------------- staging


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
        spec = _spec(entity)
        missing = [c for c in spec.fields if c not in frame.columns]
        if missing:
            raise StoreError(f"staging {entity}: frame lacks columns {missing}")
        self._write_file(f"{spec.name}.parquet", frame)

    def write_picklists(self, frame: pd.DataFrame) -> None:
        self._write_file(_PICKLISTS, frame[list(PICKLIST_COLUMNS)].astype(PICKLIST_COLUMNS))

    def write_udfs(self, frame: pd.DataFrame) -> None:
        self._write_file(_UDFS, frame[list(UDF_COLUMNS)].astype(UDF_COLUMNS))

    def _write_file(self, name: str, frame: pd.DataFrame) -> None:
        self._check_open()
        _write_parquet(frame.reset_index(drop=True), self.dir / name)
        self._written.add(name)

    def set_watermark(self, entity: str, value: datetime | None) -> None:
        _spec(entity)
        if value is None:
            self._watermarks.pop(entity, None)
        else:
            self._watermarks[entity] = value.astimezone(UTC)

    def set_coverage(self, entity: str, value: datetime) -> None:
        _spec(entity)
        self._coverage[entity] = value.astimezone(UTC)

    def set_future_rows(self, entity: str, ids: Sequence[int]) -> None:
        _spec(entity)
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
                    _link_or_copy(src, self.dir / src.name)
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
        write_bytes_atomic(self.dir / _STATE, json.dumps(state.to_json(), indent=1, sort_keys=True).encode())
        fsync_dir(self.dir)
        target = store.path / "snapshots" / self.run_id
        os.replace(self.dir, target)  # same filesystem: an atomic folder rename
        fsync_dir(target.parent)
        # The commit point: before it the old snapshot is current, after it the new one.
        write_bytes_atomic(store.path / _CURRENT, (self.run_id + "\n").encode())
        self.published = True
        store._current, store._state = self.run_id, state
        with contextlib.suppress(OSError):
            (store.path / _FAILED).unlink(missing_ok=True)
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


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
