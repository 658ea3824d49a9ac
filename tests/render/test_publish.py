"""Publishing the reports: a staging folder swapped in whole, never a mixed or partial ``--out``;
and junit.xml that parses whatever the tenant's names hold."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from audit.core.errors import RenderError
from audit.render.junit import write_error_junit, write_junit
from audit.render.outputs import STAGING_DIR, finish_publish, publish, publish_failure
from audit.results.thresholds import ThresholdResult


def _writer(text: str) -> Any:
    return lambda p: p.write_text(text, encoding="utf-8")


def _last_week(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name in ("findings.csv", "summary.json", "scorecards.pdf", "gate.json"):
        (out / name).write_text("last week", encoding="utf-8")


def test_a_killed_render_leaves_last_weeks_folder_whole(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _last_week(out)

    def killed(path: Path) -> None:
        path.write_text("half", encoding="utf-8")
        raise KeyboardInterrupt  # the run is stopped mid-render

    with pytest.raises(KeyboardInterrupt):
        publish(out, {"findings.csv": _writer("this week"), "scorecards.pdf": killed})
    assert {p.name: p.read_text() for p in out.iterdir()} == {
        "findings.csv": "last week",
        "summary.json": "last week",
        "scorecards.pdf": "last week",
        "gate.json": "last week",
    }


def test_a_staging_folder_left_by_kill_9_is_discarded_or_finished(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _last_week(out)
    # Killed while rendering: staging holds a partial file and no completion mark -> discarded.
    (out / STAGING_DIR).mkdir()
    (out / STAGING_DIR / "findings.csv").write_text("partial", encoding="utf-8")
    finish_publish(out)
    assert not (out / STAGING_DIR).exists() and (out / "findings.csv").read_text() == "last week"
    # Killed while swapping: staging is marked complete -> the next start finishes the swap.
    (out / STAGING_DIR).mkdir()
    for name in ("findings.csv", "summary.json"):
        (out / STAGING_DIR / name).write_text("this week", encoding="utf-8")
    (out / STAGING_DIR / ".complete").write_text(
        json.dumps(["findings.csv", "summary.json"]), encoding="utf-8"
    )
    (out / "findings.csv").write_text("this week", encoding="utf-8")  # already moved before the kill
    (out / STAGING_DIR / "findings.csv").unlink()
    finish_publish(out)
    assert {p.name: p.read_text() for p in out.iterdir()} == {
        "findings.csv": "this week",
        "summary.json": "this week",
    }


def test_a_failed_renderer_publishes_this_runs_outputs_and_drops_last_weeks(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _last_week(out)

    def broken(path: Path) -> None:
        raise ValueError("fonts missing")

    with pytest.raises(RenderError, match=r"scorecards\.pdf: ValueError: fonts missing") as info:
        publish(
            out,
            {
                "findings.csv": _writer("this week"),
                "summary.json": _writer("this week"),
                "scorecards.pdf": broken,
            },
        )
    assert info.value.published_outputs == ["findings.csv", "summary.json"]  # type: ignore[attr-defined]
    # Never this week's CSV next to last week's PDF, never a .tmp file.
    assert {p.name: p.read_text() for p in out.iterdir()} == {
        "findings.csv": "this week",
        "summary.json": "this week",
    }
    publish_failure(out, "scorecards.pdf: ValueError: fonts missing", keep=info.value.published_outputs)
    assert sorted(p.name for p in out.iterdir()) == [
        "findings.csv",
        "gate.json",
        "junit.xml",
        "summary.json",
        "summary.md",
    ]
    gate = json.loads((out / "gate.json").read_text())
    assert gate["exit_code"] == 3 and gate["runtime_errors"] == ["scorecards.pdf: ValueError: fonts missing"]


def _summary(title: str) -> dict[str, Any]:
    return {
        "rules": {
            "CLO-01": {
                "title": title,
                "step": "closure",
                "status": "measured",
                "applicable": 3,
                "passed": 2,
                "failed": 1,
                "waived": 0,
                "score": 66.7,
            }
        }
    }


def test_junit_with_control_characters_parses_back(tmp_path: Path) -> None:
    hostile = "Resolution\x00 blank\x01\x07\x1b[31m \ud800 ok\x7f"
    findings = pd.DataFrame({"rule_id": ["CLO-01"], "ticket_number": ["T1\x02"], "waived": [False]})
    threshold = ThresholdResult(
        "technician", "x\x0b::add-mask::y", 80.0, 50.0, 10, False, False, "technician x\x0b: 50 < 80"
    )
    assert threshold.name == "threshold.technician.x\x0b::add-mask::y"
    path = write_junit(_summary(hostile), findings, tmp_path / "junit.xml", [threshold])
    root = ET.parse(path).getroot()  # parses: every character is one XML 1.0 allows
    case = next(root.iter("testcase"))
    assert case.get("name") == "CLO-01 Resolution\\x00 blank\\x01\\x07\\x1b[31m \\ud800 ok\x7f"
    assert "T1\\x02" in (case.find("system-out").text or "")
    failures = root.findall(".//failure")
    assert len(failures) == 1 and failures[0].get("message") == "technician x\\x0b: 50 < 80"
    error = write_error_junit(tmp_path / "error.xml", "boom\x01 at \x00")
    assert ET.parse(error).getroot().find(".//failure").get("message") == "boom\\x01 at \\x00"
