"""Every rule of the catalog against its fixture: passing, failing and not-applicable rows
(including rows outside the period). One parametrised test; fixtures are data files
(``fixtures/<RULE>.yaml``), built into frames by ``builders.build``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from audit.core.config import Config
from audit.core.period import Period
from audit.engine import RuleSet, evaluate, evaluate_rule, load_ruleset
from audit.engine.evaluate import make_env
from tests.engine.builders import AS_OF, PERIOD, build

FIXTURES = Path(__file__).parent / "fixtures"
BUNDLED = load_ruleset(None, Config())


def _cases() -> list[Any]:
    params = []
    for rule in BUNDLED.rules:
        path = FIXTURES / f"{rule.id}.yaml"
        doc: dict[str, Any] = (
            yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {"missing": True}
        )
        for i, case in enumerate(doc.get("cases") or [doc]):
            params.append(pytest.param(rule.id, case, id=f"{rule.id}-{i}"))
    return params


def _config(case: dict[str, Any]) -> Config:
    return Config.model_validate(case.get("config") or {})


@pytest.mark.parametrize(("rule_id", "case"), _cases())
def test_rule_fixture(rule_id: str, case: dict[str, Any]) -> None:
    assert not case.get("missing"), f"no fixture file tests/engine/fixtures/{rule_id}.yaml"
    config = _config(case)
    ruleset = load_ruleset(None, config) if case.get("config") else BUNDLED
    rule = ruleset.get(rule_id)
    frames = build(case, config)
    period = (
        Period.from_options(start=case.get("from"), end=case.get("to"), week=None, as_of=AS_OF)
        if case.get("from")
        else PERIOD
    )
    outcome = evaluate_rule(make_env(frames, config, AS_OF), rule, period)
    expect = case["expect"]
    assert expect.get("fail"), "a fixture has at least one failing row"
    assert outcome.row_ids("fail") == sorted(expect["fail"]), "failing rows"
    passing = set(outcome.row_ids("pass"))
    assert set(expect.get("pass", [])) <= passing, "passing rows"
    applicable = set(outcome.row_ids("applicable"))
    assert not set(expect.get("not_applicable", [])) & applicable, "not-applicable rows"
    # Through the public evaluate() (a one-rule set, enabled): the same failures become findings.
    single = RuleSet(rules=(rule,), source="test")
    enabled = Config.model_validate({**case.get("config", {}), "rules": {rule_id: {"enabled": True}}})
    evaluation = evaluate(frames, single, enabled, period=period, as_of=AS_OF)
    found = evaluation.findings
    assert list(found["rule_id"].unique()) in ([], [rule_id])
    assert sorted(found["row_id"].astype(int)) == sorted(expect["fail"])
    assert evaluation.rules[rule_id].status == "measured"


def test_every_rule_has_a_fixture() -> None:
    missing = [r.id for r in BUNDLED.rules if not (FIXTURES / f"{r.id}.yaml").exists()]
    assert not missing
