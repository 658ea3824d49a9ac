"""Past weeks do not move: a trend shows each past week as a run published it."""

from __future__ import annotations

import csv
import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from audit.results.published import apply_published, published_weeks
from tests.e2e_support import AS_OF, ticket_audit
from tests.render.test_render_pdf import page_texts


def _summary() -> dict[str, Any]:
    return {
        "period": {"label": "2026-W47"},
        "technicians": [{"key": "7", "score": 90.0, "previous_score": 80.0, "delta": 10.0}],
        "queues": [],
        "trends": {
            "weeks": ["2026-W45", "2026-W46", "2026-W47"],
            "overall": [{"score": 70.0}, {"score": 80.0}, {"score": 90.0}],
            "steps": {"sla": [71.0, 81.0, 91.0]},
            "rules": {},
            "technicians": {"7": [60.0, 80.0, 90.0]},
            "queues": {},
        },
    }


def test_published_weeks_keep_their_figures_and_revisions_are_listed() -> None:
    entries = [
        {"kind": "run", "status": "failed", "period": {"label": "2026-W46"}, "score": 10.0},
        {
            "kind": "run",
            "status": "threshold",
            "period": {"label": "2026-W46"},
            "score": 85.0,
            "steps": {"sla": 84.0},
            "technicians": {"7": 82.5},
        },
        {
            "kind": "run",
            "status": "ok",
            "period": {"label": "2026-W46"},
            "score": 99.0,
        },  # later: not the published one
        {"kind": "run", "status": "ok", "period": {"label": "2026-11-16 to 2026-11-18"}, "score": 1.0},
        {"kind": "run", "status": "ok", "period": {"label": "2026-W47"}, "score": 50.0},
    ]
    published = published_weeks(entries)
    assert sorted(published) == ["2026-W46", "2026-W47"] and published["2026-W46"]["score"] == 85.0
    summary = _summary()
    apply_published(summary, published)
    trends = summary["trends"]
    assert [c["score"] for c in trends["overall"]] == [70.0, 85.0, 90.0]  # the current week is today's
    assert trends["steps"]["sla"] == [71.0, 84.0, 91.0] and trends["technicians"]["7"] == [60.0, 82.5, 90.0]
    assert trends["revised"] == {"2026-W46": {"published": 85.0, "recomputed": 80.0}}
    tech = summary["technicians"][0]
    assert tech["previous_score"] == 82.5 and tech["delta"] == 7.5


@pytest.mark.slow
def test_a_week_recomputed_differently_is_marked_with_the_published_value_kept(
    demo_output: Any, tmp_path: Path
) -> None:
    store = shutil.copytree(demo_output.out / "store", tmp_path / "store")
    # W46 is published under other weights; the rules change afterwards (back to the defaults).
    # The heavier rule is the one that fails most in W46 (read from a run on a throw-away copy of
    # the store), so the new weight moves the week's score whatever the sandbox planted there.
    probe_store = shutil.copytree(demo_output.out / "store", tmp_path / "probe-store")
    probe = ticket_audit(
        "run",
        "--no-extract",
        "--store",
        probe_store,
        "--as-of",
        AS_OF,
        "--week",
        "2026-W46",
        "--out",
        tmp_path / "probe",
        cwd=tmp_path,
    )
    assert probe.returncode == 0, probe.stderr
    with (tmp_path / "probe" / "findings.csv").open(encoding="utf-8", newline="") as handle:
        failing = Counter(row["rule_id"] for row in csv.DictReader(handle))
    assert failing, "the sandbox plants no violation in W46"
    rule_id = failing.most_common(1)[0][0]
    heavy = tmp_path / "heavy.toml"
    heavy.write_text(f'[rules."{rule_id}"]\nweight = 40\n', encoding="utf-8")
    first = ticket_audit(
        "run",
        "--no-extract",
        "--store",
        store,
        "--as-of",
        AS_OF,
        "--week",
        "2026-W46",
        "--out",
        tmp_path / "w46",
        "--config",
        heavy,
        cwd=tmp_path,
    )
    assert first.returncode == 0, first.stderr
    published = json.loads((tmp_path / "w46" / "summary.json").read_text())["score"]
    second = ticket_audit(
        "run", "--no-extract", "--store", store, "--as-of", AS_OF, "--out", tmp_path / "w47", cwd=tmp_path
    )
    assert second.returncode == 0, second.stderr
    summary = json.loads((tmp_path / "w47" / "summary.json").read_text())
    trends = summary["trends"]
    w46 = trends["weeks"].index("2026-W46")
    assert trends["overall"][w46]["score"] == published
    revised = trends["revised"]["2026-W46"]
    assert revised["published"] == published and revised["recomputed"] != published
    cover = " ".join(page_texts(tmp_path / "w47" / "scorecards.pdf")[0].split())
    assert f"2026-W46 published {published:.1f}, recomputed {revised['recomputed']:.1f}" in cover
