"""`ticket-audit run`, the nightly job in operation: exit codes, locking, a killed run, history.

Every test runs the installed console script as a subprocess, as cron, systemd or a CI job
would, against a small sandbox tenant served over loopback HTTP (AUTOTASK_* in the environment).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.e2e_support import AS_OF, Api, closed_port_url, loopback_api, start, ticket_audit, wait_for

OUTPUTS = ("findings.csv", "summary.json", "junit.xml", "summary.md", "qa-review.xlsx", "scorecards.pdf")


def _copy_store(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _tree(path: Path) -> dict[str, bytes]:
    """Every file under ``path`` with its bytes (a snapshot "untouched" keeps all of them)."""
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------------------------- exit 0 and 1


def test_exit_0_without_thresholds_1_below_fail_under_and_reproducible(
    extracted_store: Path, tmp_path: Path
) -> None:
    store = _copy_store(extracted_store, tmp_path / "store")
    ok = ticket_audit(
        "run", "--no-extract", "--store", store, "--as-of", AS_OF, "--out", tmp_path / "a", cwd=tmp_path
    )
    assert ok.returncode == 0, ok.stderr
    for name in OUTPUTS:
        assert (tmp_path / "a" / name).stat().st_size > 0, name

    breached = ticket_audit(
        "run",
        "--no-extract",
        "--store",
        store,
        "--as-of",
        AS_OF,
        "--out",
        tmp_path / "b",
        "--fail-under",
        "100",
        cwd=tmp_path,
    )
    assert breached.returncode == 1, breached.stderr
    assert "threshold missed: overall score" in breached.stderr
    assert json.loads((tmp_path / "b" / "summary.json").read_text())["score"] < 100
    # The gate's results as data for CI, as `check` writes them.
    assert json.loads((tmp_path / "a" / "gate.json").read_text())["exit_code"] == 0
    gate = json.loads((tmp_path / "b" / "gate.json").read_text())
    assert gate["exit_code"] == 1
    assert [(r["kind"], r["threshold"], r["passed"]) for r in gate["results"]] == [("overall", 100.0, False)]

    # Same store, same as-of: byte-identical contract outputs (thresholds do not change them).
    for name in ("findings.csv", "summary.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


# ---------------------------------------------------------------------------------- exit 2


BAD_CONFIGS = {  # written into the working folder of each case
    "invalid.toml": "[thresholds\noverall = 80\n",
    "unknown-key.toml": "[thresholds]\noveral = 80\n",
    # Names checked against the rule set before the extraction (not at gate time, after it).
    "step-typo.toml": "[thresholds]\nstep.closur = 95\n",
    "rule-typo.toml": '[thresholds]\nrule."CLO-99" = 100\n',
    "unknown-override.toml": '[rules."XYZ-99"]\nenabled = false\n',
}


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--config", "invalid.toml"], id="config-invalid-toml"),
        pytest.param(["--config", "unknown-key.toml"], id="config-unknown-key"),
        pytest.param(["--config", "missing.toml"], id="config-missing"),
        pytest.param(["--week", "2026-W99"], id="bad-week"),
        pytest.param(["--as-of", "yesterday"], id="bad-as-of"),
        pytest.param(["--frobnicate"], id="unknown-flag"),
        pytest.param(["--waivers", "missing.yaml"], id="waivers-missing"),
        pytest.param(["--config", "step-typo.toml"], id="threshold-step-typo"),
        pytest.param(["--config", "rule-typo.toml"], id="threshold-rule-typo"),
        pytest.param(["--config", "unknown-override.toml"], id="unknown-rule-override"),
        pytest.param(["--week", "2027-W10"], id="period-after-as-of"),
        pytest.param(["--mail-to", "notanaddress"], id="bad-mail-to"),
    ],
)
def test_usage_and_config_errors_exit_2_and_nothing_runs(api: Api, tmp_path: Path, args: list[str]) -> None:
    for name, text in BAD_CONFIGS.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    before = api.emulator.stats.total
    proc = ticket_audit(
        "run",
        "--store",
        tmp_path / "store",
        "--out",
        tmp_path / "out",
        "--as-of",
        AS_OF,
        *args,
        cwd=tmp_path,
        env=api.env,
    )
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stderr.strip(), "a usage error says what is wrong"
    assert "Traceback" not in proc.stderr
    # Nothing ran: no request reached the API, no store, no reports.
    assert api.emulator.stats.total == before
    assert not (tmp_path / "store").exists()
    assert not (tmp_path / "out").exists()


def test_mapping_typo_exit_2_before_extracting_when_the_store_has_picklists(
    api: Api, extracted_store: Path, tmp_path: Path
) -> None:
    store = _copy_store(extracted_store, tmp_path / "store")
    before, served = _tree(store), api.emulator.stats.total
    config = tmp_path / "ticket-audit.toml"
    config.write_text('[mapping]\nclosed_statuses = ["Completed"]\n', encoding="utf-8")
    proc = ticket_audit(
        "run",
        "--config",
        config,
        "--store",
        store,
        "--out",
        tmp_path / "out",
        "--as-of",
        AS_OF,
        cwd=tmp_path,
        env=api.env,
    )
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert f"{config}:2: mapping.closed_statuses" in proc.stderr and "'Completed'" in proc.stderr
    assert api.emulator.stats.total == served  # not one request: the stored picklists decided
    assert _tree(store) == before and not (tmp_path / "out").exists()


def test_missing_credentials_exit_2_before_anything(tmp_path: Path) -> None:
    proc = ticket_audit(
        "run", "--store", tmp_path / "store", "--out", tmp_path / "out", "--as-of", AS_OF, cwd=tmp_path
    )
    assert proc.returncode == 2, proc.stderr
    assert "AUTOTASK_USERNAME" in proc.stderr
    assert not (tmp_path / "store").exists()


# ---------------------------------------------------------------------------------- exit 3


def _unreachable_env(api: Api) -> dict[str, str]:
    return {**api.env, "AUTOTASK_ZONE_URL": closed_port_url()}


def test_unreachable_api_exit_3_and_the_previous_snapshot_is_untouched(
    api: Api, extracted_store: Path, tmp_path: Path
) -> None:
    store = _copy_store(extracted_store, tmp_path / "store")
    before = _tree(store)
    config = tmp_path / "ticket-audit.toml"
    config.write_text("[extract]\nmax_retries = 1\n", encoding="utf-8")  # fail fast: no long back-off
    proc = ticket_audit(
        "run",
        "--config",
        config,
        "--store",
        store,
        "--out",
        tmp_path / "out",
        "--as-of",
        AS_OF,
        cwd=tmp_path,
        env=_unreachable_env(api),
    )
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    assert "ticket-audit: error:" in proc.stderr and "Traceback" not in proc.stderr
    assert "refused" in proc.stderr.lower() or "connect" in proc.stderr.lower()
    assert api.env["AUTOTASK_SECRET"] not in proc.stderr + proc.stdout
    # The published snapshot is exactly as it was; no lock is left behind, no report written.
    after = _tree(store)
    assert {k: v for k, v in after.items() if not k.startswith("failed-runs")} == before
    assert not (store / "lock").exists()
    # Exit 3 still explains itself to a CI job: gate.json, junit.xml and summary.md name the error,
    # and no other report (nothing partial, nothing of another run) is in the folder.
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["gate.json", "junit.xml", "summary.md"]
    gate = json.loads((out / "gate.json").read_text(encoding="utf-8"))
    assert gate["exit_code"] == 3 and gate["runtime_errors"] and gate["results"] == []
    junit = ET.parse(out / "junit.xml").getroot()
    failures = junit.findall(".//failure")
    assert junit.get("failures") == "1" and len(failures) == 1
    assert failures[0].get("message") == gate["runtime_errors"][0]
    assert gate["runtime_errors"][0] in (out / "summary.md").read_text(encoding="utf-8")
    assert api.env["AUTOTASK_SECRET"] not in "".join(p.read_text(encoding="utf-8") for p in out.iterdir())


def test_config_error_takes_precedence_over_an_unreachable_api(api: Api, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[thresholds]\noverall = 'high'\n", encoding="utf-8")
    proc = ticket_audit(
        "run",
        "--config",
        config,
        "--store",
        tmp_path / "store",
        "--out",
        tmp_path / "out",
        "--as-of",
        AS_OF,
        cwd=tmp_path,
        env=_unreachable_env(api),
    )
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert str(config) in proc.stderr
    assert not (tmp_path / "store").exists()


# ------------------------------------------------------------- nights: a lock, a killed run, history


@pytest.mark.slow
def test_nights_concurrent_run_refused_killed_run_recovered_and_history(tmp_path: Path) -> None:
    """Night 1: a slow run holds the store; a second run on the same store is refused (exit 3)
    and the first succeeds. Night 2: a run is killed (SIGKILL) mid-extraction: the snapshot of
    night 1 stays published. Night 3: a good run recovers the stale lock and succeeds. The
    history lists the runs."""
    store = tmp_path / "store"
    with loopback_api(latency=0.05) as api:
        run = ("run", "--store", store, "--as-of", AS_OF)

        # Night 1 ----------------------------------------------------------------------------
        first = start(*run, "--out", tmp_path / "night1", cwd=tmp_path, env=api.env)
        try:
            wait_for(
                lambda: (store / "lock").exists() and api.emulator.stats.total > 0,
                what="the first run's lock",
            )
            holder = json.loads((store / "lock").read_text())
            assert holder["pid"] == first.pid
            second = ticket_audit(*run, "--out", tmp_path / "night1-bis", cwd=tmp_path, env=api.env)
        finally:
            _, err = first.communicate(timeout=300)
        assert second.returncode == 3, (second.stdout, second.stderr)
        assert f"locked by pid {first.pid}" in second.stderr
        # The refused run's folder holds only the CI outputs naming the lock.
        refused = tmp_path / "night1-bis"
        assert sorted(p.name for p in refused.iterdir()) == ["gate.json", "junit.xml", "summary.md"]
        assert f"locked by pid {first.pid}" in (refused / "gate.json").read_text(encoding="utf-8")
        assert first.returncode == 0, err
        assert (tmp_path / "night1" / "summary.json").is_file()
        night1_snapshot = (store / "CURRENT").read_text()
        night1_files = _tree(store / "snapshots" / night1_snapshot.strip())

        # Night 2: killed mid-extraction ----------------------------------------------------------
        api.emulator.latency = 0.5
        served = api.emulator.stats.total
        killed = start(*run, "--out", tmp_path / "night2", cwd=tmp_path, env=api.env)
        try:
            wait_for(
                lambda: api.emulator.stats.total > served and any((store / "staging").iterdir()),
                what="the second night's extraction",
            )
        finally:
            os.kill(killed.pid, signal.SIGKILL)
            killed.communicate(timeout=60)
        assert killed.returncode == -signal.SIGKILL
        assert json.loads((store / "lock").read_text())["pid"] == killed.pid  # left behind, stale
        assert (store / "CURRENT").read_text() == night1_snapshot
        assert _tree(store / "snapshots" / night1_snapshot.strip()) == night1_files
        assert not (tmp_path / "night2" / "summary.json").exists()

        # Night 3: recovers ---------------------------------------------------------------------
        api.emulator.latency = 0.0
        good = ticket_audit(*run, "--out", tmp_path / "night3", cwd=tmp_path, env=api.env)
    assert good.returncode == 0, good.stderr
    assert f"stale lock of pid {killed.pid}" in good.stderr
    assert not (store / "lock").exists()
    assert list((store / "staging").iterdir()) == []
    assert (store / "CURRENT").read_text() != night1_snapshot
    assert (tmp_path / "night3" / "summary.json").is_file()

    history = ticket_audit("history", "--store", store, "--json", cwd=tmp_path)
    assert history.returncode == 0, history.stderr
    entries = json.loads(history.stdout)
    runs = [e for e in entries if e.get("kind") == "run"]
    assert len(runs) == 2, entries
    assert [e["exit_code"] for e in runs] == [0, 0]
    assert all(e["score"] is not None for e in runs)
    assert {e["run_id"] for e in runs} >= {night1_snapshot.strip(), (store / "CURRENT").read_text().strip()}
