"""Rule-file validation: each error kind names file, line and rule id; the CLI exits 2."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from audit.cli import cli
from audit.core.config import Config
from audit.engine import RuleValidationError, load_ruleset

RULES = Path(__file__).resolve().parents[2] / "rules"

GOOD_RULE = """\
  - id: INT-01
    name: intake.title-present
    title: Title present
    rationale: Because.
    severity: major
    check: {not: {blank: title}}
"""


def _folder(tmp_path: Path, body: str, *, name: str = "intake.yaml") -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    shutil.copy(RULES / "definitions.yaml", folder / "definitions.yaml")
    header = "step: intake\ndefaults: {row: tickets, anchor: createDate, owner: assigned}\nrules:\n"
    (folder / name).write_text(
        header + textwrap.dedent(body) if not body.startswith("!raw") else body[4:], encoding="utf-8"
    )
    return folder


CASES = {
    "unknown key": (GOOD_RULE + "    colour: red\n", 10, "INT-01", "unknown key 'colour'"),
    "unknown predicate": (
        GOOD_RULE.replace("{not: {blank: title}}", "{is_blank: title}"),
        9,
        "INT-01",
        "unknown predicate 'is_blank'",
    ),
    "invalid regex": (
        GOOD_RULE.replace("{not: {blank: title}}", "\n      matches: {of: title, pattern: '([a-z'}"),
        10,
        "INT-01",
        "invalid regex",
    ),
    "unknown column": (
        GOOD_RULE.replace("blank: title", "blank: subject"),
        9,
        "INT-01",
        "unknown column 'subject'",
    ),
    "duplicate id": (
        GOOD_RULE + GOOD_RULE.replace("intake.title-present", "intake.other"),
        10,
        "INT-01",
        "duplicate rule id",
    ),
    "unknown setting": (
        GOOD_RULE.replace(
            "{not: {blank: title}}", "{in: {of: status_label, values: $mapping.closed_status}}"
        ),
        9,
        "INT-01",
        "unknown setting",
    ),
    "settings listed but not read": (
        GOOD_RULE.replace(
            "    check: {not: {blank: title}}\n",
            "    settings: [closed_statuses, jargon]\n"
            "    check: {in: {of: status_label, values: $mapping.closed_statuses}}\n",
        ),
        9,
        "INT-01",
        "listed but not read: jargon",
    ),
    "settings read but not listed": (
        GOOD_RULE.replace(
            "    check: {not: {blank: title}}\n",
            "    settings: []\n    check: {in: {of: status_label, values: $mapping.closed_statuses}}\n",
        ),
        9,
        "INT-01",
        "read but not listed: closed_statuses",
    ),
    "settings list names an unknown setting": (
        GOOD_RULE + "    settings: [closed_status]\n",
        10,
        "INT-01",
        "unknown setting(s) closed_status",
    ),
    "bad severity": (GOOD_RULE.replace("severity: major", "severity: huge"), 8, "INT-01", "severity"),
    "missing check": (
        GOOD_RULE.replace("    check: {not: {blank: title}}\n", ""),
        4,
        "INT-01",
        "missing required key 'check'",
    ),
    "bad anchor": (GOOD_RULE + "    anchor: createdAt\n", 10, "INT-01", "unknown column 'createdAt'"),
    "related from a note": (
        GOOD_RULE.replace(
            "severity: major", "severity: major\n    row: notes\n    anchor: createDateTime"
        ).replace("{not: {blank: title}}", "{exists: notes}"),
        11,
        "INT-01",
        "cannot be used on notes",
    ),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_validation_error_names_file_line_rule(tmp_path: Path, kind: str) -> None:
    body, line, rule_id, text = CASES[kind]
    folder = _folder(tmp_path, body)
    with pytest.raises(RuleValidationError) as info:
        load_ruleset(folder, Config())
    problem = info.value.problems[0]
    assert problem.file is not None and problem.file.endswith("intake.yaml")
    assert problem.line == line, str(info.value)
    assert problem.rule_id == rule_id
    assert text in problem.message
    assert f"intake.yaml:{line}: [{rule_id}]" in str(info.value)


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "!rawstep: intake\nrules:\n  - id: INT-01\n    title: [unclosed\n")
    with pytest.raises(RuleValidationError) as info:
        load_ruleset(folder, Config())
    problem = info.value.problems[0]
    assert problem.file and problem.file.endswith("intake.yaml") and problem.line is not None
    assert "YAML syntax" in problem.message


def test_all_problems_are_reported_together(tmp_path: Path) -> None:
    body = GOOD_RULE.replace("blank: title", "blank: subject") + GOOD_RULE.replace(
        "INT-01", "INT-02"
    ).replace("intake.title-present", "intake.two").replace("{not: {blank: title}}", "{nope: 1}")
    with pytest.raises(RuleValidationError) as info:
        load_ruleset(_folder(tmp_path, body), Config())
    assert [p.rule_id for p in info.value.problems] == ["INT-01", "INT-02"]


def test_unknown_override_is_a_config_error() -> None:
    from audit.core.errors import ConfigError

    with pytest.raises(ConfigError, match="ZZZ-01"):
        load_ruleset(None, Config.model_validate({"rules": {"ZZZ-01": {"enabled": False}}}))


def test_cli_validate_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(cli, ["rules", "validate", str(RULES)])
    assert ok.exit_code == 0, ok.output
    assert "43 rules" in ok.output
    folder = _folder(tmp_path, CASES["invalid regex"][0])
    bad = runner.invoke(cli, ["rules", "validate", str(folder)])
    assert bad.exit_code == 2
    assert "intake.yaml:10: [INT-01]" in bad.output and "invalid regex" in bad.output


def test_cli_list_and_show() -> None:
    runner = CliRunner()
    listed = runner.invoke(cli, ["rules", "list"])
    assert listed.exit_code == 0
    assert len(listed.output.strip().splitlines()) == 43
    assert "SLA-07" in listed.output and " off " in listed.output
    shown = runner.invoke(cli, ["rules", "show", "QUA-10"])
    assert shown.exit_code == 0 and "needs:\n- history" in shown.output and "rationale:" in shown.output
    missing = runner.invoke(cli, ["rules", "show", "XXX-99"])
    assert missing.exit_code == 2


def test_docs_are_generated_from_the_registry() -> None:
    from audit.engine.docs import render_rules_doc
    from audit.engine.vocabulary import PREDICATES

    committed = (RULES.parent / "docs" / "rules.md").read_text(encoding="utf-8")
    assert committed == render_rules_doc(load_ruleset(None, Config())), (
        "run: ticket-audit rules docs --out docs/rules.md"
    )
    for name in PREDICATES:
        assert f"### `{name}`" in committed


def test_cli_evaluate_writes_byte_identical_outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`evaluate` writes the findings.csv and summary.json `report` writes, byte for byte."""
    import audit.app.assess
    import audit.app.preflight
    import audit.cli.evaluate
    from audit.store.snapshot import Store
    from tests.engine.builders import AS_OF, build

    store = Store(tmp_path / "store")
    with store.lock(), store.begin() as run:  # an empty snapshot: the frames come from the builder
        run.publish(as_of=AS_OF)
    monkeypatch.setattr(
        audit.app.assess,
        "load_frames",
        lambda store, config: build({"tickets": [{"id": 1}, {"id": 2, "title": ""}]}),
    )
    runner = CliRunner()
    args = ["--store", str(tmp_path / "store"), "--week", "2026-W47", "--as-of", "2026-11-25T12:00:00Z"]
    outputs = []
    for command, name in (("evaluate", "a"), ("evaluate", "b"), ("report", "c")):
        out = tmp_path / name
        result = runner.invoke(cli, [command, *args, "--out", str(out)])
        assert result.exit_code == 0, result.output
        outputs.append(((out / "findings.csv").read_bytes(), (out / "summary.json").read_bytes()))
    assert outputs[0] == outputs[1] == outputs[2]
    assert b"INT-01,intake,major,2," in outputs[0][0]
    assert b'"as_of": "2026-11-25T12:00:00+00:00"' in outputs[0][1]
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["findings.csv", "scoring", "summary.json"]


