"""audit.results.rescoring: the saved scoring inputs score to the same bytes as the live ones."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from audit.core.config import Config
from audit.core.errors import EXIT_RUNTIME, AuditRuntimeError
from audit.core.period import Period
from audit.engine import evaluate, load_ruleset
from audit.render.json_out import write_summary_json
from audit.results.rescoring import (
    ScoringInputs,
    read_scoring_inputs,
    score_inputs,
    ticket_titles,
    write_scoring_inputs,
)
from audit.results.waivers import Waiver, WaiverFile
from tests.engine.builders import AS_OF, PERIOD, build

CONFIG = Config()
RULESET = load_ruleset(None, CONFIG)
#: Eight ISO weeks ending with 2026-W47, as the pipeline widens a period for its trends.
TREND = Period(date(2026, 9, 28), date(2026, 11, 22))
HOSTILE = '=HYPERLINK("http://evil.invalid") <b>🔥</b> ' + "x" * 30_000
DOC = {
    "tickets": [
        {"id": 1, "title": HOSTILE},
        {"id": 2, "title": "", "assignedResourceID": 2},
        {"id": 3, "resolution": ""},
        {"id": 5, "title": None},
    ]
}


def _inputs(period: Period) -> ScoringInputs:
    frames = build(DOC)
    whole_weeks = period == PERIOD
    inputs = ScoringInputs(
        evaluation=evaluate(frames, RULESET, CONFIG, period=TREND, as_of=AS_OF),
        current=None if whole_weeks else evaluate(frames, RULESET, CONFIG, period=period, as_of=AS_OF),
        period=period,
        as_of=AS_OF,
        min_sample=3,
        trend_weeks=8,
        tenant={"name": "Tenant", "id": "zone1", "ruleset_version": RULESET.digest},
        tenant_name="",
        published={"2026-W46": {"score": 91.0, "steps": {"closure": 80.0}}},
    )
    return replace(inputs, ticket_titles=ticket_titles(frames.tickets, inputs.period_findings()))


def _json(scored: dict[str, object], path: Path) -> bytes:
    write_summary_json(scored, path)  # type: ignore[arg-type]
    return path.read_bytes()


WAIVERS = WaiverFile(
    None,
    (
        Waiver(rule="*", ticket=3, reason="r", approved_by="QA", expires=date(2030, 1, 1)),
        Waiver(rule="INT-01", ticket=2, reason="old", approved_by="QA", expires=date(2026, 1, 1)),
    ),
    (),
)


@pytest.mark.parametrize(
    "period", [PERIOD, Period(date(2026, 11, 18), date(2026, 11, 21))], ids=["week", "partial"]
)
@pytest.mark.parametrize("waivers", [None, WAIVERS], ids=["no-waivers", "waivers"])
def test_saved_inputs_score_byte_identically(
    tmp_path: Path, period: Period, waivers: WaiverFile | None
) -> None:
    live = _inputs(period)
    saved = read_scoring_inputs(write_scoring_inputs(live, tmp_path / "scoring"))
    before, after = score_inputs(live, waivers), score_inputs(saved, waivers)
    assert _json(dict(before.summary), tmp_path / "a.json") == _json(dict(after.summary), tmp_path / "b.json")
    # Categories may come back with another dtype for their labels; the values are the same.
    pd.testing.assert_frame_equal(before.findings, after.findings, check_dtype=False, check_categorical=False)
    assert (saved.current is None) is (period == PERIOD)
    assert before.summary["trends"]["revised"]  # the published past week shows as published
    if waivers is not None:
        assert before.summary["waivers"]["expired"] and after.summary["overall"]["waived"] >= 1


def test_titles_are_kept_for_the_period_findings_only(tmp_path: Path) -> None:
    inputs = _inputs(PERIOD)
    findings = score_inputs(read_scoring_inputs(write_scoring_inputs(inputs, tmp_path / "s")), None).findings
    titles = dict(zip(findings["ticket_id"].astype(int), findings["ticket_title"], strict=True))
    assert titles[2] == "" and 5 not in inputs.ticket_titles  # blank and null titles read as empty
    assert set(inputs.ticket_titles) <= set(titles)  # only tickets with a finding in the period
    assert (
        titles[1] == inputs.ticket_titles[1]
        and titles[1].startswith('=HYPERLINK("http://evil.invalid")')
        and "🔥" in titles[1]
    )


def test_missing_or_unreadable_inputs_are_runtime_errors(tmp_path: Path) -> None:
    with pytest.raises(AuditRuntimeError, match="no scoring inputs") as missing:
        read_scoring_inputs(tmp_path / "nothing")
    assert missing.value.exit_code == EXIT_RUNTIME
    folder = write_scoring_inputs(_inputs(PERIOD), tmp_path / "scoring")
    document = json.loads((folder / "inputs.json").read_text(encoding="utf-8"))
    (folder / "inputs.json").write_text(json.dumps({**document, "format": 99}), encoding="utf-8")
    with pytest.raises(AuditRuntimeError, match=r"unreadable scoring inputs.*format 99"):
        read_scoring_inputs(folder)
    (folder / "inputs.json").write_text("[]", encoding="utf-8")
    with pytest.raises(AuditRuntimeError, match="holds a list, not an object"):
        read_scoring_inputs(folder)
    (folder / "inputs.json").write_text(json.dumps(document), encoding="utf-8")
    (folder / "evaluation.tallies.parquet").write_bytes(b"not parquet")
    with pytest.raises(AuditRuntimeError, match="unreadable scoring inputs"):
        read_scoring_inputs(folder)
    (folder / "evaluation.tallies.parquet").unlink()
    with pytest.raises(AuditRuntimeError, match=r"incomplete scoring inputs: .*evaluation\.tallies\.parquet"):
        read_scoring_inputs(folder)
