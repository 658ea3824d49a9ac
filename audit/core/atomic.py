"""Atomic file writes: a reader sees the old file or the new one, never half of either.

Every file ticket-audit replaces in place (reports, the gate file, a baseline, the waiver and
verdict stores, the snapshot store's pointer and state) goes through here. The content is written
to a temp file beside the target (``.<name>.<hex>.tmp``: same folder, so the rename stays on one
filesystem), flushed to disk, renamed over the target with ``os.replace``, and the folder is
fsynced so the rename itself survives a power cut.

:func:`atomic_path` is for writers that want a path rather than bytes (openpyxl, WeasyPrint,
pandas); it may also be a folder the writer fills.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "fsync_dir", "fsync_path", "write_bytes_atomic", "write_text_atomic"]


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Make the renames and new entries inside folder ``path`` durable.

    Best effort: not every filesystem lets a folder be opened and fsynced.
    """
    with contextlib.suppress(OSError):
        _fsync(path)


def fsync_path(path: Path) -> None:
    """Flush a written file to disk; for a folder, every file under it and the folder itself."""
    if path.is_dir():
        for child in path.rglob("*"):
            if child.is_file():
                _fsync(child)
        fsync_dir(path)
        return
    _fsync(path)


def _temp_beside(path: Path) -> Path:
    # Hidden and unique: concurrent writers never share a temp file, and a glob of the
    # folder's visible files never sees one.
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temp path to write; when the block ends without error it replaces ``path``.

    The parent folder is created when missing. On error the temp file (or folder) is removed,
    ``path`` is left as it was, and the error propagates.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_beside(target)
    try:
        yield tmp
        fsync_path(tmp)
        os.replace(tmp, target)
    except BaseException:
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Replace ``path`` with ``data`` atomically and durably; returns the path."""
    target = Path(path)
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
    return target


def write_text_atomic(path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8") -> Path:
    """Replace ``path`` with ``text`` atomically and durably; returns the path."""
    return write_bytes_atomic(path, text.encode(encoding))
