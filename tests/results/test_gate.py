"""The CI gate: thresholds (incl. low sample), exit-code precedence, baseline ratchet, annotations, CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from audit.cli import cli
from audit.core.config import Thresholds
from audit.core.errors import ConfigError
from audit.render.csv_out import write_findings_csv
from audit.results.baseline import check_baseline, load_baseline, write_baseline
from audit.results.gate import annotations_enabled, github_annotations, results_as_dicts
from audit.results.thresholds import (
    ThresholdResult,
    evaluate_thresholds,
    gate_exit_code,
    resolve_thresholds,
    rule_errors,
)

# ------------------------------------------------------------------------------------ fixtures


def cell(score: float | None, applicable: int, low: bool | None = None, **extra: Any) -> dict[str, Any]:
    passed = round(applicable * (score or 0) / 100)
    return {
        "score": score,
        "applicable": applicable,
        "passed": passed,
        "failed": applicable - passed,
        "waived": 0,
        "low_sample": applicable < 5 if low is None else low,
        **extra,
    }


def make_summary(**changes: Any) -> dict[str, Any]:
    """A summary.json document shaped like audit.results.scoring's."""
    summary: dict[str, Any] = {
        "score": 88.0,
        "overall": cell(88.0, 200),
        "as_of": "2026-11-24T00:00:00+00:00",
        "period": {"from": "2026-11-16", "to": "2026-11-22", "label": "2026-W47"},
        "tenant": {"name": "Acme", "id": None, "zone": None, "web_url": None, "ruleset_version": "v1"},
        "rules": {
            "CLO-01": cell(100.0, 40, status="measured", step="closure"),
            "CLO-02": cell(90.0, 40, status="measured", step="closure"),
            "INT-01": cell(50.0, 2, status="measured", step="intake"),
            "QUA-10": cell(None, 0, status="not_measured", step="qualification"),
        },
        "steps": {
            "intake": cell(50.0, 2, label="Intake", order=0, rules=["INT-01"]),
            "qualification": cell(None, 0, label="Qualification", order=1, rules=["QUA-10"]),
            "closure": cell(96.0, 80, label="Closure", order=2, rules=["CLO-01", "CLO-02"]),
        },
        "technicians": [
            {**cell(91.0, 60), "key": "1", "id": 1, "name": "Ann", "unassigned": False},
            {**cell(70.0, 3), "key": "2", "id": 2, "name": "Bob", "unassigned": False},
            {**cell(40.0, 30), "key": "unassigned", "id": None, "name": "Unassigned", "unassigned": True},
        ],
        "queues": [
            {**cell(88.0, 200), "key": "10", "id": 10, "name": "N1 - Service Desk", "unassigned": False}
        ],
    }
    summary.update(changes)
    return summary


def finding(
    rule: str, row_id: int, *, kind: str = "ticket", waived: bool = False, **extra: Any
) -> dict[str, Any]:
    return {
        "rule_id": rule,
        "rule_name": rule,
        "step": "closure" if rule.startswith("CLO") else "intake",
        "severity": "critical",
        "weight": 5.0,
        "ticket_id": row_id,
        "ticket_number": f"T20261117.{row_id:04d}",
        "row_kind": kind,
        "row_id": row_id,
        "technician_id": 1,
        "technician": "Ann",
        "queue_id": 10,
        "queue": "N1 - Service Desk",
        "anchor_date": "2026-11-17",
        "week": "2026-W47",
        "message": "failed",
        "waived": waived,
        "ticket_url": f"https://example.test/{row_id}",
        **extra,
    }


