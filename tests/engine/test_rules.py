"""Every rule of the catalog against its fixture: passing, failing and not-applicable rows
(including rows outside the period). One parametrised test; fixtures are data files
(``fixtures/<RULE>.yaml``), built into frames by ``builders.build``.

A fixture file is one case, or ``cases:`` a list of them. Each case has a ``name`` (the test id:
``INT-01-email-titles``) and each of its rows a one-line ``why``: what the row shows about the
rule. A case without a name or a row without a why fails its test, naming the file and case."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from audit.core.config import Config
from audit.core.period import Period
from audit.engine import RuleSet, evaluate, evaluate_rule, load_ruleset
from audit.engine.evaluate import make_env
from tests.engine.builders import AS_OF, PERIOD, ROW_LISTS, build

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
            name = case.get("name") or f"case-{i + 1}"
            params.append(pytest.param(rule.id, case, id=f"{rule.id}-{name}"))
    return params


def _undocumented(case: dict[str, Any]) -> list[str]:
    """The rows of a case without a ``why`` (as ``notes[2] id=103``)."""
    return [
        f"{key}[{i}] id={row.get('id')}"
        for key in ROW_LISTS
        for i, row in enumerate(case.get(key) or [])
        if not str(row.get("why") or "").strip()
    ]


def _config(case: dict[str, Any]) -> Config:
    return Config.model_validate(case.get("config") or {})


@pytest.mark.parametrize(("rule_id", "case"), _cases())
def test_rule_fixture(rule_id: str, case: dict[str, Any]) -> None:
    assert not case.get("missing"), f"no fixture file tests/engine/fixtures/{rule_id}.yaml"
    where = f"tests/engine/fixtures/{rule_id}.yaml, case {case.get('name')!r}"
    assert case.get("name"), f"{where}: a case has a name (its test id)"
    undocumented = _undocumented(case)
    assert not undocumented, f"{where}: rows without a `why`: {', '.join(undocumented)}"
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


def test_case_names_are_unique_per_rule() -> None:
    ids = [p.id for p in _cases()]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


def test_a_row_without_why_is_named() -> None:
    case = {"tickets": [{"id": 1, "why": "compliant"}], "notes": [{"id": 5, "why": " "}, {"id": 6}]}
    assert _undocumented(case) == ["notes[0] id=5", "notes[1] id=6"]
