"""audit.app.check: `check --waivers W` gates exactly what `run --waivers W` would have gated.

Both go through the one scoring path (audit.results.rescoring.score_inputs): the run saves its
scoring inputs in --out/scoring/, and check scores them again with the waivers it is given.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from audit.app.check import check_outputs, read_findings, read_summary
from audit.cli import cli
from audit.core.config import Thresholds
from audit.core.errors import EXIT_RUNTIME
from audit.render.json_out import write_summary_json
from audit.results.rescoring import SCORING_DIR, read_scoring_inputs
from audit.results.waivers import load_waivers

AS_OF = "2026-11-23T06:00:00Z"
#: A week, and a period of partial ISO weeks (scored from an evaluation of exactly the period).
PERIODS = {
    "week": ["--week", "2026-W47"],
    "partial": ["--from", "2026-11-18", "--to", "2026-11-21"],
}
#: The files `check` writes, which `run` writes too.
GATE_OUTPUTS = ("gate.json", "junit.xml", "summary.md")


def _invoke(*args: Any) -> Any:
    return CliRunner().invoke(cli, [str(a) for a in args])


def _run(store: Path, out: Path, period: list[str], *extra: Any) -> Any:
    return _invoke("run", "--no-extract", "--store", store, "--out", out, "--as-of", AS_OF, *period, *extra)


def _waivers(findings_csv: Path, path: Path) -> Path:
    """Waivers for a run's findings: one by queue (several findings), one expired, one matching nothing."""
    with findings_csv.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) >= 3, "the tenant must have findings to waive"
    first, second = rows[0], rows[-1]
    path.write_text(
        "waivers:\n"
        f"  - {{rule: {first['rule_id']}, queue: '{first['queue']}', reason: known, approved_by: QA, "
        "expires: 2030-01-01}\n"
        f"  - {{rule: {second['rule_id']}, ticket: {second['ticket_number']}, reason: old, approved_by: QA, "
        "expires: 2026-01-31}\n"
        "  - {rule: CLO-01, ticket: T19990101.0001, reason: none, approved_by: QA, expires: 2030-01-01}\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("period", list(PERIODS.values()), ids=list(PERIODS))
def test_check_waivers_gates_what_run_waivers_gates(store: Path, tmp_path: Path, period: list[str]) -> None:
    other = Path(shutil.copytree(store, tmp_path / "store2"))  # the history must not differ
    plain, waived = tmp_path / "plain", tmp_path / "waived"
    assert _run(store, plain, period).exit_code == 0
    waivers = _waivers(plain / "findings.csv", tmp_path / "w.yaml")
    without = json.loads((plain / "summary.json").read_text(encoding="utf-8"))
    with_waivers = _run(other, waived, period, "--waivers", waivers)
    expected = json.loads((waived / "summary.json").read_text(encoding="utf-8"))
    assert expected["score"] > without["score"]  # the waivers move findings to passed
    # A threshold between the two scores: the waivers decide the gate.
    fail_under = f"{(expected['score'] + without['score']) / 2:.2f}"
    assert _invoke("check", "--out", plain, "--fail-under", fail_under).exit_code == 1

    ran = _run(other, waived, period, "--waivers", waivers, "--fail-under", fail_under)
    checked = _invoke("check", "--out", plain, "--waivers", waivers, "--fail-under", fail_under)
    assert with_waivers.exit_code == ran.exit_code == checked.exit_code == 0, ran.output + checked.output
    assert "expired on 2026-01-31" in checked.output and "matches no finding" in checked.output
    for name in GATE_OUTPUTS:
        assert (plain / name).read_bytes() == (waived / name).read_bytes(), name
    # Gating the waived run again without waivers keeps its verdict and its waiver report.
    run_gate = (waived / "gate.json").read_bytes()
    assert _invoke("check", "--out", waived, "--fail-under", fail_under).exit_code == 0
    assert (waived / "gate.json").read_bytes() == run_gate
    summary_md = (plain / "summary.md").read_text(encoding="utf-8")
    assert "expired on 2026-01-31" in summary_md and "matches no finding" in summary_md

    # The summary check gated is the run's, byte for byte.
    result = check_outputs(
        read_summary(plain),
        read_findings(plain),
        Thresholds(),
        echo=lambda line: None,
        waivers=load_waivers(waivers),
        scoring=read_scoring_inputs(plain / SCORING_DIR),
    )
    write_summary_json(dict(result.summary), tmp_path / "checked.json")  # type: ignore[arg-type]
    assert (tmp_path / "checked.json").read_bytes() == (waived / "summary.json").read_bytes()
    gated = {
        f"{r}|{k}|{i}": bool(w)
        for r, k, i, w in result.findings[["rule_id", "row_kind", "row_id", "waived"]].itertuples(index=False)
    }
    with (waived / "findings.csv").open(encoding="utf-8") as fh:
        published = {
            f"{r['rule_id']}|{r['row_kind']}|{r['row_id']}": r["waived"] == "true" for r in csv.DictReader(fh)
        }
    assert gated == published and any(gated.values())


def test_check_without_waivers_gates_the_saved_summary(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _run(store, out, PERIODS["week"], "--fail-under", "10").exit_code == 0
    run_gate = (out / "gate.json").read_bytes()
    (out / SCORING_DIR / "inputs.json").unlink()  # not read: nothing to score again
    assert _invoke("check", "--out", out, "--fail-under", "10").exit_code == 0
    assert (out / "gate.json").read_bytes() == run_gate


def test_check_waivers_without_scoring_inputs_exits_3_saying_what_to_do(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _run(store, out, PERIODS["week"]).exit_code == 0
    shutil.rmtree(out / SCORING_DIR)  # an output folder of an older release
    waivers = _waivers(out / "findings.csv", tmp_path / "w.yaml")
    assert _invoke("check", "--out", out, "--fail-under", "100").exit_code == 1  # a verdict in gate.json
    result = _invoke("check", "--out", out, "--waivers", waivers)
    assert result.exit_code == EXIT_RUNTIME
    assert "no scoring inputs" in result.output and "re-run `ticket-audit run`" in result.output
    # The failed check's gate.json says so: CI never reads the previous check's verdict instead.
    gate = json.loads((out / "gate.json").read_text(encoding="utf-8"))
    assert gate["exit_code"] == EXIT_RUNTIME and gate["results"] == []
    assert "no scoring inputs" in gate["runtime_errors"][0]


def test_a_run_that_fails_leaves_no_scoring_inputs_of_an_earlier_run(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _run(store, out, PERIODS["week"]).exit_code == 0
    assert (out / SCORING_DIR / "inputs.json").is_file()
    evaluated = _invoke(
        "evaluate", "--store", store, "--out", out, "--as-of", AS_OF, "--week", "2026-W46"
    )  # another period into the same folder: its own inputs replace the run's
    assert evaluated.exit_code == 0, evaluated.output
    assert read_scoring_inputs(out / SCORING_DIR).period.label == "2026-W46"
    failed = _run(tmp_path / "no-store", out, PERIODS["week"])
    assert failed.exit_code == EXIT_RUNTIME
    assert not (out / SCORING_DIR).exists() and not (out / "summary.json").exists()


def test_check_judges_low_samples_by_its_own_min_sample_as_run_would(store: Path, tmp_path: Path) -> None:
    """`check --config C` gates a run as `run --config C` would, also when C's min_sample differs."""
    other = Path(shutil.copytree(store, tmp_path / "store2"))
    plain = tmp_path / "plain"
    assert _run(store, plain, PERIODS["week"]).exit_code == 0
    summary = json.loads((plain / "summary.json").read_text(encoding="utf-8"))
    rule = next(r for r, s in sorted(summary["rules"].items()) if s["failed"] and 5 <= s["applicable"] < 1000)
    config = tmp_path / "c.toml"
    config.write_text(f'[thresholds]\nmin_sample = 1000\nrule."{rule}" = 100\n', encoding="utf-8")
    checked = _invoke("check", "--out", plain, "--config", config)
    ran = _run(other, tmp_path / "ran", PERIODS["week"], "--config", config)
    assert checked.exit_code == ran.exit_code == 0, checked.output  # below, but on a low sample: a warning
    assert f"WARN rule {rule}" in checked.output
    assert (plain / "gate.json").read_bytes() == (tmp_path / "ran" / "gate.json").read_bytes()
