"""The planting registry: every catalog rule is planted (or says why not), and what a planting
declares agrees with the rule files."""

from __future__ import annotations

import pytest

from audit.core.config import Config
from audit.engine.loader import load_ruleset
from audit.sandbox.planting import Step, plants
from audit.sandbox.planting.catalog import HISTORY_RULES, NOT_PLANTED, PLANTINGS, rule_anchors

RULES = {rule.spec.id: rule for rule in load_ruleset(None, Config()).rules}


def _rule_id(failure: str) -> str:
    return "SLA-05" if failure == "SLA-05h" else failure  # SLA-05h: the history-only variant


def test_every_rule_in_the_rule_files_is_planted_or_says_why_not() -> None:
    planted = {_rule_id(rule) for p in PLANTINGS.values() for rule in p.rules}
    missing = set(RULES) - planted - set(NOT_PLANTED)
    assert not missing, f"rules with no planting and no NOT_PLANTED reason: {sorted(missing)}"
    assert not set(NOT_PLANTED) & planted, "a rule listed as not plantable is planted"
    assert set(NOT_PLANTED) <= set(RULES), "NOT_PLANTED names a rule that does not exist"
    assert all(reason.strip() for reason in NOT_PLANTED.values())


def test_every_planted_failure_is_a_rule_of_the_rule_files() -> None:
    for key, p in PLANTINGS.items():
        assert p.key == key and p.rules and p.bindings
        unknown = {_rule_id(rule) for rule in p.rules} - set(RULES)
        assert not unknown, f"planting {key} fails unknown rules {unknown}"
        assert key.rstrip("nh") in {_rule_id(rule) for rule in p.rules}, f"{key} does not fail its own rule"
    assert {_rule_id(r) for r in HISTORY_RULES} <= set(RULES)


def test_row_level_plantings_match_the_rules_row_kind() -> None:
    for key, p in PLANTINGS.items():
        kinds = {RULES[_rule_id(rule)].row_kind for rule in p.rules}
        assert kinds == {p.row}, f"planting {key} records {p.row} rows, its rules audit {kinds}"
        if p.row == "time_entry":  # the builder applies these to one time entry
            assert set(p.bindings) <= {Step.ENTRY_TIMES, Step.ENTRY_SUMMARY, Step.ENTRY_BILLING}


def test_ticket_rule_anchors_are_dates_the_builder_knows() -> None:
    anchors = rule_anchors()
    for p in PLANTINGS.values():
        if p.row == "ticket":
            for rule in p.rules:
                assert anchors[_rule_id(rule)] in {"createDate", "lastActivityDate", "completedDate"}


def test_catalog_is_in_workflow_order() -> None:
    """The generator draws over the catalog in this order: it is part of every seed's tenant."""
    keys = list(PLANTINGS)
    assert keys[:2] == ["INT-01", "INT-02"] and keys[-1] == "PM-03"
    assert keys.index("QUA-01n") == keys.index("QUA-01") + 1
    assert keys.index("SLA-05h") == keys.index("SLA-05") + 1
    assert keys.index("LOG-07") < keys.index("ESC-01") < keys.index("CLO-01")


def test_registration_is_checked() -> None:
    with pytest.raises(TypeError, match="exactly one of"):
        plants("XYZ-01", after=Step.TITLE, instead=Step.TITLE)
    with pytest.raises(TypeError, match="exactly one of"):
        plants("XYZ-01")
    with pytest.raises(ValueError, match="registered twice"):
        plants("INT-01", after=Step.TITLE)(lambda d: None)
