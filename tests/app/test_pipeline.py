"""The nightly job's pipeline in process: what is checked before any request, the history of a
run whatever its outcome, and the end-of-run summary. (tests/app/test_run.py runs the console script.)"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import audit.app.pipeline as pipeline
from audit.app.pipeline import JobOptions, run_job
from audit.app.preflight import prepare
from audit.cli import cli
from audit.core.config import Config, load_config
from audit.core.errors import EXIT_CONFIG, EXIT_RUNTIME, MappingError, RenderError
from audit.core.period import Period
from audit.results.thresholds import ThresholdResult
from audit.sandbox.client import DEFAULT_SANDBOX_AS_OF, sandbox_client
from audit.sandbox.generator import generate_tenant
from audit.store.history import format_table, read_history
from audit.store.snapshot import Store

AS_OF = DEFAULT_SANDBOX_AS_OF
WEEK = Period.last_full_week(AS_OF)


def _config(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "ticket-audit.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def _options(store: Path, out: Path, **kw: Any) -> JobOptions:
    return JobOptions(store_dir=store, out_dir=out, period=WEEK, as_of=AS_OF, progress=False, **kw)


class _NoClient:
    """A client factory that fails the test when called: nothing may be requested."""

    calls = 0

    def __call__(self) -> Any:
        self.calls += 1
        raise AssertionError("a request was about to be sent")


# --------------------------------------------------------------- 2: names in the config, up front


def test_a_threshold_typo_fails_before_any_request(store: Path, tmp_path: Path) -> None:
    """`run` stops in `prepare`; before, `evaluate_thresholds` found it after the extraction."""
    config = tmp_path / "c.toml"
    config.write_text("[thresholds]\nstep.closur = 95\n", encoding="utf-8")
    before = (store / "CURRENT").read_text()
    result = CliRunner().invoke(
        cli,
        ["run", "--config", str(config), "--store", str(store), "--out", str(tmp_path / "out"), "--sandbox"],
    )
    assert result.exit_code == EXIT_CONFIG, result.output
    assert f"{config}:2: thresholds.step.closur: no such step" in result.output
    assert (store / "CURRENT").read_text() == before  # no extraction ran
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------- 3: the mapping, before extracting


def test_a_mapping_typo_fails_against_the_stored_picklists_before_extracting(
    store: Path, tmp_path: Path
) -> None:
    config = _config(tmp_path, '[report]\ntrend_weeks = 2\n\n[mapping]\nclosed_statuses = ["Completed"]\n')
    factory = _NoClient()
    with pytest.raises(MappingError) as info:
        run_job(config, prepare(config), _options(store, tmp_path / "out"), client_factory=factory)
    assert factory.calls == 0
    assert "'Completed'" in str(info.value) and "'Complete'" in str(info.value)
    assert "run `ticket-audit extract` to refresh them" in str(info.value)  # a label added in Autotask since
    assert (info.value.file, info.value.line) == (config.source, 5)
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------- 6: --no-extract without a snapshot


def test_no_extract_without_a_snapshot_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(Exception) as info:
        run_job(Config(), prepare(Config()), _options(missing, tmp_path / "out"), client_factory=None)
    assert getattr(info.value, "exit_code", None) == EXIT_RUNTIME
    assert f"no snapshot in {missing}: run `ticket-audit extract` first" in str(info.value)
    assert not missing.exists()
    # Exit 3 explains itself: the CI outputs name the error, and nothing else is there.
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["gate.json", "junit.xml", "summary.md"]
    assert "run `ticket-audit extract` first" in (out / "summary.md").read_text(encoding="utf-8")


def test_cli_no_extract_without_a_snapshot_exits_3_and_creates_nothing(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "run",
            "--no-extract",
            "--store",
            str(tmp_path / "missing"),
            "--out",
            str(tmp_path / "out"),
            "--as-of",
            "2026-11-23T06:00:00Z",
        ],
    )
    assert result.exit_code == EXIT_RUNTIME, result.output
    assert "run `ticket-audit extract` first" in result.output
    assert not (tmp_path / "missing").exists()


# --------------------------------------------------------------- 7: --mail-to, up front


@pytest.mark.parametrize("command", [["run", "--no-extract"], ["report"]], ids=["run", "report"])
def test_cli_bad_mail_to_exits_2_before_anything(command: list[str], store: Path, tmp_path: Path) -> None:
    before = sorted(p.name for p in store.iterdir())
    result = CliRunner().invoke(
        cli,
        [
            *command,
            "--store",
            str(store),
            "--out",
            str(tmp_path / "out"),
            "--as-of",
            "2026-11-23T06:00:00Z",
            "--mail-to",
            "notanaddress",
        ],
    )
    assert result.exit_code == EXIT_CONFIG, result.output
    assert "'notanaddress' is not an e-mail address" in result.output
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in store.iterdir()) == before  # no history line either


# --------------------------------------------------------------- 5: the history of every outcome


def _runs(store: Path) -> list[dict[str, Any]]:
    return [e for e in read_history(store) if e.get("kind") == "run"]


def test_a_run_failing_in_rendering_is_recorded_failed(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RenderError("PDF renderer failed: font missing")

    monkeypatch.setattr("audit.app.pipeline.render_all", broken)
    with pytest.raises(RenderError):
        run_job(Config(), prepare(Config()), _options(store, tmp_path / "out"))
    [entry] = _runs(store)
    assert entry["status"] == "failed" and entry["exit_code"] == EXIT_RUNTIME
    assert "font missing" in entry["error"]
    assert isinstance(entry["seconds"], float) and entry["score"] is not None
    table = format_table([entry])
    assert "failed exit 3" in table and "error: PDF renderer failed: font missing" in table


def test_a_breached_gate_and_then_a_good_run_are_recorded(store: Path, tmp_path: Path) -> None:
    breached = run_job(Config(), prepare(Config()), _options(store, tmp_path / "a", fail_under=100))
    assert breached.exit_code == 1
    [entry] = _runs(store)
    assert (entry["status"], entry["exit_code"]) == ("threshold", 1)
    assert "threshold exit 1" in format_table([entry])

    ok = run_job(Config(), prepare(Config()), _options(store, tmp_path / "b"))
    assert ok.exit_code == 0
    # Same snapshot and as-of, yet two runs: each keeps its own outcome (none borrows the other's).
    first, second = _runs(store)
    assert (first["status"], first["exit_code"]) == ("threshold", 1)
    assert (second["status"], second["exit_code"]) == ("ok", 0) and second.get("error") is None
    assert first["run_id"] != second["run_id"] and first["snapshot"] == second["snapshot"]


def test_a_run_killed_while_evaluating_shows_unfinished(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def killed(*args: Any, **kwargs: Any) -> Any:
        # What history.jsonl holds when the process dies here: the `running` line only.
        raise SystemExit(-9)

    monkeypatch.setattr(pipeline, "assess", killed)
    monkeypatch.setattr(pipeline, "_record", _only_running(pipeline._record))
    with pytest.raises(SystemExit):
        run_job(Config(), prepare(Config()), _options(store, tmp_path / "out"))
    [entry] = _runs(store)
    assert entry["status"] == "running"
    assert "unfinished" in format_table([entry])


def _only_running(record: Callable[..., None]) -> Callable[..., None]:
    def wrapper(fn: Callable[..., Any], store: Store, entry: dict[str, Any]) -> None:
        if entry.get("status") == "running":
            record(fn, store, entry)

    return wrapper


def test_time_column_is_the_whole_run() -> None:
    entry = {
        "run_id": "r",
        "started": "2026-11-23T06:00:00Z",
        "finished": "2026-11-23T06:00:04Z",
        "seconds": 75.2,
        "status": "ok",
    }
    assert "1m15s" in format_table([entry]).splitlines()[1]


# --------------------------------------------------------------- 1: one tenant id


# --------------------------------------------------------------- 8, 9: the CLI's defaults and summary


def test_run_sandbox_defaults_to_the_sandbox_as_of(store: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["run", "--sandbox", "--no-extract", "--store", str(store), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["as_of"].startswith("2026-11-23T06:00:00")
    assert summary["period"]["label"] == "2026-W47"


def test_end_of_run_summary_names_unmeasured_rules_the_gate_and_absolute_paths(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[rules."SLA-07"]\nenabled = false\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        cli,
        [
            "run",
            "--no-extract",
            "--config",
            "c.toml",
            "--store",
            str(store),
            "--out",
            "out",
            "--as-of",
            "2026-11-23T06:00:00Z",
            "--fail-under",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(
        ln.startswith("Not measured: ")
        and "QUA-10 (needs TicketHistory)" in ln
        and ln.endswith("disabled: SLA-07")
        for ln in lines
    ), result.output
    assert "Gate: 1 threshold met" in lines
    listed = [
        ln.split()[-1] for ln in lines[lines.index(f"Reports in {(tmp_path / 'out').resolve()}:") + 1 :]
    ]
    assert listed and all(Path(p).is_absolute() and Path(p).exists() for p in listed), listed


def test_gate_line() -> None:
    from audit.cli.run import _gate_line

    def t(passed: bool) -> ThresholdResult:
        return ThresholdResult("overall", "", 80, 70, 10, False, passed, "m")

    assert _gate_line([]) == "Gate: no thresholds configured"
    assert _gate_line([t(True), t(True), t(True)]) == "Gate: 3 thresholds met"
    assert _gate_line([t(False), t(True), t(True)]) == "Gate: 1 of 3 thresholds missed"


def test_first_run_checks_the_mapping_as_soon_as_the_picklists_arrive(tmp_path: Path) -> None:
    from audit.sandbox.emulator import Emulator

    config = _config(tmp_path, '[mapping]\nclosed_statuses = ["Completed"]\n')
    emulator = Emulator(generate_tenant(5, tickets=80, technicians=2, as_of=AS_OF))
    store = tmp_path / "store"
    with pytest.raises(MappingError, match="'Completed'"):
        run_job(
            config,
            prepare(config),
            _options(store, tmp_path / "out"),
            client_factory=lambda: sandbox_client(emulator=emulator),
        )
    assert emulator.stats.total > 0  # the picklists (and the plan's counts) were fetched
    assert (
        emulator.stats.rows["Tickets"] == 0 and emulator.stats.rows["TicketNotes"] == 0
    )  # no big query served
    assert not Store(store).exists() and not (tmp_path / "out").exists()


# --------------------------------------------------------------- as-of: rows created later are not counted


def test_run_and_check_share_the_gate_and_its_tolerance(store: Path, tmp_path: Path) -> None:
    """`run --tolerance` means what `check --tolerance` means: one gate behind both."""

    def run(*args: str) -> Any:
        out = ["--store", str(store), "--out", str(tmp_path / "out"), "--as-of", "2026-11-23T06:00:00Z"]
        return CliRunner().invoke(cli, ["run", "--no-extract", *out, *args])

    baseline = tmp_path / "baseline.json"
    assert run("--write-baseline", str(baseline)).exit_code == 0
    document = json.loads(baseline.read_text(encoding="utf-8"))
    document["scores"]["overall"] += 1.0  # the baseline was a point better than this run
    baseline.write_text(json.dumps(document), encoding="utf-8")

    for tolerance, expected in ((None, 1), ("2", 0)):
        extra = ["--tolerance", tolerance] if tolerance else []
        ran = run("--baseline", str(baseline), *extra)
        checked = CliRunner().invoke(
            cli, ["check", "--out", str(tmp_path / "out"), "--baseline", str(baseline), *extra]
        )
        assert (ran.exit_code, checked.exit_code) == (expected, expected), ran.output + checked.output
        gate = json.loads((tmp_path / "out" / "gate.json").read_text(encoding="utf-8"))
        assert gate["exit_code"] == expected
        overall = next(r for r in gate["results"] if r["name"] == "baseline.overall")
        assert overall["passed"] is (expected == 0)