def findings_frame(*rows: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(list(rows)) if rows else pd.DataFrame(columns=list(finding("CLO-01", 1)))


def by_name(results: list[ThresholdResult]) -> dict[str, ThresholdResult]:
    return {r.name: r for r in results}


# ---------------------------------------------------------------------------------- thresholds


def test_every_kind_of_threshold_is_checked() -> None:
    th = Thresholds(
        overall=85, step={"closure": 95}, rule={"CLO-01": 100, "CLO-02": 95}, technician=80, queue=80
    )
    results = by_name(evaluate_thresholds(make_summary(), th))
    assert results["threshold.overall"].passed and results["threshold.overall"].score == 88.0
    assert results["threshold.step.closure"].passed
    assert results["threshold.rule.CLO-01"].passed  # 100 >= 100: a threshold is met at equality
    assert not results["threshold.rule.CLO-02"].passed
    assert "90 < 95 (n=40)" in results["threshold.rule.CLO-02"].message
    assert results["threshold.technician.Ann"].passed
    assert results["threshold.queue.N1 - Service Desk"].passed
    # The Unassigned pseudo-row is nobody's scorecard: no technician threshold on it.
    assert "threshold.technician.Unassigned" not in results
    assert gate_exit_code(results.values()) == 1


def test_low_sample_is_reported_but_never_fails_alone() -> None:
    th = Thresholds(step={"intake": 90}, rule={"INT-01": 90}, technician=80)
    results = by_name(evaluate_thresholds(make_summary(), th))
    for name in ("threshold.step.intake", "threshold.rule.INT-01", "threshold.technician.Bob"):
        result = results[name]
        assert result.passed and result.low_sample and result.warning and result.skipped
        assert "low sample" in result.message
    assert gate_exit_code(results.values()) == 0


def test_low_sample_derived_from_applicable_when_flag_absent() -> None:
    summary = make_summary()
    summary["rules"]["CLO-02"] = {"score": 10.0, "applicable": 3, "status": "measured"}
    th = Thresholds(rule={"CLO-02": 95}, min_sample=5)
    [result] = evaluate_thresholds(summary, th)
    assert result.low_sample and result.passed
    [strict] = evaluate_thresholds(summary, Thresholds(rule={"CLO-02": 95}, min_sample=2))
    assert not strict.passed


def test_a_big_sample_below_threshold_fails_even_with_low_sample_neighbours() -> None:
    th = Thresholds(technician=80)
    summary = make_summary()
    summary["technicians"][0]["score"] = 79.9
    results = by_name(evaluate_thresholds(summary, th))
    assert not results["threshold.technician.Ann"].passed
    assert results["threshold.technician.Bob"].passed


def test_unmeasured_scores_are_not_applied() -> None:
    th = Thresholds(step={"qualification": 90}, rule={"QUA-10": 90})
    results = evaluate_thresholds(make_summary(), th)
    assert all(r.passed and r.score is None for r in results)
    assert gate_exit_code(results) == 0


def test_unknown_step_or_rule_in_thresholds_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="closur"):
        evaluate_thresholds(make_summary(), Thresholds(step={"closur": 95}))
    with pytest.raises(ConfigError, match="CLO-99"):
        evaluate_thresholds(make_summary(), Thresholds(rule={"CLO-99": 95}))


def test_step_names_match_case_insensitively() -> None:
    [result] = evaluate_thresholds(make_summary(), Thresholds(step={"Closure": 95}))
    assert result.passed and result.score == 96.0


def test_rule_error_is_a_runtime_error() -> None:
    summary = make_summary()
    summary["rules"]["CLO-02"] = {"status": "error", "error": "bad regex", "score": None, "applicable": 0}
    assert rule_errors(summary) == ["rule CLO-02 failed to evaluate: bad regex"]
    results = evaluate_thresholds(summary, Thresholds(rule={"CLO-02": 90}))
    assert not results[0].passed
    assert gate_exit_code(results, runtime_error=bool(rule_errors(summary))) == 3


def test_fail_under_overrides_config_and_is_validated() -> None:
    th = resolve_thresholds(Thresholds(overall=50), fail_under=90)
    assert th.overall == 90
    assert resolve_thresholds(Thresholds(overall=50), fail_under=None).overall == 50
    with pytest.raises(ConfigError):
        resolve_thresholds(Thresholds(), fail_under=101)
    [result] = evaluate_thresholds(make_summary(), th)
    assert not result.passed


def _result(passed: bool) -> ThresholdResult:
    return ThresholdResult("overall", "", 85.0, 90.0 if passed else 80.0, 100, False, passed, "m")


