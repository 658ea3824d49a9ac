"""The snapshot store's file layout and its parquet writes (fsynced; atomic writes: audit.core.atomic).

Shared by the reader (:mod:`audit.store.snapshot`) and the writer (:mod:`audit.store.staging`).
"""

from __future__ import annotations

import os
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from audit.core.atomic import fsync_path
from audit.core.errors import StoreError
from audit.source.schema import ENTITIES, EntitySpec

__all__ = [
    "CORRUPT",
    "CURRENT",
    "FAILED_RUNS",
    "PICKLISTS",
    "REPAIR_HINT",
    "STATE",
    "UDFS",
    "entity_spec",
    "link_or_copy",
    "new_run_id",
    "write_parquet",
]

CURRENT = "CURRENT"
STATE = "state.json"
FAILED_RUNS = "failed-runs.jsonl"
PICKLISTS = "_picklists.parquet"
UDFS = "_udfs.parquet"
CORRUPT = "corrupt"
#: What a user reads next to an unreadable-store error.
REPAIR_HINT = (
    "`ticket-audit extract` (or `ticket-audit run`) repairs the store: it falls back to the last "
    "good snapshot, or re-extracts in full"
)


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    # pyarrow via pandas keeps the pandas dtypes (Int64, string, boolean, UTC) in the file's
    # metadata, so a read gives back exactly what records_to_frame produced.
    frame.to_parquet(path, engine="pyarrow", index=False)
    fsync_path(path)


def new_run_id() -> str:
    # Sortable by time, unique across hosts and processes.
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ") + "-" + uuid.uuid4().hex[:8]


def link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def entity_spec(entity: str) -> EntitySpec:
    try:
        return ENTITIES[entity]
    except KeyError:
        raise StoreError(f"unknown entity {entity!r}; the store holds: {', '.join(ENTITIES)}") from None
