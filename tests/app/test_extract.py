"""Acceptance tests of the extractor: the real client over real HTTP (loopback) to the emulator.

Each test builds a small generated tenant (a few hundred tickets) and checks the snapshot
against the tenant itself, row for row and field for field, through the one normalisation
(``records_to_frame``).
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from audit.app.extract import PAGE_SIZE, ExtractReport, extract
from audit.cli import main as cli_main
from audit.core.config import ExtractSettings
from audit.core.errors import ApiError, BudgetExceededError, StoreError
from audit.sandbox.emulator import Emulator, FaultPlan, serve_http
from audit.sandbox.generator import generate_tenant, mutate_tenant
from audit.sandbox.model import SANDBOX_CREDENTIALS, SandboxCredentials, Tenant
from audit.source.autotask import AutotaskClient, Credentials
from audit.source.records import records_to_frame
from audit.source.schema import ENTITIES
from audit.store.snapshot import Store, picklists_frame

AS_OF = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
LATER = AS_OF + timedelta(days=1)
SETTINGS = ExtractSettings(initial_days=3650)  # the whole tenant on the first run
#: Entities compared with the tenant (TicketHistory is optional and off by default).
COMPARED = [name for name in ENTITIES if name != "TicketHistory"]


@pytest.fixture(scope="module")
def base_tenant() -> Tenant:
    return generate_tenant(11, tickets=300, weeks=6, as_of=AS_OF, technicians=8)


@pytest.fixture
def tenant(base_tenant: Tenant) -> Tenant:
    return copy.deepcopy(base_tenant)  # tests mutate their tenant


def _client(
    server_zone_url: str, creds: SandboxCredentials = SANDBOX_CREDENTIALS, **kw: Any
) -> AutotaskClient:
    kw.setdefault("backoff_base", 0.01)
    kw.setdefault("backoff_max", 0.05)
    kw.setdefault("seed", 1)
    return AutotaskClient(
        server_zone_url, Credentials(creds.username, creds.secret, creds.integration_code), **kw
    )


def _udf_names(tenant: Tenant, entity: str) -> list[str]:
    return sorted(str(u["name"]) for u in tenant.udfs.get(entity, []))


def expected(tenant: Tenant, entity: str) -> pd.DataFrame:
    spec = ENTITIES[entity]
    return records_to_frame(
        spec, tenant.records.get(entity, []), _udf_names(tenant, entity) if spec.has_udfs else ()
    )


def assert_store_equals_tenant(store: Store, tenant: Tenant) -> None:
    for entity in COMPARED:
        got, want = store.read(entity), expected(tenant, entity)
        assert len(want) or entity in ("DeletedTicketLogs", "DeletedTicketActivityLogs"), (
            f"tenant has no {entity}: test too weak"
        )
        pd.testing.assert_frame_equal(got, want, obj=entity)
    picklist_entities = {
        e: tenant.fields[e] for e, s in ENTITIES.items() if s.picklists and e in tenant.fields
    }
    pd.testing.assert_frame_equal(store.picklists(), picklists_frame(picklist_entities))
    assert sorted(store.udf_definitions()["name"]) == _udf_names(tenant, "Tickets")


def assert_same_snapshot(a: Store, b: Store) -> None:
    for entity in COMPARED:
        pd.testing.assert_frame_equal(a.read(entity), b.read(entity), obj=entity)
    pd.testing.assert_frame_equal(a.picklists(), b.picklists())
    assert a.state.watermarks == b.state.watermarks


@pytest.fixture
def served(tenant: Tenant) -> Iterator[tuple[Emulator, str]]:
    emulator = Emulator(tenant)
    with serve_http(emulator) as server:
        yield emulator, server.zone_url


def _query_requests(emulator: Emulator) -> int:
    return emulator.stats.count(kind="query") + emulator.stats.count(kind="next")


# ----------------------------------------------------------------------------- full + delta


def test_full_then_incremental_extraction_equals_the_tenant(
    tenant: Tenant, served: tuple[Emulator, str], tmp_path: Path
) -> None:
    emulator, zone_url = served
    store = Store(tmp_path / "store")
    with _client(zone_url) as client:
        report = extract(client, store, SETTINGS, as_of=AS_OF, progress=False)
        assert report.first_run and report.requests == client.request_count
    assert_store_equals_tenant(store, tenant)
    assert store.web_url and store.state.watermarks["Tickets"] <= AS_OF
    # Request arithmetic: queries cost Σ ceil(rows/500) (+1 for the SLA range/chunk rounding).
    ideal = sum(math.ceil(n / PAGE_SIZE) for n in report.fetched.values() if n)
    assert _query_requests(emulator) <= ideal + 1, (report.fetched, emulator.stats.snapshot())
    assert emulator.stats.count(entity="TicketHistory") == 0
    assert report.requests <= report.planned_requests

    watermark = store.state.watermarks["Tickets"]
    changes = mutate_tenant(tenant, 0.01, seed=5, at=LATER, deletions=3)
    emulator.refresh()
    emulator.stats.reset()
    with _client(zone_url) as client:
        delta = extract(client, store, SETTINGS, as_of=LATER + timedelta(hours=1), progress=False)
    assert_store_equals_tenant(store, tenant)
    assert delta.deleted_tickets == 3, changes
    # Only the changes travel: one page per entity, a handful of counts and metadata calls.
    assert _query_requests(emulator) <= 12, emulator.stats.snapshot()
    assert delta.requests <= 30
    # Exactly the tickets at or after the old watermark minus the overlap margin come again.
    tickets = expected(tenant, "Tickets")
    since = pd.Timestamp(watermark - timedelta(minutes=SETTINGS.overlap_minutes))
    assert delta.fetched["Tickets"] == int((tickets["lastActivityDate"] >= since).sum())
    assert delta.fetched["Tickets"] < 0.2 * len(tickets)
    assert [r.status for r in store.state.runs] == ["ok", "ok"]


def test_ten_percent_faults_give_the_fault_free_snapshot(tenant: Tenant, tmp_path: Path) -> None:
    clean = Store(tmp_path / "clean")
    with serve_http(Emulator(copy.deepcopy(tenant))) as server, _client(server.zone_url) as client:
        extract(client, clean, SETTINGS, as_of=AS_OF, progress=False)
    # A small tenant needs few requests: several seeded runs so every fault kind is met.
    faults: Counter[str] = Counter()
    for seed in range(1, 7):
        emulator = Emulator(tenant, faults=FaultPlan(0.10, seed=seed, slow_seconds=0.05))
        faulty = Store(tmp_path / f"faulty-{seed}")
        with serve_http(emulator) as server, _client(server.zone_url, max_retries=8, timeout=5.0) as client:
            extract(client, faulty, SETTINGS, as_of=AS_OF, progress=False)
        faults.update(emulator.stats.faults)
        assert_same_snapshot(clean, faulty)
        if sum(faults.values()) >= 12 and {"429", "500", "drop"} <= set(faults):
            break
    assert {"429", "500", "drop"} <= set(faults), faults
    assert_store_equals_tenant(clean, tenant)


def _assert_children_complete(store: Store, tenant: Tenant) -> None:
    """Every ticket in the snapshot is the tenant's, with all of its notes, entries, attachments."""
    from audit.source.extract.merge import owned_by

    tickets = store.read("Tickets")
    ids = set(int(i) for i in tickets["id"])
    want_tickets = expected(tenant, "Tickets")
    pd.testing.assert_frame_equal(tickets, want_tickets[want_tickets["id"].isin(ids)].reset_index(drop=True))
    for child in ("TicketNotes", "TimeEntries", "TicketAttachments"):
        got, want = store.read(child), expected(tenant, child)
        got = got[owned_by(got, ids)].reset_index(drop=True)
        want = want[owned_by(want, ids)].reset_index(drop=True)
        assert len(want), child
        pd.testing.assert_frame_equal(got, want, obj=child)


