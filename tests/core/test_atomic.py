"""The one atomic-write helper: whole file or the old one, no temp file left behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from audit.core import atomic
from audit.core.atomic import atomic_path, write_bytes_atomic, write_text_atomic


def test_write_text_replaces_the_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "gate.json"  # the parent folder is created
    write_text_atomic(target, "old\n")
    assert write_text_atomic(target, "névé\n") == target
    assert target.read_bytes() == "névé\n".encode()
    assert sorted(p.name for p in target.parent.iterdir()) == ["gate.json"]


def test_write_bytes_fsyncs_the_file_and_its_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(atomic.os, "fsync", spy)
    target = tmp_path / "CURRENT"
    write_bytes_atomic(target, b"run\n")
    # The temp file before the rename, then the folder that holds the rename.
    assert len(synced) == 2
    assert Path(synced[0]).name.startswith(".CURRENT.") and synced[0].endswith(".tmp")
    assert Path(synced[1]) == tmp_path


def test_a_failed_writer_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "report.pdf"
    target.write_bytes(b"last week")
    with pytest.raises(RuntimeError, match="renderer died"), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("renderer died")
    assert target.read_bytes() == b"last week"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.pdf"]


def test_a_writer_may_fill_a_folder(tmp_path: Path) -> None:
    target = tmp_path / "technicians"
    with atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "t1.pdf").write_bytes(b"%PDF")
    assert (target / "t1.pdf").read_bytes() == b"%PDF"
    with pytest.raises(ValueError), atomic_path(tmp_path / "other") as tmp:
        tmp.mkdir()
        (tmp / "t2.pdf").write_bytes(b"%PDF")
        raise ValueError
    assert sorted(p.name for p in tmp_path.iterdir()) == ["technicians"]
