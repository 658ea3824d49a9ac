"""The snapshot store: typed round trips, atomic publish, crash safety, corruption, locking."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from audit.core.errors import StoreError, StoreLockedError
from audit.source.records import records_to_frame
from audit.source.schema import ENTITIES
from audit.store.snapshot import Store, picklists_frame, udfs_frame

AS_OF = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)

TICKETS = [
    {
        "id": 2,
        "ticketNumber": "T20261120.0002",
        "title": "Printer - Paris - jammed",
        "status": 5,
        "createDate": "2026-11-19T09:15:52.407Z",
        "lastActivityDate": "2026-11-20T01:00:00",
        "serviceLevelAgreementHasBeenMet": True,
        "resolution": "",
        "userDefinedFields": [{"name": "Impact", "value": "High"}, {"name": "Urgency", "value": None}],
    },
    {"id": 1, "ticketNumber": "T20261118.0001", "title": None, "status": 1, "userDefinedFields": []},
]
FIELDS = [
    {
        "name": "status",
        "isPickList": True,
        "picklistValues": [
            {"value": "1", "label": "New", "isActive": True, "sortOrder": 1, "parentValue": None},
            {"value": "5", "label": "Complete", "isActive": True, "sortOrder": 2, "parentValue": ""},
        ],
    },
    {
        "name": "subIssueType",
        "isPickList": True,
        "picklistValues": [
            {"value": "12", "label": "Outlook", "isActive": False, "sortOrder": 3, "parentValue": "4"},
        ],
    },
    {"name": "title", "isPickList": False, "picklistValues": None},
]
UDFS = [{"name": "Impact", "label": "Impact", "type": "string", "isPickList": False, "isRequired": False},
        {"name": "Urgency", "label": "Urgency", "type": "string", "isPickList": False}]  # fmt: skip


def _tickets() -> pd.DataFrame:
    return records_to_frame(ENTITIES["Tickets"], TICKETS, ["Impact", "Urgency"])


def _publish(store: Store, frame: pd.DataFrame | None = None) -> str:
    with store.lock(), store.begin() as run:
        run.write("Tickets", _tickets() if frame is None else frame)
        run.write_picklists(picklists_frame({"Tickets": FIELDS}))
        run.write_udfs(udfs_frame({"Tickets": UDFS}))
        run.set_watermark("Tickets", AS_OF)
        run.set_zone("Sandbox", "http://127.0.0.1:1/")
        run.publish(as_of=AS_OF, fetched={"Tickets": 2}, requests=3)
        return run.run_id


def test_round_trip_is_typed_and_exact(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    assert not store.exists()
    empty = store.read("Tickets")
    assert list(empty.columns)[:2] == ["id", "ticketNumber"] and len(empty) == 0
    _publish(store)
    again = Store(tmp_path / "s")
    assert again.exists()
    pd.testing.assert_frame_equal(again.read("Tickets"), _tickets())
    assert len(again.read("TicketNotes")) == 0  # absent entity: empty typed frame
    assert again.read("TicketNotes")["ticketID"].dtype == "Int64"
    picks = again.picklists()
    assert picks["value"].dtype == "Int64" and picks["parent_value"].dtype == "Int64"
    assert picks.set_index(["field", "value"]).loc[("subIssueType", 12), "parent_value"] == 4
    assert sorted(picks["label"]) == ["Complete", "New", "Outlook"]
    assert list(again.udf_definitions()["name"]) == ["Impact", "Urgency"]
    state = again.state
    assert state.watermarks["Tickets"] == AS_OF and again.web_url == "http://127.0.0.1:1/"
    assert state.zone_name == "Sandbox"
    assert [r.status for r in state.runs] == ["ok"] and state.runs[0].fetched == {"Tickets": 2}


def test_publish_carries_over_unwritten_entities_and_gcs(tmp_path: Path) -> None:
    store = Store(tmp_path)
    _publish(store)
    with store.lock(), store.begin() as run:
        run.write("Resources", records_to_frame(ENTITIES["Resources"], [{"id": 4, "isActive": 1}]))
        run.publish(as_of=AS_OF)
    assert len(store.read("Tickets")) == 2 and len(store.read("Resources")) == 1
    for _ in range(3):
        with store.lock(), store.begin() as run:
            run.publish(as_of=AS_OF)
    assert len(list((tmp_path / "snapshots").iterdir())) == 2  # current + one previous
    assert len(store.state.runs) == 5


@pytest.mark.parametrize("where", ["write", "before_publish", "after_rename", "after_pointer"])
def test_crash_at_any_point_leaves_a_readable_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    store = Store(tmp_path)
    first = _publish(store)
    changed = records_to_frame(
        ENTITIES["Tickets"], [{"id": 9, "userDefinedFields": []}], ["Impact", "Urgency"]
    )
    import audit.store.staging as mod

    real_replace, real_atomic = os.replace, mod.write_bytes_atomic

    def boom_replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        real_replace(src, dst)
        if where == "after_rename" and Path(dst).parent.name == "snapshots":
            raise KeyboardInterrupt

    def boom_atomic(path: Path, data: bytes) -> None:
        real_atomic(path, data)
        if where == "after_pointer" and path.name == "CURRENT":
            raise KeyboardInterrupt

    monkeypatch.setattr(mod.os, "replace", boom_replace)
    monkeypatch.setattr(mod, "write_bytes_atomic", boom_atomic)
    with pytest.raises(KeyboardInterrupt), store.lock(), store.begin() as run:
        run.write("Tickets", changed)
        if where == "write":
            raise KeyboardInterrupt
        if where == "before_publish":
            run.set_watermark("Tickets", datetime(2030, 1, 1, tzinfo=UTC))
            raise KeyboardInterrupt
        run.publish(as_of=AS_OF)
    monkeypatch.undo()
    fresh = Store(tmp_path)
    ids = list(fresh.read("Tickets")["id"])
    if where == "after_pointer":  # the commit point passed: the new snapshot is the one
        assert ids == [9] and fresh.snapshot_id != first
    else:
        assert ids == [1, 2] and fresh.snapshot_id == first
        assert fresh.state.watermarks["Tickets"] == AS_OF
    _publish(fresh)  # the next run works and cleans up
    assert list(Store(tmp_path).read("Tickets")["id"]) == [1, 2]
    assert not list((tmp_path / "staging").iterdir())
    assert any(r.status == "interrupted" for r in Store(tmp_path).state.runs) or where == "after_pointer"


@pytest.mark.slow
def test_sigkill_during_publish_keeps_the_last_good_snapshot(tmp_path: Path) -> None:
    store = Store(tmp_path)
    first = _publish(store)
    # A child process publishes in a loop and is killed with SIGKILL at a random moment.
    code = f"""
