"""Run history: record_run / read_history (merge with the store's run log), and ``ticket-audit history``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from audit.cli import cli
from audit.core.errors import EXIT_CONFIG, EXIT_OK, EXIT_RUNTIME
from audit.store.history import HISTORY_FILE, format_table, latest, read_history, record_run
from audit.store.snapshot import Store

AS_OF = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


def publish(path: Path, run_id: str, started: datetime, **fetched: int) -> None:
    """A published run with its run-log entry (no entity files: enough for the log)."""
    store = Store(path)
    with store.lock():
        run = store.begin(run_id=run_id, started=started)
        run.set_ruleset_version("abcdef0123456789")
        run.publish(as_of=AS_OF, fetched=fetched, requests=sum(fetched.values()) // 500 + 3)


def fail_run(path: Path, run_id: str, started: datetime) -> None:
    store = Store(path)
    with store.lock(), store.begin(run_id=run_id, started=started) as run:
        run.discard(error="ApiError: Autotask request failed; last status=503")


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "store"
    publish(
        path,
        "20261121T060000000000Z-aaaa0001",
        datetime(2026, 11, 21, 6, 0, tzinfo=UTC),
        Tickets=600,
        TicketNotes=1982,
        TimeEntries=1151,
    )
    publish(
        path,
        "20261122T060000000000Z-aaaa0002",
        datetime(2026, 11, 22, 6, 0, tzinfo=UTC),
        Tickets=12,
        TicketNotes=40,
    )
    fail_run(path, "20261123T060000000000Z-aaaa0003", datetime(2026, 11, 23, 6, 0, tzinfo=UTC))
    return path


# ------------------------------------------------------------------------------- library


def test_record_and_read_round_trip(tmp_path: Path) -> None:
    first = record_run(
        tmp_path, {"run_id": "r1", "score": 81.5, "as_of": AS_OF, "period": {"from": "2026-11-16"}}
    )
    record_run(tmp_path, {"run_id": "r2", "score": 90.0, "exit_code": 1})
    assert first["as_of"] == "2026-11-23T06:00:00Z" and "recorded" in first
    entries = read_history(tmp_path)
    assert [e["run_id"] for e in entries] == ["r1", "r2"]
    assert entries[0]["score"] == 81.5 and entries[0]["period"] == {"from": "2026-11-16"}
    assert entries[1]["exit_code"] == 1
    assert len((tmp_path / HISTORY_FILE).read_text().splitlines()) == 2


def test_record_run_refuses_an_entry_without_run_id(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="run_id"):
        record_run(tmp_path, {"score": 1.0})
    with pytest.raises(TypeError):
        record_run(tmp_path, {"run_id": "r1", "bad": object()})
    assert not (tmp_path / HISTORY_FILE).exists()


def test_truncated_last_line_is_tolerated_and_the_next_append_is_readable(tmp_path: Path) -> None:
    record_run(tmp_path, {"run_id": "r1", "score": 70.0})
    with open(tmp_path / HISTORY_FILE, "a", encoding="utf-8") as fh:
        fh.write('{"run_id": "r2", "sco')  # a writer killed mid-line
    assert [e["run_id"] for e in read_history(tmp_path)] == ["r1"]
    record_run(tmp_path, {"run_id": "r3", "score": 75.0})
    assert [e["run_id"] for e in read_history(tmp_path)] == ["r1", "r3"]


def test_merges_the_store_run_log_with_recorded_scores(store: Path) -> None:
    record_run(
        store,
        {
            "run_id": "20261122T060000000000Z-aaaa0002",
            "score": 88.25,
            "fetched": None,
            "ruleset_version": "abcdef0123456789",
            "exit_code": 0,
        },
    )
    entries = read_history(store)
    assert [e["run_id"][-4:] for e in entries] == ["0001", "0002", "0003"]
    first, second, failed = entries
    assert first["fetched"] == {"TicketNotes": 1982, "Tickets": 600, "TimeEntries": 1151}
    assert first["as_of"] == "2026-11-23T06:00:00Z" and first["status"] == "ok"
    assert second["score"] == 88.25 and second["fetched"] == {
        "TicketNotes": 40,
        "Tickets": 12,
    }  # None ignored
    assert second["ruleset_version"] == "abcdef0123456789"
    assert failed["status"] == "failed" and "503" in failed["error"]


def test_missing_store_has_no_history(tmp_path: Path) -> None:
    assert read_history(tmp_path / "nowhere") == []
    assert not (tmp_path / "nowhere").exists()


def test_latest_is_newest_first() -> None:
    entries = [{"run_id": str(i)} for i in range(5)]
    assert [e["run_id"] for e in latest(entries, 2)] == ["4", "3"]
    assert [e["run_id"] for e in latest(entries, None)] == ["4", "3", "2", "1", "0"]


def test_table_columns_are_aligned() -> None:
    entries: list[dict[str, Any]] = [
        {
            "run_id": "r-long-identifier",
            "started": "2026-11-22T06:00:00Z",
            "finished": "2026-11-22T06:02:05Z",
            "status": "ok",
            "requests": 1234,
            "fetched": {"Tickets": 5},
            "score": 91.04,
            "period": {"from": "2026-11-16", "to": "2026-11-22", "label": "2026-W47"},
            "ruleset_version": "0ff2aaf22c025a9f",
        },
        {
            "run_id": "r2",
            "started": "2026-11-23T06:00:00Z",
            "status": "failed",
            "error": "boom\nagain " + "x" * 200,
        },
    ]
    lines = format_table(entries).splitlines()
    header, row1, about1, row2, _about2, err = lines
    assert header.index("STATUS") == row1.index("ok") == row2.index("failed")
    assert header.index("REQUESTS") + len("REQUESTS") == row1.index("1234") + 4  # right-aligned
    assert "2m05s" in row1 and "91.0" in row1 and header.index("PERIOD") == row1.index("2026-W47")
    assert "r-long-identifier" in about1 and "Tickets 5" in about1 and "0ff2aaf22c" in about1
    assert err.startswith("    error: boom again x") and err.endswith("…")
    assert max(len(line) for line in lines) <= 100  # fits a terminal and a CI log


# ------------------------------------------------------------------------------- CLI


def test_cli_table(store: Path) -> None:
    record_run(store, {"run_id": "20261122T060000000000Z-aaaa0002", "score": 88.25, "exit_code": 1})
    result = CliRunner().invoke(cli, ["history", "--store", str(store)])
    assert result.exit_code == EXIT_OK, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:4] == ["STARTED", "(UTC)", "PERIOD", "AS"]
    assert max(len(line) for line in lines) <= 100
    runs = [ln for ln in lines[1:] if not ln.startswith(" ")]
    abouts = [ln for ln in lines[1:] if ln.startswith("    run ")]
    assert [ln.split()[1][-4:] for ln in abouts] == ["0003", "0002", "0001"]  # newest first
    assert "88.2" in runs[1] and "ok exit 1" in runs[1]
    assert "Tickets 600, Notes 1982, Time 1151" in abouts[2]
    assert any(ln.startswith("    error: ApiError") for ln in lines)
    col = lines[0].index("AS OF")
    assert all(ln[col : col + 16] == "2026-11-23 06:00" for ln in runs[1:])


def test_cli_json_and_limit(store: Path) -> None:
    record_run(store, {"run_id": "20261122T060000000000Z-aaaa0002", "score": 88.25})
    result = CliRunner().invoke(cli, ["history", "--store", str(store), "--json", "--limit", "2"])
    assert result.exit_code == EXIT_OK, result.output
    data = json.loads(result.output)
    assert [e["run_id"][-4:] for e in data] == ["0003", "0002"]
    assert data[1]["score"] == 88.25 and data[1]["requests"] == 3


def test_cli_empty_and_unreadable_store(tmp_path: Path) -> None:
    runner = CliRunner()
    # A store folder that does not exist is a usage error (a typo must not read as "no runs").
    result = runner.invoke(cli, ["history", "--store", str(tmp_path / "none")])
    assert result.exit_code == EXIT_CONFIG and "no such store folder" in result.output
    assert not (tmp_path / "none").exists()
    (tmp_path / "empty").mkdir()
    result = runner.invoke(cli, ["history", "--store", str(tmp_path / "empty")])
    assert result.exit_code == EXIT_OK and "no runs recorded" in result.output
    result = runner.invoke(cli, ["history", "--store", str(tmp_path / "empty"), "--json"])
    assert json.loads(result.output) == []
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "CURRENT").write_text("20990101T000000000000Z-deadbeef\n")
    result = runner.invoke(cli, ["history", "--store", str(broken)])
    assert result.exit_code == EXIT_RUNTIME
    assert "missing" in result.output


def test_run_status_failed_then_ok_and_whole_run_time(store: Path) -> None:
    run_id = "20261122T060000000000Z-aaaa0002"
    record_run(store, {"run_id": run_id, "kind": "run", "status": "running"})
    record_run(
        store,
        {
            "run_id": run_id,
            "kind": "run",
            "status": "failed",
            "exit_code": 3,
            "error": "RenderError: PDF renderer failed",
            "seconds": 130.0,
        },
    )
    entry = next(e for e in read_history(store) if e["run_id"] == run_id)
    assert (entry["status"], entry["exit_code"]) == ("failed", 3)
    table = format_table([entry])
    row = table.splitlines()[1]
    assert "failed exit 3" in row and "2m10s" in row  # the whole run, not the extraction's 0.0s
    assert "error: RenderError: PDF renderer failed" in table

    record_run(store, {"run_id": run_id, "kind": "run", "status": "ok", "exit_code": 0, "seconds": 12.5})
    entry = next(e for e in read_history(store) if e["run_id"] == run_id)
    assert (entry["status"], entry["exit_code"], entry["error"]) == ("ok", 0, None)
    assert "error" not in format_table([entry])


def test_a_run_still_marked_running_shows_unfinished() -> None:
    row = format_table([{"run_id": "r", "status": "running", "kind": "run"}]).splitlines()[1]
    assert "unfinished" in row


def test_a_store_written_by_0_1_still_reads_its_ruleset_version(tmp_path: Path) -> None:
    """0.1 spelled the key ``rule_set_version`` in state.json and in history.jsonl."""
    from audit.store.snapshot import StoreState

    assert (
        StoreState.from_json({"rule_set_version": "0ff2aaf22c025a9f"}).ruleset_version == "0ff2aaf22c025a9f"
    )
    record_run(tmp_path, {"run_id": "r1", "score": 91.0, "rule_set_version": "0ff2aaf22c025a9f"})
    [entry] = read_history(tmp_path)
    assert entry["ruleset_version"] == "0ff2aaf22c025a9f" and "rule_set_version" not in entry
    assert "rules 0ff2aaf22c" in format_table([entry])
