"""Doctor check of the snapshot store: readable, not locked, writable; nothing is written."""

from __future__ import annotations

import contextlib
import os
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow.parquet as pq

from audit.app.checks.result import CheckResult, fail, ok, warn
from audit.core.errors import (
    StoreError,
)
from audit.store.snapshot import Store

if TYPE_CHECKING:
    pass


def _nearest_existing(path: Path) -> Path | None:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return None


def check_store(store_path: Path) -> list[CheckResult]:
    # Everything below only reads: Store.exists/state/picklists/failed_runs never write, and
    # the lock is inspected as a file, never taken.
    if not store_path.exists():
        parent = _nearest_existing(store_path.absolute().parent)
        if parent is None or not os.access(parent, os.W_OK | os.X_OK):
            return [
                fail(
                    "store",
                    f"{store_path} does not exist and {parent} is not writable",
                    "create the folder for the job's user, or point --store / `store` elsewhere",
                )
            ]
        return [warn("store", f"{store_path} does not exist yet: the first run will create it")]
    if not store_path.is_dir():
        return [fail("store", f"{store_path} is not a folder", "point --store / `store` at a folder")]
    store = Store(store_path)
    results: list[CheckResult] = []
    try:
        if not store.exists():
            results.append(
                warn(
                    "store",
                    f"{store_path} holds no published snapshot yet: the next run extracts "
                    "everything (initial_days)",
                )
            )
        else:
            state = store.state
            snap = store.snapshot_dir
            assert snap is not None  # exists() said CURRENT names a snapshot
            store.picklists()
            store.udf_definitions()
            # Parquet footers are cheap to read and catch truncated or foreign files.
            files = sorted(snap.glob("*.parquet"))
            for f in files:
                try:
                    pq.read_metadata(f)
                except Exception as exc:
                    raise StoreError(f"{f} is unreadable or corrupt: {exc}") from exc
            last = state.runs[-1] if state.runs else None
            as_of = state.as_of.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if state.as_of else "unknown"
            message = f"snapshot {store.snapshot_id} readable ({len(files)} files, as of {as_of}"
            message += f", {len(state.runs)} run(s) logged)" if last else ")"
            results.append(ok("store", message))
        failed = store.failed_runs()
        if failed:
            err = failed[-1].error or failed[-1].status
            results.append(
                warn(
                    "store",
                    f"{len(failed)} run(s) stopped without publishing since the last "
                    f"snapshot; the last: {err}",
                    "see `ticket-audit history`",
                )
            )
    except StoreError as exc:
        return [
            fail("store", str(exc), "fix or move the store aside; a new store is rebuilt by the next run")
        ]
    except OSError as exc:
        return [fail("store", f"{store_path} is unreadable: {exc}", "check the folder's permissions")]
    lock = store_path / "lock"
    if lock.exists():
        with contextlib.suppress(OSError):
            holder = lock.read_text(encoding="utf-8").strip()
            results.append(
                warn(
                    "store",
                    f"locked by {holder or 'an unknown process'}",
                    "a run is in progress, or a killed one left its lock (taken over when stale)",
                )
            )
    if not os.access(store_path, os.W_OK | os.X_OK):
        results.append(
            fail(
                "store",
                f"{store_path} is not writable by this user",
                "the nightly run writes here: fix the folder's owner or permissions",
            )
        )
    return results