def test_cli_evaluate_exits_3_after_writing_when_a_rule_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    import audit.app.assess
    import audit.app.preflight
    import audit.cli.evaluate
    import audit.engine
    from audit.engine import RuleSet
    from audit.engine.vocabulary import Node
    from audit.store.snapshot import Store
    from tests.engine.builders import AS_OF, build

    def boom(ctx: object) -> object:
        raise RuntimeError("broken rule")

    def broken_ruleset(path: object, config: Config) -> RuleSet:
        ruleset = load_ruleset(None, config)
        return RuleSet(
            rules=tuple(
                replace(r, check=Node("boom", "condition", boom)) if r.id == "INT-02" else r
                for r in ruleset.rules
            ),
            source="t",
        )

    store = Store(tmp_path / "store")
    with store.lock(), store.begin() as run:
        run.publish(as_of=AS_OF)
    monkeypatch.setattr(
        audit.app.assess, "load_frames", lambda store, config: build({"tickets": [{"id": 1}]})
    )
    monkeypatch.setattr(audit.app.preflight, "load_ruleset", broken_ruleset)
    out = tmp_path / "o"
    result = CliRunner().invoke(
        cli,
        [
            "evaluate",
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
    assert result.exit_code == 3 and "rule INT-02 failed to evaluate: " in result.output
    assert (out / "findings.csv").is_file() and (out / "summary.json").is_file()


def test_cli_evaluate_defaults_to_audit_output_and_refuses_an_empty_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["evaluate", "--store", str(tmp_path / "none"), "--week", "2026-W47"])
    assert result.exit_code == 3 and "no snapshot" in result.output
    option = next(o for o in cli.commands["evaluate"].params if o.name == "out_dir")
    assert option.default == "audit-output"


def test_cli_evaluate_rejects_bad_rules_before_reading_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import audit.app.assess
    import audit.app.preflight
    import audit.cli.evaluate

    def never(store: object, config: object) -> None:
        raise AssertionError("data was read")

    monkeypatch.setattr(audit.app.assess, "load_frames", never)
    folder = _folder(tmp_path, CASES["unknown column"][0])
    result = CliRunner().invoke(
        cli, ["evaluate", "--rules", str(folder), "--week", "2026-W47", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2 and "unknown column 'subject'" in result.output