@pytest.mark.parametrize(
    ("config_error", "runtime_error", "breached", "expected"),
    [
        (False, False, False, 0),
        (False, False, True, 1),
        (False, True, False, 3),
        (False, True, True, 3),
        (True, False, False, 2),
        (True, False, True, 2),
        (True, True, False, 2),
        (True, True, True, 2),
    ],
)
def test_exit_code_precedence(config_error: bool, runtime_error: bool, breached: bool, expected: int) -> None:
    results = [_result(True), _result(not breached)]
    assert gate_exit_code(results, config_error=config_error, runtime_error=runtime_error) == expected


def test_results_as_plain_dicts() -> None:
    results = evaluate_thresholds(make_summary(), Thresholds(overall=85))
    [data] = results_as_dicts(results)
    assert data["name"] == "threshold.overall" and data["passed"] is True and data["threshold"] == 85
    json.dumps(data)  # plain data, ready for any renderer


# ------------------------------------------------------------------------------------ baseline


def test_baseline_round_trip_has_no_regression(tmp_path: Path) -> None:
    findings = findings_frame(finding("CLO-02", 1), finding("CLO-02", 2, waived=True))
    path = tmp_path / "baseline.json"
    assert write_baseline(make_summary(), findings, path) == path
    document = json.loads(path.read_text())
    assert document["ruleset_version"] == "v1"
    assert document["findings"] == [["CLO-02", "ticket", "1"]]  # waived findings are not debt
    baseline = load_baseline(path)
    results = check_baseline(make_summary(), findings, baseline)
    assert all(r.passed for r in results), [r.message for r in results if not r.passed]
    assert gate_exit_code(results) == 0