def test_children_of_tickets_older_than_the_window_are_backfilled(
    tenant: Tenant, served: tuple[Emulator, str], tmp_path: Path
) -> None:
    emulator, zone_url = served
    settings = ExtractSettings(initial_days=12)  # a window shorter than the tenant's history
    store = Store(tmp_path)
    with _client(zone_url) as client:
        first = extract(client, store, settings, as_of=AS_OF, progress=False)
    assert 0 < len(store.read("Tickets")) < len(tenant.records["Tickets"])
    assert first.notes and "back-filled" in first.notes[0]  # tickets created before the window
    _assert_children_complete(store, tenant)

    mutate_tenant(tenant, 0.05, seed=8, at=LATER, deletions=2)  # old tickets come back to life
    emulator.refresh()
    emulator.stats.reset()
    with _client(zone_url) as client:
        second = extract(client, store, settings, as_of=LATER + timedelta(hours=1), progress=False)
    _assert_children_complete(store, tenant)
    assert second.notes, "old tickets entered the snapshot: their children were back-filled"
    assert _query_requests(emulator) <= 16, emulator.stats.snapshot()  # by chunks, never per ticket


def _extract(zone_url: str, store: Store, as_of: datetime) -> ExtractReport:
    """One run with the default test settings over the loopback emulator."""
    with _client(zone_url) as client:
        return extract(client, store, SETTINGS, as_of=as_of, progress=False)


