"""Re-runs on one store, through the console script: a reviewer's Sample answers stay on the
next workbook when a false positive changes the step's population, and every re-evaluation of
a snapshot is its own history entry (an empty week never borrows another run's score)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.e2e_support import AS_OF, Api, loopback_api, ticket_audit

REVIEWER = "Quinn Reviewer"


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    with loopback_api() as served:
        yield served


def _rows(workbook: Path, sheet: str) -> tuple[list[str], list[list[object]]]:
    ws = load_workbook(workbook)[sheet]
    header = [str(c.value) for c in ws[1]]
    return header, [list(r) for r in ws.iter_rows(min_row=2, values_only=True)]


def _answer_sample_and_flag_false_positive(workbook: Path) -> tuple[str, set[str]]:
    """Answer every Sample row of one step; mark False positive a finding of that step that is
    its ticket's only finding in the step (its ticket becomes clean: the population grows)."""
    wb = load_workbook(workbook)
    sample, findings = wb["Sample"], wb["Findings"]
    s_head = [c.value for c in sample[1]]
    f_head = [c.value for c in findings[1]]
    f_rows = [list(r) for r in findings.iter_rows(min_row=2, values_only=True)]
    per_ticket = Counter((r[f_head.index("Step")], r[f_head.index("Ticket ID")]) for r in f_rows)
    keys = [r[s_head.index("Sample key")] for r in sample.iter_rows(min_row=2, values_only=True)]
    for index, row in enumerate(f_rows, start=2):
        step = row[f_head.index("Step")]
        if per_ticket[(step, row[f_head.index("Ticket ID")])] == 1 and any(
            str(k).startswith(f"{step}|") for k in keys
        ):
            findings.cell(index, f_head.index("Verdict") + 1, "False positive")
            break
    else:
        pytest.fail("no finding alone in its step with Sample rows of that step")
    answered = set()
    for index, key in enumerate(keys, start=2):
        if str(key).startswith(f"{step}|"):
            sample.cell(index, s_head.index("Verdict") + 1, "Correct")
            answered.add(str(key))
    wb.save(workbook)
    return str(step), answered


@pytest.mark.slow
def test_sample_answers_stay_and_each_rerun_is_listed(api: Api, tmp_path: Path) -> None:
    store = tmp_path / "store"
    first = ticket_audit(
        "run", "--store", store, "--out", tmp_path / "night1", "--as-of", AS_OF, cwd=tmp_path, env=api.env
    )
    assert first.returncode == 0, (first.stdout, first.stderr)
    workbook = tmp_path / "night1" / "qa-review.xlsx"
    step, answered = _answer_sample_and_flag_false_positive(workbook)
    imported = ticket_audit(
        "review", "import", workbook, "--store", store, "--reviewer", REVIEWER, cwd=tmp_path
    )
    assert imported.returncode == 0, (imported.stdout, imported.stderr)

    again = ticket_audit(
        "run", "--store", store, "--out", tmp_path / "night2", "--as-of", AS_OF, "--no-extract", cwd=tmp_path
    )
    assert again.returncode == 0, (again.stdout, again.stderr)
    summary = json.loads((tmp_path / "night2" / "summary.json").read_text(encoding="utf-8"))
    assert summary["overall"]["false_positive"] == 1
    header, rows = _rows(tmp_path / "night2" / "qa-review.xlsx", "Sample")
    shown = {str(r[header.index("Sample key")]): r for r in rows}
    # The answered rows are still there, pre-filled, though the step's clean tickets changed.
    assert answered <= set(shown), (step, answered, sorted(shown))
    for key in answered:
        assert shown[key][header.index("Verdict")] == "Correct"
        assert shown[key][header.index("Reviewer")] == REVIEWER
    assert summary["recall"][step]["answered"] == len(answered)

    empty = ticket_audit(
        "run",
        "--store",
        store,
        "--out",
        tmp_path / "empty",
        "--as-of",
        AS_OF,
        "--no-extract",
        "--week",
        "2025-W10",
        cwd=tmp_path,
    )
    assert empty.returncode == 1, (empty.stdout, empty.stderr)
    history = ticket_audit("history", "--store", store, cwd=tmp_path)
    assert history.returncode == 0, history.stderr
    lines = history.stdout.splitlines()
    # Three runs: the extracting one and two re-evaluations of its snapshot at the same as-of.
    runs = [line for line in lines if line[:4].isdigit()]
    assert len(runs) == 3, history.stdout
    empty_week = [line for line in runs if "2025-W10" in line]
    assert len(empty_week) == 1 and empty_week[0].split()[-1] == "-", history.stdout
