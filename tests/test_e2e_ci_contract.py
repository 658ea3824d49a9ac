"""The CI contract, end to end through the console script, as a CI job meets it.

JUnit agrees with the exit code; an empty audit is not a pass; ``--as-of`` bounds the period
and what is counted; an unwritable ``--out`` fails before any request; waivers that need
someone are listed where people look; ``sandbox serve`` tells how to audit its weeks.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.e2e_support import AS_OF, TICKET_AUDIT, Api, ticket_audit
from tests.render.test_render_pdf import page_texts


def _copy(store: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(store, tmp_path / "store"))


def _junit_failures(out: Path) -> tuple[int, list[str]]:
    root = ET.parse(out / "junit.xml").getroot()
    failed = [case.get("name", "") for case in root.iter("testcase") if case.find("failure") is not None]
    assert int(root.get("failures", "-1")) == len(failed)
    return len(failed), failed


@pytest.mark.parametrize(("fail_under", "expected"), [("99.9", 1), ("50", 0)])
def test_junit_failures_are_exactly_the_threshold_failures(
    extracted_store: Path, tmp_path: Path, fail_under: str, expected: int
) -> None:
    store = _copy(extracted_store, tmp_path)
    out = tmp_path / "out"
    proc = ticket_audit(
        "run",
        "--no-extract",
        "--store",
        store,
        "--as-of",
        AS_OF,
        "--out",
        out,
        "--fail-under",
        fail_under,
        cwd=tmp_path,
    )
    assert proc.returncode == expected, (proc.stdout, proc.stderr)
    gate = json.loads((out / "gate.json").read_text(encoding="utf-8"))
    missed = [r["name"] for r in gate["results"] if not r["passed"]]
    count, failed = _junit_failures(out)
    assert failed == missed and count == (1 if expected else 0)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert any(r["failed"] for r in summary["rules"].values())  # findings exist either way: information


def test_an_empty_week_exits_1_nothing_audited_unless_allowed(extracted_store: Path, tmp_path: Path) -> None:
    store = _copy(extracted_store, tmp_path)
    args = ("run", "--no-extract", "--store", store, "--as-of", AS_OF, "--week", "2026-W20")
    empty = ticket_audit(*args, "--out", tmp_path / "a", cwd=tmp_path)
    assert empty.returncode == 1, (empty.stdout, empty.stderr)
    assert "nothing audited" in empty.stderr
    assert _junit_failures(tmp_path / "a")[1] == ["threshold.audit.non-empty"]
    # The manager's PDF says so in words: no empty heat maps, axes or tables of dashes.
    pages = [" ".join(text.split()) for text in page_texts(tmp_path / "a" / "scorecards.pdf")]
    assert "nothing to score for 2026-W20" in pages[0]
    heat = [t for t in pages if "Technicians × steps" in t or "Queues × steps" in t]
    assert "no technician to score" in " ".join(heat) and "no queue to score" in " ".join(heat)
    trends = next(t for t in pages if t.startswith("Trends"))
    for text in (pages[0], trends):
        assert "No week from 2026-W13 to 2026-W20 had a check to apply: there is no trend to draw." in text
    assert "Intake" not in trends and "2026-W19" not in trends
    config = tmp_path / "allow.toml"
    config.write_text("[thresholds]\nallow_empty = true\n", encoding="utf-8")
    allowed = ticket_audit(*args, "--config", config, "--out", tmp_path / "b", cwd=tmp_path)
    assert allowed.returncode == 0, (allowed.stdout, allowed.stderr)


def test_a_period_past_as_of_exits_2_naming_both_dates(tmp_path: Path) -> None:
    proc = ticket_audit(
        "run",
        "--no-extract",
        "--store",
        tmp_path / "store",
        "--out",
        tmp_path / "out",
        "--week",
        "2026-W47",
        "--as-of",
        "2026-11-18",
        cwd=tmp_path,
    )
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "2026-11-22" in proc.stderr and "2026-11-18T00:00:00Z" in proc.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "store").exists()


def test_an_unwritable_out_fails_before_any_request(api: Api, tmp_path: Path) -> None:
    blocker = tmp_path / "reports-file"
    blocker.write_text("not a folder", encoding="utf-8")
    out = blocker / "reports"  # cannot be created, even by root
    served = api.emulator.stats.total
    proc = ticket_audit(
        "run", "--store", tmp_path / "store", "--out", out, "--as-of", AS_OF, cwd=tmp_path, env=api.env
    )
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    assert proc.stderr.count("\n") == 1 and str(out) in proc.stderr
    assert api.emulator.stats.total == served  # not one request
    assert not (tmp_path / "store").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_out_fails_before_any_request(api: Api, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    out.mkdir()
    out.chmod(0o555)
    served = api.emulator.stats.total
    proc = ticket_audit(
        "run", "--store", tmp_path / "store", "--out", out, "--as-of", AS_OF, cwd=tmp_path, env=api.env
    )
    assert proc.returncode == 3 and str(out) in proc.stderr
    assert api.emulator.stats.total == served


def test_expired_and_unmatched_waivers_are_listed_where_people_look(
    extracted_store: Path, tmp_path: Path
) -> None:
    store = _copy(extracted_store, tmp_path)
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(
        "waivers:\n"
        "  - {rule: CLO-01, ticket: T19990101.0001, reason: old connector, approved_by: QA, expires: 2026-01-31}\n"
        "  - {rule: INT-03, ticket: T19990101.0002, reason: never matches, approved_by: QA, expires: 2027-01-31}\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    proc = ticket_audit(
        "run",
        "--no-extract",
        "--store",
        store,
        "--as-of",
        AS_OF,
        "--out",
        out,
        "--waivers",
        waivers,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert "waiver expired on 2026-01-31" in proc.stdout and "waiver matches no finding" in proc.stdout
    md = (out / "summary.md").read_text(encoding="utf-8")
    assert "expired on 2026-01-31" in md and "matches no finding" in md
    from openpyxl import load_workbook

    from tests.render.test_render_pdf import page_texts

    sheet = load_workbook(out / "qa-review.xlsx", read_only=True)["Waivers"]
    problems = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert problems == ["expired", "matches nothing"]
    pdf = " ".join(" ".join(page_texts(out / "scorecards.pdf")).split())
    assert "Waivers that need attention" in pdf and "expired 2026-01-31" in pdf


def test_sandbox_serve_prints_the_as_of_that_audits_its_weeks(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [TICKET_AUDIT, "sandbox", "serve", "--port", "0", "--tickets", "200"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        env: dict[str, str] = {}
        as_of = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line or "Ctrl-C" in line:
                break
            if m := re.search(r"export (AUTOTASK_[A-Z_]+)=(\S+)", line):
                env[m.group(1)] = m.group(2)
            if m := re.search(r"--as-of (\S+)", line):
                as_of = m.group(1)
        assert as_of is not None and env
        run = ticket_audit(
            "run",
            "--store",
            tmp_path / "store",
            "--out",
            tmp_path / "out",
            "--as-of",
            as_of,
            cwd=tmp_path,
            env=env,
        )
        assert run.returncode == 0, (run.stdout, run.stderr)
        summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
        assert summary["overall"]["applicable"] > 0  # a real week, not an empty one
    finally:
        proc.terminate()
        proc.wait(timeout=30)
