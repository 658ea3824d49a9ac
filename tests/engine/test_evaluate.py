"""evaluate(): output contract, overrides, statuses, isolation of failing rules, determinism."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from audit.core.config import Config
from audit.engine import FINDING_COLUMNS, TALLY_COLUMNS, RuleSet, evaluate, load_ruleset
from audit.engine.vocabulary import Node
from audit.render.csv_out import write_findings_csv
from audit.render.json_out import write_summary_json
from audit.results.scoring import period_findings, score
from tests.engine.builders import AS_OF, PERIOD, build

CONFIG = Config()
RULESET = load_ruleset(None, CONFIG)
DOC: dict[str, Any] = {
    "tickets": [
        {"id": 1},
        {"id": 2, "title": "", "assignedResourceID": None, "queueID": None},
        {"id": 3, "resolution": "", "completedByResourceID": 2},
        {"id": 4, "title": "", "createDate": "2026-11-05T09:00:00Z"},
    ],
    "time_entries": [
        {
            "id": 901,
            "ticketID": 1,
            "resourceID": 3,
            "dateWorked": "2026-11-18T00:00:00Z",
            "summaryNotes": "ok",
        }
    ],
}


def test_findings_and_tallies_follow_the_contract() -> None:
    ev = evaluate(build(DOC), RULESET, CONFIG, period=PERIOD, as_of=AS_OF)
    assert tuple(ev.findings.columns) == FINDING_COLUMNS
    assert tuple(ev.tallies.columns) == TALLY_COLUMNS
    f = ev.findings.set_index(["rule_id", "row_id"])
    int01 = f.loc[("INT-01", 2)]
    assert int01["technician"] == "Unassigned" and pd.isna(int01["technician_id"])
    assert int01["queue"] == "No queue" and int01["week"] == "2026-W47" and int01["severity"] == "major"
    assert int01["ticket_url"] == "https://ww1.autotask.net/Mvc/ServiceDesk/TicketDetail.mvc?ticketId=2"
    assert int01["weight"] == 3 and not int01["waived"] and int01["row_kind"] == "ticket"
    assert f.loc[("CLO-01", 3)]["technician"] == "Tech2 Example"  # completed_by owner
    log06 = f.loc[("LOG-06", 901)]
    assert log06["row_kind"] == "time_entry" and log06["technician_id"] == 3 and log06["ticket_id"] == 1
    assert ("INT-01", 4) not in f.index  # out of period
    assert ev.rules["SLA-07"].status == "disabled" and ev.rules["QUA-10"].status == "not_measured"
    t = ev.tallies
    assert (t["failed"] == t["applicable"] - t["passed"]).all()
    int01_t = t[t["rule_id"] == "INT-01"]
    assert int01_t["applicable"].sum() == 3 and int01_t["failed"].sum() == 1


def test_overrides_disable_reweight_and_change_severity() -> None:
    config = Config.model_validate(
        {
            "rules": {
                "INT-01": {"enabled": False},
                "CLO-01": {"severity": "minor"},
                "INT-03": {"weight": 2.5},
                "SLA-07": {"enabled": True},
            }
        }
    )
    ev = evaluate(build(DOC), load_ruleset(None, config), config, period=PERIOD, as_of=AS_OF)
    assert ev.rules["INT-01"].status == "disabled" and "INT-01" not in set(ev.findings["rule_id"])
    clo = ev.findings[ev.findings["rule_id"] == "CLO-01"].iloc[0]
    assert clo["severity"] == "minor" and clo["weight"] == 1
    assert ev.findings[ev.findings["rule_id"] == "INT-03"]["weight"].tolist() == [2.5]
    assert ev.rules["SLA-07"].status == "measured"


def test_a_failing_rule_is_an_error_and_the_others_still_run() -> None:
    def boom(ctx: object) -> object:
        raise RuntimeError("broken rule")

    broken = replace(RULESET.get("INT-02"), check=Node("boom", "condition", boom))
    rules = tuple(broken if r.id == "INT-02" else r for r in RULESET.rules)
    ev = evaluate(build(DOC), RuleSet(rules=rules, source="t"), CONFIG, period=PERIOD, as_of=AS_OF)
    assert ev.rules["INT-02"].status == "error" and "broken rule" in (ev.rules["INT-02"].error or "")
    assert "INT-02" not in set(ev.tallies["rule_id"]) and "INT-01" in set(ev.findings["rule_id"])
    assert score(ev, CONFIG, PERIOD, as_of=AS_OF)["rules"]["INT-02"]["status"] == "error"


def test_outputs_are_byte_identical_whatever_the_input_order(tmp_path: Path) -> None:
    shuffled = {**DOC, "tickets": list(reversed(DOC["tickets"]))}
    outputs = []
    for i, doc in enumerate((DOC, DOC, shuffled)):
        frames = build(doc)
        if i == 2:
            frames.tickets = frames.tickets.sample(frac=1, random_state=3).reset_index(drop=True)
            frames.notes = frames.notes.iloc[::-1].reset_index(drop=True)
        ev = evaluate(frames, RULESET, CONFIG, period=PERIOD, as_of=AS_OF)
        out = tmp_path / str(i)
        out.mkdir()
        write_findings_csv(period_findings(ev, PERIOD), out / "findings.csv")
        write_summary_json(score(ev, CONFIG, PERIOD, as_of=AS_OF), out / "summary.json")
        outputs.append(((out / "findings.csv").read_bytes(), (out / "summary.json").read_bytes()))
    assert outputs[0] == outputs[1] == outputs[2]
    assert b"2026-11-17T09:00:00Z" in outputs[0][0]


def test_empty_frames() -> None:
    ev = evaluate(build({}), RULESET, CONFIG, period=PERIOD, as_of=AS_OF)
    assert ev.findings.empty and tuple(ev.findings.columns) == FINDING_COLUMNS
    summary = score(ev, CONFIG, PERIOD, as_of=AS_OF)
    assert summary["score"] is None and summary["rules"]["INT-01"]["applicable"] == 0


def test_text_is_processed_in_slices_with_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    import audit.engine.frames as frames_module
    import audit.engine.text as predicates

    doc = {
        **DOC,
        "tickets": [
            *DOC["tickets"],
            {"id": 5, "description": "<p>see the attached screenshot</p>", "_skip": ["attachment"]},
        ],
    }
    whole = evaluate(build(doc), RULESET, CONFIG, period=PERIOD, as_of=AS_OF).findings
    monkeypatch.setattr(predicates, "_CHUNK_ROWS", 2)
    monkeypatch.setattr(frames_module, "_CHUNK_ROWS", 2)
    sliced = evaluate(build(doc), RULESET, CONFIG, period=PERIOD, as_of=AS_OF).findings
    pd.testing.assert_frame_equal(whole.astype(str), sliced.astype(str))
    assert ("CLO-04", 5) in set(zip(whole["rule_id"].astype(str), whole["row_id"].astype(int), strict=True))