def test_deleted_children_are_reconciled_and_equal_a_fresh_full_extraction(
    tenant: Tenant, served: tuple[Emulator, str], tmp_path: Path
) -> None:
    emulator, zone_url = served
    store = Store(tmp_path / "incremental")
    _extract(zone_url, store, AS_OF)
    changes = mutate_tenant(tenant, 0.01, seed=9, at=LATER, deletions=2, deleted_children=4)
    gone = changes["deleted_children"]
    assert all(len(gone[e]) >= 4 for e in ("TicketNotes", "TimeEntries", "TicketAttachments")), gone
    logs = tenant.records["DeletedTicketActivityLogs"]
    assert len(logs) == sum(map(len, gone.values())) and all("id" in row for row in logs)
    named = {row["ticketID"] for row in logs}
    # The tickets keep their lastActivityDate: only the log tells that something went.
    assert not named & set(changes["changed"]["Tickets"])
    emulator.refresh()
    emulator.stats.reset()
    delta = _extract(zone_url, store, LATER + timedelta(hours=1))
    for entity, ids in gone.items():
        assert not store.read(entity)["id"].isin(ids).any(), entity
    assert_store_equals_tenant(store, tenant)
    assert any(f"children of {len(named)} ticket(s) with deleted" in n for n in delta.notes), delta.notes
    assert delta.requests <= delta.planned_requests
    # Row for row what a fresh full extraction of the mutated tenant gives.
    fresh = Store(tmp_path / "fresh")
    _extract(zone_url, fresh, LATER + timedelta(hours=1))
    assert_same_snapshot(store, fresh)


def test_attachments_are_read_by_ticket_for_the_evaluated_weeks(
    tenant: Tenant, served: tuple[Emulator, str], tmp_path: Path
) -> None:
    emulator, zone_url = served
    store = Store(tmp_path)
    _extract(zone_url, store, AS_OF)
    # A file added to a ticket of the evaluated weeks whose lastActivityDate stays, and a file
    # gone from another ticket without a log row: both are seen, as each run reads by ticket.
    attachments = tenant.records["TicketAttachments"]
    recent = max(tenant.records["Tickets"], key=lambda t: t["lastActivityDate"])
    removed = attachments.pop(0)
    attachments.append(
        {
            **attachments[-1],
            "id": attachments[-1]["id"] + 1,
            "parentID": recent["id"],
            "ticketID": recent["id"],
            "ticketNoteID": None,
            "timeEntryID": None,
            "title": "late-evidence.png",
            "attachDate": LATER.isoformat().replace("+00:00", "Z"),
        }
    )
    emulator.refresh()
    emulator.stats.reset()
    delta = _extract(zone_url, store, LATER)
    pd.testing.assert_frame_equal(store.read("TicketAttachments"), expected(tenant, "TicketAttachments"))
    assert removed["id"] not in set(store.read("TicketAttachments")["id"])
    # Every attachment request named its tickets (the emulator answers 500 otherwise), 500 a chunk.
    tickets = len(tenant.records["Tickets"])
    assert emulator.stats.count(entity="TicketAttachments", kind="query") == math.ceil(tickets / PAGE_SIZE)
    assert emulator.stats.count(entity="TicketAttachments", kind="count") == 0
    assert delta.requests <= delta.planned_requests


