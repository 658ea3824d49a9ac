"""Ticket compliance: "x % of the period's tickets broke no rule", counted per ticket, not per check.

The engine's ``ticket_checks`` and scoring's arithmetic are checked against counts made another
way: by hand on a small tenant, and on the demo from ``findings.csv`` and the engine's row-level
outcomes (``evaluate_rule``), rule by rule.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from audit.core.config import Config
from audit.core.period import Period
from audit.engine import evaluate, evaluate_rule, load_ruleset
from audit.engine.evaluate import make_env
from audit.render.markdown import render_markdown
from audit.results.rescoring import ScoringInputs, score_inputs
from audit.results.scoring import period_findings, score
from audit.results.thresholds import evaluate_thresholds
from audit.results.waivers import Waiver, WaiverFile
from tests.engine.builders import AS_OF, PERIOD, build

CONFIG = Config()
RULESET = load_ruleset(None, CONFIG)

# Ticket 1 follows the procedure; ticket 2 (technician 2) has a blank title (intake); ticket 3 has
# no resolution (closure); ticket 4 is compliant too but created outside the period.
DOC: dict[str, Any] = {
    "tickets": [
        {"id": 1},
        {"id": 2, "title": "", "assignedResourceID": 2},
        {"id": 3, "resolution": ""},
        {"id": 5},
        {
            "id": 4,
            "_skip": ["all"],
            "createDate": "2026-11-05T09:00:00Z",
            "completedDate": "2026-11-05T10:00:00Z",
            "resolvedDateTime": "2026-11-05T10:00:00Z",
            "firstResponseDateTime": "2026-11-05T09:10:00Z",
            "lastActivityDate": "2026-11-05T10:00:00Z",
        },
    ],
}


def _summary(evaluation: Any) -> dict[str, Any]:
    return dict(score(evaluation, CONFIG, PERIOD, as_of=AS_OF))


def test_hand_built_tenant() -> None:
    ev = evaluate(build(DOC), RULESET, CONFIG, period=PERIOD, as_of=AS_OF)
    summary = _summary(ev)
    failing = set(period_findings(ev, PERIOD)["ticket_id"].astype(int))
    assert failing == {2, 3}  # the template is compliant: only the planted faults fail
    # Four tickets of the period had a check; two broke no rule.
    assert summary["ticket_compliance"] == {"tickets": 4, "compliant": 2, "rate": 50.0}
    assert summary["overall"]["ticket_compliance"] == summary["ticket_compliance"]
    techs = {t["name"]: t["ticket_compliance"] for t in summary["technicians"]}
    # Tech2 owns ticket 2's ticket checks; its notes and time entries are Tech1's (their author).
    assert techs["Tech2 Example"] == {"tickets": 1, "compliant": 0, "rate": 0.0}
    assert techs["Tech1 Example"]["tickets"] == 4
    steps = summary["steps"]
    assert (
        steps["intake"]["ticket_compliance"]["compliant"]
        == steps["intake"]["ticket_compliance"]["tickets"] - 1
    )
    assert (
        steps["closure"]["ticket_compliance"]["compliant"]
        == steps["closure"]["ticket_compliance"]["tickets"] - 1
    )
    assert steps["sla"]["ticket_compliance"]["compliant"] == steps["sla"]["ticket_compliance"]["tickets"]
    queue = summary["queues"][0]
    assert queue["name"] == "N1 - Service Desk" and queue["ticket_compliance"]["tickets"] == 4
    assert (
        queue["steps"]["closure"]["ticket_compliance"]["tickets"]
        == steps["closure"]["ticket_compliance"]["tickets"]
    )


def test_a_waived_finding_leaves_its_ticket_compliant_through_the_scoring_path() -> None:
    ev = evaluate(build(DOC), RULESET, CONFIG, period=PERIOD, as_of=AS_OF)
    findings = period_findings(ev, PERIOD)
    number = findings.loc[findings["ticket_id"] == 3, "ticket_number"].iloc[0]
    waivers = WaiverFile(
        None, (Waiver(rule="*", ticket=number, reason="r", approved_by="QA", expires=date(2030, 1, 1)),), ()
    )
    inputs = ScoringInputs(evaluation=ev, period=PERIOD, as_of=AS_OF, min_sample=5, trend_weeks=8, tenant={})
    summary = score_inputs(inputs, waivers).summary
    assert summary["ticket_compliance"] == {"tickets": 4, "compliant": 3, "rate": 75.0}
    # The same as scoring findings flagged waived by hand.
    expected = _summary(
        replace(ev, findings=ev.findings.assign(waived=(ev.findings["ticket_id"] == 3).to_numpy()))
    )
    assert [t["ticket_compliance"] for t in summary["technicians"]] == [
        t["ticket_compliance"] for t in expected["technicians"]
    ]
    assert summary["rules"]["CLO-01"]["cost"] == expected["rules"]["CLO-01"]["cost"] == 0.0


def test_gated_by_thresholds_ticket_compliance() -> None:
    ev = evaluate(build(DOC), RULESET, CONFIG, period=PERIOD, as_of=AS_OF)
    summary = _summary(ev)
    config = Config.model_validate({"thresholds": {"ticket_compliance": 60, "min_sample": 1}})
    (result,) = evaluate_thresholds(summary, config.thresholds)
    assert not result.passed and result.kind == "ticket_compliance" and result.score == 50.0
    assert "ticket compliance" in result.message and "60" in result.message
    assert "Tickets that broke no rule: 50.0 %" in render_markdown(summary)


def test_rules_ranked_by_cost_not_count() -> None:
    ev = evaluate(build(DOC), RULESET, CONFIG, period=PERIOD, as_of=AS_OF)
    rules = _summary(ev)["rules"]
    total = _summary(ev)["overall"]["weighted_applicable"]
    for rule in rules.values():
        assert rule["cost"] == pytest.approx(100 * rule["weight"] * rule["failed"] / total, abs=0.01)
    # CLO-01 (critical, weight 5) costs more than INT-01 (major, 3), one failure each.
    assert rules["CLO-01"]["cost"] > rules["INT-01"]["cost"] > 0


def _independent_count(store: Path, findings_csv: Path, period: Period, as_of: Any) -> dict[str, int]:
    """Tickets with an applicable check (the engine's row-level outcomes, rule by rule) and those
    among them with an unwaived finding in findings.csv."""
    from audit.engine.frames import load_frames
    from audit.store.snapshot import Store

    frames = load_frames(Store(store), CONFIG)
    env = make_env(frames, CONFIG, as_of)
    ticket_ids = frames.tickets["id"].astype("Int64").to_numpy(dtype="int64", na_value=-1)
    checked: set[int] = set()
    for rule in RULESET.rules:
        if not rule.spec.enabled or any(not env.has(n) for n in rule.spec.needs):
            continue
        outcome = evaluate_rule(env, rule, period)
        pos = outcome.ctx.ticket_pos()[outcome.applicable]
        checked |= {int(ticket_ids[p]) for p in pos if p >= 0}
    findings = pd.read_csv(findings_csv)
    open_ = findings[~findings["waived"].astype(str).str.lower().eq("true")]
    failing = set(open_["ticket_id"].dropna().astype(int))
    assert failing <= checked
    return {"tickets": len(checked), "compliant": len(checked - failing)}


def test_demo_ticket_compliance_equals_an_independent_count(demo_output: Any) -> None:
    out = demo_output.out
    summary = json.loads((out / "summary.json").read_text())
    period = Period.from_week(summary["period"]["label"])
    as_of = pd.Timestamp(summary["as_of"]).to_pydatetime()
    expected = _independent_count(out / "store", out / "findings.csv", period, as_of)
    tc = summary["ticket_compliance"]
    assert {"tickets": tc["tickets"], "compliant": tc["compliant"]} == expected
    assert 0 < tc["compliant"] < tc["tickets"]
    assert tc["rate"] == round(100 * expected["compliant"] / expected["tickets"], 1)
    # Beside every score: steps, technicians, queues and their steps.
    for step in summary["steps"].values():
        assert set(step["ticket_compliance"]) == {"tickets", "compliant", "rate"}
    for entity in summary["technicians"] + summary["queues"]:
        assert entity["ticket_compliance"]["tickets"] > 0
        for cell in entity["steps"].values():
            assert "ticket_compliance" in cell
    assert "Tickets that broke no rule" in (out / "summary.md").read_text()
