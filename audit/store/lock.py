"""The snapshot store's lock: one run at a time, and a lock left behind is recovered.

The lock is a small JSON file, ``<store>/lock``::

    {"host", "pid", "pid_ns", "boot_id", "started", "heartbeat", "token"}

Taking it is atomic: the record is written whole to ``.lock.<hex>``, then hard-linked to
``lock`` (``link()`` fails when the lock exists, and a reader never sees a half-written file).
While the run holds it, a heartbeat thread rewrites the record every ``stale_after / 5``
seconds with a fresh ``heartbeat``.

A lock is **stale**, and taken over with a warning, when

* its heartbeat is older than ``stale_after`` seconds (``store_lock_stale_seconds`` in the
  config, default 600): whatever host, container or PID wrote it, a live holder would have
  refreshed it. This recovers the locks the documented deployments leave behind: a CI cache
  saved after a killed run, a Kubernetes pod that came back with a new hostname, a Docker
  ENTRYPOINT that ran as PID 1;
* or, at once, its holder provably is gone: same host, same boot (``boot_id``) and same PID
  namespace as ours (only then do PIDs mean the same process) and that PID is not running, or
  it is our own PID but not a lock this process holds (a restarted PID 1).

Otherwise :class:`~audit.core.errors.StoreLockedError` names the holder, its last heartbeat and how
to proceed; ``break_lock=True`` (``--break-lock``) takes the lock over anyway, with a warning.

Taking over renames the old lock to ``lock.stale.<hex>`` first, so two recoverers cannot both
delete a fresh lock. Files a run killed at the wrong moment leaves (``.lock.<hex>``,
``lock.stale.<hex>``) are removed by the next run once it holds the lock.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import socket
import threading
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from audit.core.errors import StoreLockedError

__all__ = ["LOCK_FILE", "LOCK_STALE_SECONDS", "hold_lock", "read_lock"]

log = logging.getLogger("audit.store.snapshot")

LOCK_FILE = "lock"
#: Seconds without a heartbeat after which a lock is stale (``store_lock_stale_seconds``).
LOCK_STALE_SECONDS = 600.0
#: What a killed run may leave: its temp record, or a lock it was taking over.
_LEFTOVER = re.compile(rf"^(\.{LOCK_FILE}\.[0-9a-f]{{32}}|{LOCK_FILE}\.stale\.[0-9a-f]{{32}})$")
#: Tokens of the locks this process holds (a lock naming our PID but not listed is a leftover).
_HELD: set[str] = set()


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip() or None
    except OSError:
        return None


def _pid_namespace() -> str | None:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def read_lock(path: Path) -> dict[str, Any] | None:
    """The lock's record; ``None`` when there is no lock. An unparseable file (written by hand or
    by an older tool) proves no holder: it reads as one whose PID is gone."""
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "null")
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"pid": -1, "host": socket.gethostname()}
    return data if isinstance(data, dict) else None


def _heartbeat(holder: Mapping[str, Any], path: Path) -> datetime | None:
    """The holder's last sign of life: its ``heartbeat`` (``time`` in older locks), else the
    file's modification time."""
    for key in ("heartbeat", "time"):
        with contextlib.suppress(TypeError, ValueError):
            moment = datetime.fromisoformat(str(holder.get(key)).replace("Z", "+00:00"))
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except OSError:
        return None


def _gone(holder: Mapping[str, Any]) -> bool:
    """Whether the holder's process provably no longer runs (see the module docstring)."""
    if holder.get("host") != socket.gethostname():
        return False
    # Older locks lack boot id and namespace: the host alone then decides, as it used to.
    for key, mine in (("boot_id", _boot_id()), ("pid_ns", _pid_namespace())):
        if holder.get(key) is not None and holder.get(key) != mine:
            return False
    try:
        pid = int(holder.get("pid", -1))
    except (TypeError, ValueError):
        return True
    if pid == os.getpid():
        return holder.get("token") not in _HELD
    return pid <= 0 or not _pid_alive(pid)


def _describe(holder: Mapping[str, Any], beat: datetime | None) -> str:
    age = f" ({(_now() - beat).total_seconds():.0f} s ago)" if beat is not None else ""
    return (
        f"pid {holder.get('pid')} on {holder.get('host')} since {holder.get('started') or holder.get('time')}, "
        f"last heartbeat {_iso(beat) if beat else 'unknown'}{age}"
    )