def test_baseline_fails_on_a_score_drop_beyond_tolerance(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    write_baseline(make_summary(), findings_frame(), path)
    worse = make_summary(score=87.4)
    worse["rules"]["CLO-02"]["score"] = 89.6  # within 0.5
    worse["steps"]["closure"]["score"] = 95.0
    results = by_name(check_baseline(worse, findings_frame(), load_baseline(path), tolerance=0.5))
    assert not results["baseline.overall"].passed
    assert "vs baseline 88" in results["baseline.overall"].message
    assert results["baseline.rule:CLO-02"].passed
    assert not results["baseline.step:closure"].passed
    assert check_baseline(worse, findings_frame(), load_baseline(path), tolerance=2.0)[0].passed


def test_baseline_low_sample_drop_does_not_fail(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    write_baseline(make_summary(), findings_frame(), path)
    worse = make_summary()
    worse["rules"]["INT-01"]["score"] = 0.0
    results = by_name(check_baseline(worse, findings_frame(), load_baseline(path)))
    assert results["baseline.rule:INT-01"].passed and results["baseline.rule:INT-01"].low_sample


def test_baseline_fails_on_new_findings_only(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    write_baseline(make_summary(), findings_frame(finding("CLO-02", 1)), path)
    now = findings_frame(
        finding("CLO-02", 1),
        finding("CLO-02", 7, kind="note"),
        finding("CLO-02", 8, waived=True),
        finding("ZZZ-01", 9),  # a rule the baseline did not know is not a regression
    )
    results = by_name(check_baseline(make_summary(), now, load_baseline(path)))
    new = results["baseline.new-findings"]
    assert not new.passed and new.score == 1
    assert new.details == ("T20261117.0007: CLO-02 note 7",)  # by ticket number first
    fixed = check_baseline(make_summary(), findings_frame(), load_baseline(path))
    assert by_name(fixed)["baseline.new-findings"].passed  # fixing a finding is never a failure


def test_baseline_keys_survive_csv_round_trip(tmp_path: Path) -> None:
    findings = findings_frame(finding("CLO-02", 1), finding("CLO-02", 2))
    write_baseline(make_summary(), findings, tmp_path / "b.json")
    write_findings_csv(findings, tmp_path / "findings.csv")
    from audit.app.check import read_findings

    again = read_findings(tmp_path)
    results = by_name(check_baseline(make_summary(), again, load_baseline(tmp_path / "b.json")))
    assert results["baseline.new-findings"].passed


def test_bad_baseline_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text("{\n  nope\n")
    with pytest.raises(ConfigError) as info:
        load_baseline(path)
    assert info.value.file == str(path) and info.value.line == 2
    with pytest.raises(ConfigError):
        load_baseline(tmp_path / "missing.json")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('{"format": 1, "scores": ' + "9" * 5_000 + "}", "a number too long to read"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)
def test_a_hostile_baseline_is_a_config_error(tmp_path: Path, text: str, fragment: str) -> None:
    """A 5,000-digit number or a deeply nested file used to end the run as an internal error (exit 3)."""
    path = tmp_path / "b.json"
    path.write_text(text)
    with pytest.raises(ConfigError, match=fragment) as info:
        load_baseline(path)
    assert info.value.file == str(path) and info.value.exit_code == 2


# --------------------------------------------------------------------------------- annotations


def test_github_annotations_for_failures_and_low_sample_warnings() -> None:
    th = Thresholds(rule={"CLO-02": 95, "INT-01": 90}, overall=85)
    results = evaluate_thresholds(make_summary(), th)
    lines = github_annotations(results, runtime_errors=["rule X failed to evaluate: 50% bad"])
    assert lines[0] == "::error title=ticket-audit runtime error::rule X failed to evaluate: 50%25 bad"
    assert any(
        line.startswith("::error title=ticket-audit threshold.rule.CLO-02::rule CLO-02: 90 < 95")
        for line in lines
    )
    assert any(line.startswith("::warning title=ticket-audit threshold.rule.INT-01::") for line in lines)
    assert not any("threshold.overall" in line for line in lines)  # passed: no annotation
    assert all("\n" not in line for line in lines)


def test_annotation_escaping_of_details() -> None:
    result = ThresholdResult("baseline", "new-findings", 0, 2, 5, False, False, "2 new", ("a", "b"))
    [line] = github_annotations([result])
    assert line == "::error title=ticket-audit baseline.new-findings::2 new%0Aa%0Ab"


def test_annotations_enabled_by_github_actions_variable() -> None:
    assert annotations_enabled({"GITHUB_ACTIONS": "true"})
    assert not annotations_enabled({})
    assert not annotations_enabled({"GITHUB_ACTIONS": "false"})


# --------------------------------------------------------------------------------------- the CLI


def write_run(out: Path, summary: dict[str, Any] | None = None, findings: pd.DataFrame | None = None) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary or make_summary()))
    write_findings_csv(
        findings if findings is not None else findings_frame(finding("CLO-02", 1)), out / "findings.csv"
    )
    (out / "summary.md").write_text("written by the report step\n")  # check amends it
    return out


def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_cli_check_passes_and_writes_results(tmp_path: Path) -> None:
    out = write_run(tmp_path / "out")
    result = invoke("check", "--out", str(out), "--fail-under", "85")
    assert result.exit_code == 0, result.output
    assert "PASS overall score: 88 >= 85 (n=200)" in result.output
    gate = json.loads((out / "gate.json").read_text())
    assert gate["exit_code"] == 0 and gate["results"][0]["name"] == "threshold.overall"
    junit = (out / "junit.xml").read_text()
    assert 'name="thresholds"' in junit and "threshold.overall" in junit
    assert "threshold.overall" in (out / "summary.md").read_text()
    assert "::" not in result.output  # no annotations outside GitHub Actions


def test_cli_check_breach_exits_1_with_annotations(tmp_path: Path) -> None:
    out = write_run(tmp_path / "out")
    config = tmp_path / "c.toml"
    config.write_text('[thresholds]\nstep.closure = 95\nrule."CLO-02" = 95\ntechnician = 80\nqueue = 80\n')
    result = invoke("check", "--out", str(out), "--config", str(config), env={"GITHUB_ACTIONS": "true"})
    assert result.exit_code == 1, result.output
    assert "FAIL rule CLO-02: 90 < 95 (n=40)" in result.output
    assert "WARN technician Bob" in result.output
    assert "::error title=ticket-audit threshold.rule.CLO-02::" in result.output
    assert "<failure" in (out / "junit.xml").read_text()


def test_cli_check_baseline_ratchet(tmp_path: Path) -> None:
    out = write_run(tmp_path / "out")
    baseline = tmp_path / "baseline.json"
    assert invoke("check", "--out", str(out), "--write-baseline", str(baseline)).exit_code == 0
    assert invoke("check", "--out", str(out), "--baseline", str(baseline)).exit_code == 0
    write_run(out, make_summary(), findings_frame(finding("CLO-02", 1), finding("CLO-02", 2)))
    result = invoke("check", "--out", str(out), "--baseline", str(baseline))
    assert result.exit_code == 1
    assert "1 finding(s) new since the baseline" in result.output and "CLO-02 ticket 2" in result.output


def test_cli_check_config_and_runtime_errors(tmp_path: Path) -> None:
    out = write_run(tmp_path / "out")
    bad = tmp_path / "bad.toml"
    bad.write_text("[thresholds]\noveral = 3\n")
    result = CliRunner().invoke(cli, ["check", "--out", str(out), "--config", str(bad)])
    assert result.exit_code == 2 and f"{bad}:2" in result.output
    result = CliRunner().invoke(cli, ["check", "--out", str(tmp_path / "nothing"), "--fail-under", "80"])
    assert result.exit_code == 3 and "summary.json" in result.output
    # A config error wins over a runtime error (2 > 3): the missing output is never read.
    result = CliRunner().invoke(cli, ["check", "--out", str(tmp_path / "nothing"), "--config", str(bad)])
    assert result.exit_code == 2
    errored = make_summary()
    errored["rules"]["CLO-02"] = {"status": "error", "error": "boom", "score": None, "applicable": 0}
    write_run(out, errored)
    result = CliRunner().invoke(cli, ["check", "--out", str(out), "--fail-under", "99"])
    assert result.exit_code == 3 and "CLO-02 failed to evaluate: boom" in result.output


# ------------------------------------------------------------------- the installed console script


def _console_script() -> str:
    candidate = Path(sys.executable).parent / "ticket-audit"
    found = str(candidate) if candidate.exists() else shutil.which("ticket-audit")
    if not found:
        pytest.skip("ticket-audit console script is not installed")
    return found


@pytest.mark.parametrize(
    ("setup", "expected"),
    [("pass", 0), ("breach", 1), ("bad-config", 2), ("unreadable-summary", 3)],
)
def test_installed_console_script_exit_codes(tmp_path: Path, setup: str, expected: int) -> None:
    out = write_run(tmp_path / "out")
    args = [_console_script(), "check", "--out", str(out)]
    if setup == "pass":
        args += ["--fail-under", "85"]
    elif setup == "breach":
        args += ["--fail-under", "95"]
    elif setup == "bad-config":
        config = tmp_path / "c.toml"
        config.write_text("[thresholds]\noverall = 'high'\n")
        args += ["--config", str(config)]
    else:
        (out / "summary.json").write_text("{ truncated")
        args += ["--fail-under", "85"]
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}
    proc = subprocess.run(args, capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == expected, proc.stdout + proc.stderr
    if expected == 2:
        assert f"{tmp_path / 'c.toml'}:2" in proc.stderr
    if expected == 3:
        assert "unreadable summary" in proc.stderr


def test_run_gate_is_thresholds_then_baseline_with_rule_errors_as_runtime(tmp_path: Path) -> None:
    from audit.results.gate import GateOutcome, outcome_lines, run_gate

    summary = make_summary()
    none = pd.DataFrame(columns=["rule_id", "row_kind", "row_id", "waived"])
    thresholds = Thresholds(overall=50)
    alone = run_gate(summary, none, thresholds)
    assert alone == GateOutcome(evaluate_thresholds(summary, thresholds), rule_errors(summary), 0)
    assert outcome_lines(alone) == [f"PASS {r.message}" for r in alone.results]

    baseline_path = write_baseline(summary, none, tmp_path / "b.json")
    baseline = load_baseline(baseline_path)
    baseline["scores"]["overall"] = float(summary["score"]) + 1.0
    strict = run_gate(summary, none, thresholds, baseline=baseline)
    lenient = run_gate(summary, none, thresholds, baseline=baseline, tolerance=2)
    assert (strict.exit_code, lenient.exit_code) == (1, 0)
    assert any(line.startswith("FAIL overall score vs baseline") for line in outcome_lines(strict))

    mailed = lenient.with_runtime_errors(["mail: refused"])
    assert (mailed.exit_code, mailed.runtime_errors[-1]) == (3, "mail: refused")
    assert outcome_lines(mailed)[0] == "ERROR mail: refused"
