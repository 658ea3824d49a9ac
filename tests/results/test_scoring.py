"""Scoring arithmetic: weights, waivers, low-sample, empty denominators, trends, determinism."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit.core.config import Config, Thresholds
from audit.core.period import Period
from audit.results.scoring import period_findings, score
from audit.results.summary import ratio
from audit.results.tallies import waive_tallies
from audit.sandbox.synthetic import SyntheticRule, make_evaluation

PERIOD = Period.from_week("2026-W47")


@dataclass
class Ev:
    findings: pd.DataFrame
    tallies: pd.DataFrame
    rules: Mapping[str, SyntheticRule] = field(default_factory=dict)


def rule(step: str, severity: str, status: str = "measured") -> SyntheticRule:
    return SyntheticRule(
        status=status, title=f"{step} {severity}", step=step, severity=severity, rationale="because", name="n"
    )


def tally(
    rid: str,
    step: str,
    severity: str,
    tech: Any,
    queue: int,
    week: str,
    applicable: int,
    passed: int,
    *,
    weight: float | None = None,
) -> dict[str, Any]:
    w = {"critical": 5, "major": 3, "minor": 1}[severity] if weight is None else weight
    return {
        "rule_id": rid,
        "step": step,
        "severity": severity,
        "weight": w,
        "technician_id": tech,
        "technician": None if tech is None else f"Tech {tech}",
        "queue_id": queue,
        "queue": f"Q{queue}",
        "week": week,
        "applicable": applicable,
        "passed": passed,
        "failed": applicable - passed,
    }


def finding(rid: str, tech: Any, queue: int, week: str, waived: bool, row: int) -> dict[str, Any]:
    return {
        "rule_id": rid,
        "rule_name": "n",
        "step": "s",
        "severity": "major",
        "weight": 3,
        "ticket_id": row,
        "ticket_number": f"T{row}",
        "row_kind": "ticket",
        "row_id": row,
        "technician_id": tech,
        "technician": f"Tech {tech}",
        "queue_id": queue,
        "queue": f"Q{queue}",
        "anchor_date": pd.Timestamp("2026-11-17", tz="UTC"),
        "week": week,
        "message": "m",
        "waived": waived,
        "ticket_url": f"https://x/{row}",
    }


def basic() -> Ev:
    tallies = pd.DataFrame(
        [
            tally("CLO-01", "closure", "critical", 1, 5, "2026-W47", 4, 3),
            tally("INT-03", "intake", "minor", 1, 5, "2026-W47", 6, 0),
            tally("INT-03", "intake", "minor", 2, 6, "2026-W47", 10, 10),
            tally("INT-03", "intake", "minor", 2, 6, "2026-W46", 10, 5),
        ]
    )
    findings = pd.DataFrame(
        [finding("CLO-01", 1, 5, "2026-W47", False, 1)]
        + [finding("INT-03", 1, 5, "2026-W47", False, 10 + i) for i in range(6)]
    )
    rules = {"CLO-01": rule("closure", "critical"), "INT-03": rule("intake", "minor")}
    return Ev(findings, tallies, rules)


def test_weighted_scores_and_denominators() -> None:
    s = score(basic(), Config(), PERIOD)
    # Tenant: (5×3 + 1×0 + 1×10) / (5×4 + 1×6 + 1×10) = 25 / 36
    assert s["score"] == round(100 * 25 / 36, 1)
    assert s["overall"]["weighted_applicable"] == 36 and s["overall"]["applicable"] == 20
    # A rule's score is unweighted passed / applicable.
    assert s["rules"]["CLO-01"]["score"] == 75.0
    assert s["rules"]["INT-03"]["score"] == round(100 * 10 / 16, 1)
    tech1 = next(t for t in s["technicians"] if t["id"] == 1)
    assert tech1["score"] == round(100 * 15 / 26, 1)
    assert tech1["steps"]["intake"]["score"] == 0.0
    assert s["steps"]["closure"]["score"] == 75.0
    assert list(s["steps"]) == ["intake", "closure"] or set(s["steps"]) == {"intake", "closure"}
    assert s["steps"]["intake"]["order"] < s["steps"]["closure"]["order"]  # workflow order, not alphabetical


def test_waiver_moves_one_check_from_failed_to_passed() -> None:
    ev = basic()
    ev.findings.loc[0, "waived"] = True  # the CLO-01 failure
    s = score(ev, Config(), PERIOD)
    r = s["rules"]["CLO-01"]
    assert (r["applicable"], r["passed"], r["failed"], r["waived"], r["score"]) == (4, 4, 0, 1, 100.0)
    assert s["score"] == round(100 * 30 / 36, 1)


def test_waivers_never_exceed_failures() -> None:
    tallies = pd.DataFrame([tally("CLO-01", "closure", "critical", 1, 5, "2026-W47", 3, 2)])
    findings = pd.DataFrame([finding("CLO-01", 1, 5, "2026-W47", True, i) for i in range(3)])
    out = waive_tallies(tallies, findings)
    assert out.loc[0, "passed"] == 3 and out.loc[0, "failed"] == 0 and out.loc[0, "waived"] == 1


def test_low_sample_flag() -> None:
    s = score(basic(), Config(), PERIOD)
    assert s["rules"]["CLO-01"]["low_sample"] is True  # 4 < 5
    assert s["rules"]["INT-03"]["low_sample"] is False
    s2 = score(basic(), Config(thresholds=Thresholds(min_sample=3)), PERIOD)
    assert s2["rules"]["CLO-01"]["low_sample"] is False


def test_empty_denominators_give_none_not_zero() -> None:
    ev = basic()
    ev.rules = {
        **ev.rules,
        "PM-01": rule("postmortem", "major"),
        "QUA-10": rule("qualification", "minor", "not_measured"),
    }
    s = score(ev, Config(), PERIOD)
    assert s["rules"]["PM-01"]["score"] is None and s["rules"]["PM-01"]["applicable"] == 0
    assert s["rules"]["QUA-10"]["status"] == "not_measured" and s["rules"]["QUA-10"]["score"] is None
    assert s["steps"]["postmortem"]["score"] is None
    empty = score(Ev(pd.DataFrame(), pd.DataFrame(), {"A-01": rule("a", "major")}), Config(), PERIOD)
    assert empty["score"] is None and empty["technicians"] == [] and empty["overall"]["applicable"] == 0
    assert empty["trends"]["overall"][-1]["score"] is None


def test_errored_rules_count_in_no_denominator() -> None:
    ev = basic()
    ev.rules = {**ev.rules, "CLO-01": rule("closure", "critical", "error")}
    s = score(ev, Config(), PERIOD)
    assert s["rules"]["CLO-01"]["status"] == "error" and s["rules"]["CLO-01"]["applicable"] == 0
    assert s["score"] == round(100 * 10 / 16, 1)


def test_unassigned_row_and_order() -> None:
    ev = basic()
    ev.tallies = pd.concat(
        [ev.tallies, pd.DataFrame([tally("CLO-01", "closure", "critical", None, 5, "2026-W47", 2, 1)])]
    )
    s = score(ev, Config(), PERIOD)
    assert [t["name"] for t in s["technicians"]] == ["Tech 1", "Tech 2", "Unassigned"]
    assert s["technicians"][-1]["unassigned"] is True and s["technicians"][-1]["id"] is None
    # Unassigned checks are charged to the queue.
    assert next(q for q in s["queues"] if q["id"] == 5)["applicable"] == 12


def test_trends_and_week_over_week() -> None:
    s = score(basic(), Config(), PERIOD)
    assert len(s["trends"]["weeks"]) == 8 and s["trends"]["weeks"][-1] == "2026-W47"
    assert s["trends"]["overall"][-1]["score"] == s["score"]
    tech2 = next(t for t in s["technicians"] if t["id"] == 2)
    assert tech2["previous_score"] == 50.0 and tech2["delta"] == 50.0
    assert s["trends"]["technicians"]["2"][-2:] == [50.0, 100.0]


def test_synthetic_scores_in_range_and_deterministic() -> None:
    for seed in (1, 2, 3):
        ev = make_evaluation(seed=seed, technicians=6, queues=2)
        assert ev.period is not None
        a = score(ev, Config(), ev.period, as_of=ev.as_of)
        b = score(ev, Config(), ev.period, as_of=ev.as_of)
        assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
        cells = [a["overall"], *a["steps"].values(), *a["rules"].values(), *a["technicians"], *a["queues"]]
        for cell in cells:
            assert cell["score"] is None or 0.0 <= cell["score"] <= 100.0
        # Period findings + waived equal the tallies' failures + waivers of the period.
        f = period_findings(ev, ev.period)
        assert len(f) == a["overall"]["failed"] + a["overall"]["waived"]


@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=10_000))
def test_ratio_bounds(passed: int, applicable: int) -> None:
    value = ratio(min(passed, applicable), applicable)
    assert (value is None) == (applicable == 0)
    assert value is None or 0.0 <= value <= 100.0


@pytest.mark.parametrize("weight", [0.5, 2.0])
def test_weight_overrides_from_tallies(weight: float) -> None:
    tallies = pd.DataFrame(
        [
            tally("A-01", "a", "major", 1, 5, "2026-W47", 10, 0, weight=weight),
            tally("B-01", "a", "major", 1, 5, "2026-W47", 10, 10),
        ]
    )
    s = score(Ev(pd.DataFrame(), tallies, {}), Config(), PERIOD)
    assert s["score"] == round(100 * 30 / (10 * weight + 30), 1)