def _write(path: Path, record: Mapping[str, Any]) -> Path:
    tmp = path.with_name(f".{LOCK_FILE}.{uuid.uuid4().hex}")
    tmp.write_text(json.dumps(record), encoding="utf-8")
    return tmp


def _take_over(path: Path, why: str) -> None:
    # Rename first so two recoverers cannot both delete a fresh lock.
    stale = path.with_name(f"{LOCK_FILE}.stale.{uuid.uuid4().hex}")
    with contextlib.suppress(FileNotFoundError):
        os.replace(path, stale)
        log.warning("store %s: %s", path.parent, why)
        stale.unlink(missing_ok=True)


def _acquire(path: Path, record: dict[str, Any], stale_after: float, break_lock: bool) -> None:
    for _ in range(5):
        tmp = _write(path, record)
        try:
            os.link(tmp, path)
            return
        except FileNotFoundError:  # our temp record was cleaned away by the holder: look again
            continue
        except FileExistsError:
            holder = read_lock(path)
            if holder is None:  # released meanwhile: look again
                continue
            beat = _heartbeat(holder, path)
            who = _describe(holder, beat)
            if _gone(holder):
                _take_over(path, f"recovered the stale lock of {who}: that process is gone")
            elif beat is None or (_now() - beat).total_seconds() > stale_after:
                _take_over(
                    path, f"recovered the stale lock of {who}: no heartbeat for over {stale_after:g} s"
                )
            elif break_lock:
                _take_over(path, f"--break-lock: took over the lock of {who}")
            else:
                raise StoreLockedError(
                    f"snapshot store {path.parent} is locked by {who}. Wait for that run; a lock without a "
                    f"heartbeat for {stale_after:g} s (store_lock_stale_seconds) is recovered by itself. If you "
                    f"are sure that run is gone, run again with --break-lock"
                ) from None
        finally:
            tmp.unlink(missing_ok=True)
    raise StoreLockedError(f"snapshot store {path.parent}: could not take the lock {path}")


def _clean_leftovers(folder: Path) -> None:
    """Temp records and renamed locks of runs killed while taking or recovering the lock."""
    for p in folder.iterdir():
        if _LEFTOVER.match(p.name):
            with contextlib.suppress(OSError):
                p.unlink()
                log.info("store %s: removed %s left by a killed run", folder, p.name)


class _Heartbeat(threading.Thread):
    """Refreshes the lock's ``heartbeat`` while the run holds it; stops when it is no longer ours."""

    def __init__(self, path: Path, record: dict[str, Any], interval: float) -> None:
        super().__init__(name="store-lock-heartbeat", daemon=True)
        self.path, self.record, self.interval = path, record, interval
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.interval):
            holder = read_lock(self.path)
            if holder is None or holder.get("token") != self.record["token"]:
                log.error(
                    "store %s: this run's lock was taken over (--break-lock?); heartbeat stopped",
                    self.path.parent,
                )
                return
            self.record["heartbeat"] = _iso(_now())
            tmp = _write(self.path, self.record)
            try:
                os.replace(tmp, self.path)  # atomic: readers see the old record or the new one
            except OSError as exc:
                tmp.unlink(missing_ok=True)
                log.warning("store %s: could not refresh the lock's heartbeat: %s", self.path.parent, exc)


@contextlib.contextmanager
def hold_lock(
    folder: Path, *, stale_after: float = LOCK_STALE_SECONDS, break_lock: bool = False
) -> Iterator[None]:
    """Hold ``folder``'s lock for the block (see the module docstring)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_FILE
    started = _iso(_now())
    record: dict[str, Any] = {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "pid_ns": _pid_namespace(),
        "boot_id": _boot_id(),
        "started": started,
        "heartbeat": started,
        "token": uuid.uuid4().hex,
    }
    _acquire(path, record, stale_after, break_lock)
    _HELD.add(record["token"])
    beat = _Heartbeat(path, record, max(stale_after / 5, 0.05))
    try:
        _clean_leftovers(folder)
        beat.start()
        yield
    finally:
        beat.done.set()
        if beat.is_alive():
            beat.join()
        _HELD.discard(record["token"])
        holder = read_lock(path)
        if holder is not None and holder.get("token") == record["token"]:
            path.unlink(missing_ok=True)
