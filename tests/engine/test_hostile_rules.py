"""Rule files written to hurt: alias bombs, absurd numbers, regexes that backtrack for ever.

Each attack is reproduced as a user would meet it (the console script or the CLI on real
files): the file is refused with exit 2 naming file and line, or the runaway rule is reported
as an error (exit 3), never as passed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from audit.cli import cli
from audit.core.config import Config
from audit.engine import load_ruleset
from audit.engine.evaluate import evaluate
from tests.core.test_yamlload import _alias_bomb
from tests.e2e_support import ticket_audit
from tests.engine.builders import AS_OF, PERIOD, build
from tests.engine.test_validation import GOOD_RULE, _folder


def test_an_alias_bomb_in_a_rule_file_exits_2_at_once(tmp_path: Path) -> None:
    """The bomb used to grow memory for as long as it was let run; now it never expands."""
    body = (
        "!raw"
        + _alias_bomb()
        + "step: intake\nrules:\n"
        + GOOD_RULE.replace("{not: {blank: title}}", "{in: {of: title, values: *l9}}")
    )
    folder = _folder(tmp_path, body)
    result = ticket_audit("rules", "validate", folder, cwd=tmp_path, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "intake.yaml:5: YAML syntax: the document holds more than 100000 values" in result.stderr


@pytest.mark.parametrize(
    ("check", "fragment"),
    [
        (
            "{compare: {left: firstResponseDateTime, op: '<=', right: {plus: [createDate, {days: 1.0e+300}]}}}",
            "duration days: 1e+300 is beyond 36600 days",
        ),
        (
            "{compare: {left: firstResponseDateTime, op: '<=', right: {plus: [createDate, {minutes: 99999999999999999}]}}}",
            "is beyond 36600 days",
        ),
        ("{in: {of: companyID, values: [" + "9" * 5_000 + "]}}", "integer too long (5000 characters)"),
        ("{in: {of: companyID, values: [99999999999999999999]}}", "integer out of the 64-bit range"),
        ("{compare: {left: companyID, op: '<', right: .inf}}", "not a finite number: .inf"),
        ("{not: " * 100 + "{blank: title}" + "}" * 100, "nested deeper than 64 levels"),
    ],
)
def test_absurd_values_in_a_rule_file_exit_2_with_file_and_line(
    tmp_path: Path, check: str, fragment: str
) -> None:
    folder = _folder(tmp_path, GOOD_RULE.replace("{not: {blank: title}}", check))
    result = CliRunner().invoke(cli, ["rules", "validate", str(folder)])
    assert result.exit_code == 2, result.output
    assert "intake.yaml:9: " in result.output and fragment in result.output
    assert "internal error" not in result.output


@pytest.mark.parametrize("pattern", [r"^(a+)+$", r"^([a-z]+\s?)*$", r"(x)\1"])
def test_a_regex_that_can_backtrack_exponentially_is_refused_at_load(tmp_path: Path, pattern: str) -> None:
    folder = _folder(
        tmp_path,
        GOOD_RULE.replace("{not: {blank: title}}", f"{{matches: {{of: title, pattern: '{pattern}'}}}}"),
    )
    result = CliRunner().invoke(cli, ["rules", "validate", str(folder)])
    assert result.exit_code == 2, result.output
    assert "intake.yaml:9: [INT-01] invalid regex" in result.output and "exponential time" in result.output


# A pattern the load-time check lets through (no nested quantifier) that still backtracks
# exponentially on a run of a's that ends in a newline (Python's re: pyarrow's RE2 is not used
# for a $ when the text holds a newline).
SLOW = r"^(a|aa)+$"
HOSTILE_TITLE = "a" * 60 + "\n!"


def _slow_rules(tmp_path: Path) -> Path:
    slow = GOOD_RULE.replace(
        "{not: {blank: title}}", f"{{not: {{matches: {{of: title, pattern: '{SLOW}'}}}}}}"
    )
    other = GOOD_RULE.replace("INT-01", "INT-02").replace("intake.title-present", "intake.other")
    return _folder(tmp_path, slow + other)


def test_a_rule_that_runs_out_of_time_is_an_error_never_passed(tmp_path: Path) -> None:
    config = Config.model_validate({"evaluate": {"rule_time_limit_seconds": 0.5}})
    ruleset = load_ruleset(_slow_rules(tmp_path), config)
    frames = build({"tickets": [{"id": 1, "title": HOSTILE_TITLE}, {"id": 2}]})
    result = evaluate(frames, ruleset, config, period=PERIOD, as_of=AS_OF)
    status = result.rules["INT-01"]
    assert status.status == "error"
    assert status.error is not None and "ran out of time (evaluate.rule_time_limit_seconds)" in status.error
    assert "INT-01" not in set(result.tallies["rule_id"])  # nothing counted: not a pass, not a fail
    assert result.rules["INT-02"].status == "measured"  # the other rules still run
    assert set(result.tallies["rule_id"]) == {"INT-02"}


def test_cli_evaluate_exits_3_naming_the_runaway_rule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import audit.app.assess
    import audit.app.preflight
    import audit.cli.evaluate
    from audit.store.snapshot import Store

    store = Store(tmp_path / "store")
    with store.lock(), store.begin() as run:  # an empty snapshot: the frames come from the builder
        run.publish(as_of=AS_OF)
    monkeypatch.setattr(
        audit.app.assess,
        "load_frames",
        lambda store, config: build({"tickets": [{"id": 1, "title": HOSTILE_TITLE}]}),
    )
    config = tmp_path / "c.toml"
    config.write_text("[evaluate]\nrule_time_limit_seconds = 0.5\n")
    out = tmp_path / "o"
    result = CliRunner().invoke(
        cli,
        [
            "evaluate",
            "--config",
            str(config),
            "--rules",
            str(_slow_rules(tmp_path)),
            "--store",
            str(tmp_path / "store"),
            "--week",
            "2026-W47",
            "--as-of",
            "2026-11-25T12:00:00Z",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 3, result.output
    assert (
        "rule INT-01 failed to evaluate: RuleTimeout" in result.output and "ran out of time" in result.output
    )


@pytest.mark.parametrize("value", ['"no"', '"yes"', "1"])
def test_rule_fields_are_strictly_typed(tmp_path: Path, value: str) -> None:
    """``enabled: "no"`` is a mistake to report, not a switch pydantic reads as false."""
    folder = _folder(tmp_path, GOOD_RULE + f"    enabled: {value}\n")
    result = CliRunner().invoke(cli, ["rules", "validate", str(folder)])
    assert result.exit_code == 2, result.output
    assert "intake.yaml:10: [INT-01] enabled: Input should be a valid boolean" in result.output