import os, signal, sys, threading
from datetime import UTC, datetime
sys.path.insert(0, {str(Path(__file__).parent)!r})
from test_snapshot import _publish
from audit.store.snapshot import Store
store = Store({str(tmp_path)!r})
n = 0
while True:
    _publish(store)
    n += 1
    if n == 3:
        print("ready", flush=True)
"""
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    proc.kill()
    proc.wait()
    fresh = Store(tmp_path)
    pd.testing.assert_frame_equal(fresh.read("Tickets"), _tickets())
    assert fresh.snapshot_id is not None and fresh.snapshot_id >= first
    _publish(fresh)  # stale lock of the dead pid is recovered
    pd.testing.assert_frame_equal(Store(tmp_path).read("Tickets"), _tickets())


def test_corrupt_store_raises_store_error(tmp_path: Path) -> None:
    store = Store(tmp_path)
    _publish(store)
    snap = store.snapshot_dir
    assert snap is not None
    (snap / "Tickets.parquet").write_bytes(b"not parquet")
    with pytest.raises(StoreError, match=r"Tickets.parquet is unreadable or corrupt"):
        Store(tmp_path).read("Tickets")
    (snap / "state.json").write_text("{", encoding="utf-8")
    with pytest.raises(StoreError, match=r"state.json is unreadable"):
        _ = Store(tmp_path).state
    (snap / "state.json").write_text(json.dumps({"schema_version": 99}), encoding="utf-8")
    with pytest.raises(StoreError, match=r"schema version 99"):
        _ = Store(tmp_path).state
    (tmp_path / "CURRENT").write_text("nope\n", encoding="utf-8")
    with pytest.raises(StoreError, match=r"CURRENT names snapshot 'nope', which is missing"):
        Store(tmp_path).read("Tickets")
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(StoreError, match=r"not a folder"):
        Store(tmp_path / "file").exists()
    with pytest.raises(StoreError, match=r"unknown entity"):
        Store(tmp_path).read("Nope")


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_unreadable_snapshot_error_names_the_file_and_the_repair(tmp_path: Path) -> None:
    store = Store(tmp_path)
    _publish(store)
    assert store.snapshot_dir is not None
    _truncate(store.snapshot_dir / "Tickets.parquet")
    with pytest.raises(StoreError, match=r"Tickets.parquet is unreadable or corrupt.*`ticket-audit extract`"):
        Store(tmp_path).read("Tickets")
    with pytest.raises(StoreError, match=r"Tickets.parquet"):
        Store(tmp_path).verify()


def test_recover_falls_back_to_the_previous_good_snapshot(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store(tmp_path)
    older = _publish(store, _tickets().iloc[:1])
    newer = _publish(store)
    assert Store(tmp_path).recover() is None  # a readable snapshot is left alone
    assert Store(tmp_path).snapshot_id == newer
    _truncate(tmp_path / "snapshots" / newer / "Tickets.parquet")
    store = Store(tmp_path)
    with caplog.at_level("WARNING", logger="audit.store.snapshot"), store.lock():
        message = store.recover()
    assert message is not None and "Tickets.parquet" in message and older in message
    assert "falling back to the previous good snapshot" in caplog.text
    assert store.snapshot_id == older
    pd.testing.assert_frame_equal(Store(tmp_path).read("Tickets"), _tickets().iloc[:1].reset_index(drop=True))
    assert (tmp_path / "corrupt" / newer / "Tickets.parquet").is_file()  # set aside, not deleted
    _publish(store)  # the next run publishes on top of the good snapshot
    Store(tmp_path).verify()


def test_recover_without_a_good_snapshot_means_a_first_run(tmp_path: Path) -> None:
    store = Store(tmp_path)
    only = _publish(store)
    (tmp_path / "snapshots" / only / "state.json").write_text("{", encoding="utf-8")
    with store.lock():
        message = store.recover()
    assert message is not None and "state.json" in message and "full extraction" in message
    assert not store.exists() and store.state.run_id is None and store.state.watermarks == {}
    # A CURRENT naming a missing snapshot is recovered the same way.
    _publish(store)
    (tmp_path / "CURRENT").write_text("nope\n", encoding="utf-8")
    with store.lock():
        assert store.recover() is not None
    assert store.snapshot_id is not None and len(store.read("Tickets")) == len(_tickets())


def test_recover_leaves_a_store_of_another_schema_version_alone(tmp_path: Path) -> None:
    store = Store(tmp_path)
    sid = _publish(store)
    (tmp_path / "snapshots" / sid / "state.json").write_text(
        json.dumps({"schema_version": 99}), encoding="utf-8"
    )
    with pytest.raises(StoreError, match=r"schema version 99"):
        Store(tmp_path).recover()
    assert (tmp_path / "snapshots" / sid).is_dir()


def test_lock_names_the_holder_and_recovers_stale_locks(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with store.lock():
        with pytest.raises(StoreLockedError, match=rf"locked by pid {os.getpid()} on "):
            with Store(tmp_path).lock():
                pass
    assert not (tmp_path / "lock").exists()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    import socket

    (tmp_path / "lock").write_text(
        json.dumps({"pid": dead.pid, "host": socket.gethostname(), "time": "then"}), encoding="utf-8"
    )
    with store.lock():
        holder = json.loads((tmp_path / "lock").read_text(encoding="utf-8"))
        assert holder["pid"] == os.getpid()
    (tmp_path / "lock").write_text(json.dumps({"pid": 1, "host": "elsewhere", "time": "t"}), encoding="utf-8")
    with pytest.raises(StoreLockedError, match="elsewhere"):
        with store.lock():
            pass


def test_udf_definitions_read_their_type_field() -> None:
    # entityInformation/userDefinedFields names the data type ``type`` (REST swagger ``Field``).
    frame = udfs_frame({"Tickets": UDFS})
    assert list(frame["data_type"]) == ["string", "string"]
