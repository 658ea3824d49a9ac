"""The store lock against the locks real deployments leave behind: a CI cache saved after a killed
run, a pod back with a new hostname, a Docker ENTRYPOINT that ran as PID 1, a run killed while
taking the lock; the heartbeat that keeps a long run's lock alive; ``--break-lock``."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from audit.core.errors import StoreLockedError
from audit.store.lock import _boot_id, _pid_namespace
from audit.store.snapshot import Store
from tests.e2e_support import AS_OF, loopback_api, ticket_audit


def _stamp(ago: float) -> str:
    return (datetime.now(UTC) - timedelta(seconds=ago)).isoformat().replace("+00:00", "Z")


def _plant(store: Path, **record: Any) -> None:
    store.mkdir(parents=True, exist_ok=True)
    (store / "lock").write_text(json.dumps(record), encoding="utf-8")


def _holder(store: Path) -> dict[str, Any]:
    return dict(json.loads((store / "lock").read_text(encoding="utf-8")))


def test_the_lock_records_who_holds_it_and_a_heartbeat_keeps_it_alive(tmp_path: Path) -> None:
    store = Store(tmp_path, lock_stale_after=0.5)
    with store.lock():
        first = _holder(tmp_path)
        assert first["host"] == socket.gethostname() and first["pid"] == os.getpid()
        assert first["boot_id"] == _boot_id() and first["pid_ns"] == _pid_namespace()
        assert first["started"] == first["heartbeat"] and first["token"]
        time.sleep(1.2)  # well past the stale timeout: only the heartbeat keeps the lock
        later = _holder(tmp_path)
        assert later["heartbeat"] > first["heartbeat"] and later["started"] == first["started"]
        with pytest.raises(StoreLockedError, match="last heartbeat"):
            with Store(tmp_path, lock_stale_after=0.5).lock():
                pass
    assert not (tmp_path / "lock").exists()


@pytest.mark.parametrize(
    "where",
    [
        {"host": "runner-7f3c9"},  # restored from a CI cache, written by another runner
        {"host": "ticket-audit-28861440-x2kq9"},  # a CronJob pod that is gone
        {"host": socket.gethostname(), "pid": 1, "pid_ns": "pid:[1]"},  # a container's PID 1, restarted
    ],
)
def test_a_lock_without_a_heartbeat_for_the_timeout_is_recovered(
    where: dict[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _plant(
        tmp_path,
        **{
            "pid": 4242,
            "boot_id": "another-boot",
            "started": _stamp(7200),
            "heartbeat": _stamp(601),
            **where,
        },
    )
    with caplog.at_level(logging.WARNING, logger="audit.store.snapshot"), Store(tmp_path).lock():
        assert _holder(tmp_path)["pid"] == os.getpid()
    assert any(
        "no heartbeat for over 600 s" in r.getMessage() and where["host"] in r.getMessage()
        for r in caplog.records
    )


def test_a_live_looking_lock_names_its_holder_and_break_lock_takes_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _plant(tmp_path, host="other-host", pid=31, boot_id="b", started=_stamp(30), heartbeat=_stamp(5))
    with pytest.raises(StoreLockedError) as info:
        with Store(tmp_path).lock():
            pass
    message = str(info.value)
    assert "pid 31 on other-host" in message and "last heartbeat" in message
    assert "600 s (store_lock_stale_seconds)" in message and "--break-lock" in message
    with (
        caplog.at_level(logging.WARNING, logger="audit.store.snapshot"),
        Store(tmp_path).lock(break_lock=True),
    ):
        assert _holder(tmp_path)["pid"] == os.getpid()
    assert any(
        "--break-lock: took over the lock of pid 31 on other-host" in r.getMessage() for r in caplog.records
    )


def test_our_own_pid_in_a_lock_we_do_not_hold_is_a_previous_life(tmp_path: Path) -> None:
    # A container restarted in place (same host, boot and PID namespace) gets PID 1 again: the
    # lock names "us", yet this process never took it. It is recovered at once, heartbeat or not.
    _plant(
        tmp_path,
        host=socket.gethostname(),
        pid=os.getpid(),
        boot_id=_boot_id(),
        pid_ns=_pid_namespace(),
        started=_stamp(3),
        heartbeat=_stamp(1),
        token="from-a-previous-life",
    )
    with Store(tmp_path).lock():
        assert _holder(tmp_path)["token"] != "from-a-previous-life"


def test_a_live_process_elsewhere_keeps_its_lock(tmp_path: Path) -> None:
    # Same host name and PID 1, but another PID namespace: PIDs cannot be compared, the fresh
    # heartbeat decides.
    _plant(
        tmp_path,
        host=socket.gethostname(),
        pid=1,
        boot_id=_boot_id(),
        pid_ns="pid:[0]",
        started=_stamp(60),
        heartbeat=_stamp(2),
    )
    with pytest.raises(StoreLockedError, match="pid 1 on "):
        with Store(tmp_path).lock():
            pass


def test_files_left_by_a_run_killed_while_taking_the_lock_are_cleaned(tmp_path: Path) -> None:
    leftovers = [tmp_path / f".lock.{'a' * 32}", tmp_path / f"lock.stale.{'b' * 32}"]
    for path in leftovers:
        path.write_text('{"pid": 1}', encoding="utf-8")
    keep = tmp_path / ".lock.notes"  # not ours: left alone
    keep.write_text("x", encoding="utf-8")
    with Store(tmp_path).lock():
        assert not any(p.exists() for p in leftovers)
    assert keep.exists() and not (tmp_path / "lock").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock.notes"]


def test_break_lock_on_the_command_line(tmp_path: Path) -> None:
    store = tmp_path / "store"
    _plant(store, host="ci-runner-1", pid=77, boot_id="b", started=_stamp(20), heartbeat=_stamp(3))
    with loopback_api() as api:
        refused = ticket_audit("extract", "--store", store, "--as-of", AS_OF, cwd=tmp_path, env=api.env)
        assert refused.returncode == 3
        assert "locked by pid 77 on ci-runner-1" in refused.stderr and "--break-lock" in refused.stderr
        taken = ticket_audit(
            "extract", "--store", store, "--as-of", AS_OF, "--break-lock", cwd=tmp_path, env=api.env
        )
    assert taken.returncode == 0, taken.stderr
    assert "took over the lock of pid 77 on ci-runner-1" in taken.stderr
    assert not (store / "lock").exists()


@pytest.mark.slow
def test_a_run_killed_while_taking_the_lock_leaves_nothing_for_long(tmp_path: Path) -> None:
    # The taker is killed between writing its record and linking it into place.
    script = (
        "import os, sys, time\n"
        "from pathlib import Path\n"
        "from audit.store.snapshot import Store\n"
        "def stuck(src, dst):\n"
        "    print('writing', flush=True)\n"
        "    time.sleep(60)\n"
        "os.link = stuck\n"
        "with Store(Path(sys.argv[1])).lock():\n"
        "    pass\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "writing\n"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(".lock."), left
    with Store(tmp_path).lock():
        assert sorted(p.name for p in tmp_path.iterdir()) == ["lock"]
    assert list(tmp_path.iterdir()) == []