def test_a_row_dated_in_the_future_does_not_blind_later_runs(
    tenant: Tenant, served: tuple[Emulator, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    emulator, zone_url = served
    hand_typed = tenant.records["Tickets"][0]
    hand_typed["lastActivityDate"] = "2099-01-01T00:00:00Z"
    note = tenant.records["TicketNotes"][0]
    note["lastActivityDate"] = "2099-06-30T12:00:00Z"
    emulator.refresh()
    store = Store(tmp_path)
    caplog.set_level(logging.WARNING, logger="audit.source.extract")
    _extract(zone_url, store, AS_OF)
    assert_store_equals_tenant(store, tenant)  # the rows are stored as Autotask has them
    ceiling = AS_OF + timedelta(hours=1)
    assert all(w <= ceiling for w in store.state.watermarks.values()), store.state.watermarks
    warned = [r.getMessage() for r in caplog.records if "dated after" in r.getMessage()]
    assert len(warned) == 2 and str(hand_typed["id"]) in warned[0] + warned[1], warned

    # The next run reads those rows again (they are after any watermark) but says nothing new.
    caplog.clear()
    _extract(zone_url, store, AS_OF + timedelta(minutes=30))
    assert not [r for r in caplog.records if "dated after" in r.getMessage()]

    # Later changes still travel.
    changes = mutate_tenant(tenant, 0.02, seed=3, at=LATER, deletions=1)
    emulator.refresh()
    delta = _extract(zone_url, store, LATER + timedelta(hours=1))
    assert delta.fetched["Tickets"] >= len(changes["changed"]["Tickets"]) > 0
    assert_store_equals_tenant(store, tenant)


def test_a_watermark_stored_in_the_future_is_read_again_from_the_window(
    tenant: Tenant, served: tuple[Emulator, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A store written before watermarks had a ceiling heals on the next run."""
    _, zone_url = served
    store = Store(tmp_path)
    _extract(zone_url, store, AS_OF)
    state = json.loads((store.snapshot_dir / "state.json").read_text())  # type: ignore[operator]
    state["watermarks"]["Tickets"] = "2099-01-01T00:00:00Z"
    (store.snapshot_dir / "state.json").write_text(json.dumps(state))  # type: ignore[operator]
    store.refresh()
    mutate_tenant(tenant, 0.02, seed=4, at=LATER, deletions=0)
    served[0].refresh()
    caplog.set_level(logging.WARNING, logger="audit.source.extract")
    _extract(zone_url, store, LATER + timedelta(hours=1))
    assert "Tickets watermark 2099-01-01T00:00:00Z is after --as-of" in caplog.text
    assert_store_equals_tenant(store, tenant)
    assert store.state.watermarks["Tickets"] <= LATER + timedelta(hours=2)


# ------------------------------------------------------------------------- interruptions


class _Boom(KeyboardInterrupt):
    pass


@pytest.mark.parametrize("where", ["fetch", "merge", "publish_rename", "publish_pointer"])
def test_interrupted_run_keeps_the_last_snapshot_and_the_next_run_completes(
    tenant: Tenant, served: tuple[Emulator, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    emulator, zone_url = served
    store = Store(tmp_path)
    with _client(zone_url) as client:
        extract(client, store, SETTINGS, as_of=AS_OF, progress=False)
    before = {e: store.read(e) for e in COMPARED}
    first_id = store.snapshot_id
    mutate_tenant(tenant, 0.05, seed=9, at=LATER, deletions=2)
    emulator.refresh()

    import audit.source.extract.merge as merge_mod
    import audit.store.staging as store_mod

    if where == "fetch":
        real = AutotaskClient.query_many

        def query_many(
            self: AutotaskClient, entity: str, *a: Any, **k: Any
        ) -> Iterator[list[dict[str, Any]]]:
            if entity == "TicketNotes":
                raise _Boom
            return real(self, entity, *a, **k)

        monkeypatch.setattr(AutotaskClient, "query_many", query_many)
    elif where == "merge":
        real_merge = merge_mod.merge_frames

        def merge(spec: Any, *a: Any, **k: Any) -> pd.DataFrame:
            if spec.name == "TimeEntries":
                raise _Boom
            return real_merge(spec, *a, **k)

        monkeypatch.setattr(merge_mod, "merge_frames", merge)
    elif where == "publish_rename":
        real_replace = os.replace

        def replace(src: Any, dst: Any) -> None:
            if Path(dst).parent.name == "snapshots":
                raise _Boom
            real_replace(src, dst)

        monkeypatch.setattr(store_mod.os, "replace", replace)
    else:
        real_atomic = store_mod.write_bytes_atomic

        def atomic(path: Path, data: bytes) -> None:
            if path.name == "CURRENT":
                raise _Boom
            real_atomic(path, data)

        monkeypatch.setattr(store_mod, "write_bytes_atomic", atomic)

    with _client(zone_url) as client, pytest.raises(_Boom):
        extract(client, store, SETTINGS, as_of=LATER + timedelta(hours=1), progress=False)
    monkeypatch.undo()

    reread = Store(tmp_path)
    assert reread.snapshot_id == first_id
    for entity, frame in before.items():
        pd.testing.assert_frame_equal(reread.read(entity), frame, obj=entity)
    with _client(zone_url) as client:
        extract(client, reread, SETTINGS, as_of=LATER + timedelta(hours=1), progress=False)
    assert_store_equals_tenant(reread, tenant)
    statuses = [r.status for r in reread.state.runs]
    assert statuses == ["ok", "interrupted", "ok"]
    assert not list((tmp_path / "staging").iterdir())


def _cli_env(zone_url: str, creds: SandboxCredentials = SANDBOX_CREDENTIALS) -> dict[str, str]:
    return {
        "AUTOTASK_USERNAME": creds.username,
        "AUTOTASK_SECRET": creds.secret,
        "AUTOTASK_INTEGRATION_CODE": creds.integration_code,
        "AUTOTASK_ZONE_URL": zone_url,
    }


def _config(tmp_path: Path, **extract_keys: Any) -> Path:
    path = tmp_path / "ticket-audit.toml"
    lines = ["[extract]", "initial_days = 3650"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in extract_keys.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.slow
def test_sigkilled_cli_run_leaves_the_last_snapshot_and_the_next_run_completes(
    tenant: Tenant, tmp_path: Path
) -> None:
    emulator = Emulator(tenant)
    store = Store(tmp_path / "store")
    with serve_http(emulator) as server:
        with _client(server.zone_url) as client:
            extract(client, store, SETTINGS, as_of=AS_OF, progress=False)
        first_id = store.snapshot_id
        before = store.read("Tickets")
        mutate_tenant(tenant, 0.05, seed=4, at=LATER, deletions=2)
        emulator.refresh()
        emulator.stats.reset()
        emulator.latency = 0.1  # a slow server (100 ms a call) so the run is killed mid-way
        env = {**os.environ, **_cli_env(server.zone_url)}
        proc = subprocess.Popen(
            [sys.executable, "-m", "audit", "extract", "--store", str(tmp_path / "store"),
             "--config", str(_config(tmp_path)), "--as-of", (LATER + timedelta(hours=1)).isoformat()],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while _query_requests(emulator) < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        assert proc.poll() is None, "the run ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        reread = Store(tmp_path / "store")
        assert reread.snapshot_id == first_id
        pd.testing.assert_frame_equal(reread.read("Tickets"), before)
        assert (tmp_path / "store" / "lock").exists()  # left by the killed run: stale, recovered
        emulator.latency = 0.0
        with _client(server.zone_url) as client:
            extract(client, reread, SETTINGS, as_of=LATER + timedelta(hours=1), progress=False)
    assert_store_equals_tenant(reread, tenant)


# --------------------------------------------------------------------------- failures


def test_exhausted_retries_raise_api_error_and_keep_the_snapshot(
    tenant: Tenant, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path / "store")
    ok = Emulator(tenant)
    with serve_http(ok) as server, _client(server.zone_url) as client:
        extract(client, store, SETTINGS, as_of=AS_OF, progress=False)
    first_id = store.snapshot_id
    before = store.read("TicketNotes")
    broken = Emulator(tenant, faults=FaultPlan(1.0, seed=1, kinds=("500",), endpoints=("query", "next")))
    with serve_http(broken) as server:
        with _client(server.zone_url, max_retries=2) as client, pytest.raises(ApiError) as err:
            extract(client, store, SETTINGS, as_of=LATER, progress=False)
        assert err.value.status == 500 and err.value.entity
        assert Store(tmp_path / "store").snapshot_id == first_id
        pd.testing.assert_frame_equal(Store(tmp_path / "store").read("TicketNotes"), before)

        for key, value in _cli_env(server.zone_url).items():
            monkeypatch.setenv(key, value)
        code = cli_main(["extract", "--store", str(tmp_path / "store"),
                         "--config", str(_config(tmp_path, max_retries=1)), "--as-of", LATER.isoformat()])  # fmt: skip
    stderr = capsys.readouterr().err
    assert code == 3, stderr
    assert "entity=" in stderr and "request=POST" in stderr and "last status=500" in stderr, stderr
    assert Store(tmp_path / "store").snapshot_id == first_id
    assert [r.status for r in Store(tmp_path / "store").failed_runs()] == ["failed", "failed"]


def test_budget_refusal_exits_3_before_fetching(
    tenant: Tenant, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator = Emulator(tenant, request_threshold=40)  # a nearly spent hour: 40 in total
    with serve_http(emulator) as server:
        with _client(server.zone_url) as client, pytest.raises(BudgetExceededError) as err:
            extract(client, Store(tmp_path / "a"), SETTINGS, as_of=AS_OF, progress=False)
        assert "plans" in str(err.value) and "at most" in str(err.value)
        assert _query_requests(emulator) == 0  # nothing fetched
        assert not Store(tmp_path / "a").exists()
        for key, value in _cli_env(server.zone_url).items():
            monkeypatch.setenv(key, value)
        code = cli_main(["extract", "--store", str(tmp_path / "b"), "--config", str(_config(tmp_path)),
                         "--as-of", AS_OF.isoformat()])  # fmt: skip
    stderr = capsys.readouterr().err
    assert code == 3 and "plans" in stderr and "requests" in stderr, stderr


def test_history_is_optional_and_budgeted(
    tenant: Tenant, served: tuple[Emulator, str], tmp_path: Path
) -> None:
    emulator, zone_url = served
    store = Store(tmp_path)
    with _client(zone_url) as client:
        report = extract(client, store, SETTINGS.model_copy(update={"include_history": True}), as_of=AS_OF,
                         progress=False)  # fmt: skip
    tickets = len(tenant.records["Tickets"])
    assert emulator.stats.count(entity="TicketHistory") == tickets  # the API's rule: one per ticket
    assert report.planned_requests >= tickets
    pd.testing.assert_frame_equal(store.read("TicketHistory"), expected(tenant, "TicketHistory"))


# ----------------------------------------------------------------------------- secrets


SECRETS = SandboxCredentials(
    username="api-user-Quokka7731@example.invalid",
    secret="S3cr3t-Wombat-9f8e7d6c",
    integration_code="INTCODE-Platypus-4242",
)


def test_no_secret_reaches_logs_errors_or_the_store(
    tenant: Tenant,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    values = (SECRETS.username, SECRETS.secret, SECRETS.integration_code)
    emulator = Emulator(tenant, credentials=SECRETS, faults=FaultPlan(0.05, seed=2, kinds=("429", "500")))
    with serve_http(emulator) as server:
        for key, value in _cli_env(server.zone_url, SECRETS).items():
            monkeypatch.setenv(key, value)
        caplog.set_level(logging.DEBUG)
        with _client(server.zone_url, SECRETS) as client:
            extract(client, Store(tmp_path / "a"), SETTINGS, as_of=AS_OF, progress=False)
        code = cli_main(["--verbose", "extract", "--store", str(tmp_path / "b"),
                         "--config", str(_config(tmp_path)), "--as-of", AS_OF.isoformat()])  # fmt: skip
        assert code == 0
        # A refused run too: wrong secret -> 401, its error text must not quote the secret.
        monkeypatch.setenv("AUTOTASK_SECRET", SECRETS.secret + "-wrong")
        code_401 = cli_main(
            ["--verbose", "extract", "--store", str(tmp_path / "b"), "--as-of", AS_OF.isoformat()]
        )
        assert code_401 == 3
        with _client(
            server.zone_url, SandboxCredentials(SECRETS.username, "Bad-Secret-Xq9", SECRETS.integration_code)
        ) as bad:
            with pytest.raises(ApiError) as err:
                extract(bad, Store(tmp_path / "c"), SETTINGS, as_of=AS_OF, progress=False)
    out = capsys.readouterr()
    texts = [out.out, out.err, caplog.text, str(err.value), repr(err.value)]
    texts += [r.getMessage() for r in caplog.records]
    assert "GET" in out.err or "POST" in out.err, "--verbose should log requests"
    for text in texts:
        for value in (*values, "Bad-Secret-Xq9"):
            assert value not in text
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for value in values:
                assert value.encode() not in data, path


# ------------------------------------------------------------------------ corrupt snapshot


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("kept_previous", [True, False], ids=["previous-kept", "full-re-extract"])
def test_a_truncated_current_snapshot_is_healed_by_the_next_extract(
    tenant: Tenant,
    served: tuple[Emulator, str],
    tmp_path: Path,
    kept_previous: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """QA: after truncating TimeEntries.parquet every run failed although a good snapshot was kept."""
    emulator, zone_url = served
    store = Store(tmp_path / "store")
    with _client(zone_url) as client:
        extract(client, store, SETTINGS, as_of=AS_OF, progress=False)
    if kept_previous:
        mutate_tenant(tenant, 0.01, seed=5, at=LATER, deletions=2)
        emulator.refresh()
        with _client(zone_url) as client:
            extract(client, store, SETTINGS, as_of=LATER + timedelta(hours=1), progress=False)
    assert store.snapshot_dir is not None
    _truncate(store.snapshot_dir / "TimeEntries.parquet")
    with pytest.raises(StoreError, match=r"TimeEntries.parquet is unreadable"):
        Store(store.path).read("TimeEntries")

    mutate_tenant(tenant, 0.01, seed=6, at=LATER + timedelta(hours=2), deletions=1)
    emulator.refresh()
    with caplog.at_level(logging.WARNING, logger="audit.store.snapshot"), _client(zone_url) as client:
        report = extract(
            client, Store(store.path), SETTINGS, as_of=LATER + timedelta(hours=3), progress=False
        )
    assert "TimeEntries.parquet" in caplog.text
    assert report.first_run is not kept_previous
    assert report.notes and "TimeEntries.parquet" in report.notes[0]
    healed = Store(store.path)
    healed.verify()
    assert_store_equals_tenant(healed, tenant)


def test_reading_commands_name_the_corrupt_file_and_the_repair(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_main(["extract", "--sandbox", "--store", str(tmp_path / "s")]) == 0
    snap = Store(tmp_path / "s").snapshot_dir
    assert snap is not None
    _truncate(snap / "TimeEntries.parquet")
    capsys.readouterr()
    code = cli_main(["evaluate", "--store", str(tmp_path / "s"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 3, err
    assert "TimeEntries.parquet" in err and "ticket-audit extract" in err
    assert cli_main(["extract", "--sandbox", "--store", str(tmp_path / "s")]) == 0
    Store(tmp_path / "s").verify()


# ------------------------------------------------------------------------- sandbox + CLI


def test_sandbox_cli_extracts_the_embedded_tenant(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli_main(["extract", "--sandbox", "--store", str(tmp_path / "s")])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert out.out.startswith("extracted ") and "requests" in out.out
    store = Store(tmp_path / "s")
    assert len(store.read("Tickets")) > 0 and len(store.read("TicketNotes")) > 0
    assert store.state.runs[-1].status == "ok"


def test_progress_bars_and_in_process_sandbox_client(
    base_tenant: Tenant, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from audit.sandbox.client import sandbox_client

    with sandbox_client(base_tenant) as client:
        report = extract(client, Store(tmp_path), SETTINGS, as_of=AS_OF, progress=True)
    assert "Tickets" in capsys.readouterr().err  # tqdm bars, one per entity
    assert report.fetched["Tickets"] == len(base_tenant.records["Tickets"])
    assert_store_equals_tenant(Store(tmp_path), base_tenant)
