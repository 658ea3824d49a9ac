"""`ticket-audit demo` on a fresh folder: the whole job, every output, and where they are."""

from __future__ import annotations

import json

import pandas as pd
from openpyxl import load_workbook

from tests.render.test_render_pdf import page_texts

OUTPUTS = (
    "findings.csv",
    "summary.json",
    "scorecards.pdf",
    "scorecards.html",
    "qa-review.xlsx",
    "junit.xml",
    "summary.md",
)


def test_demo_writes_every_output_and_says_where(demo_output) -> None:
    assert demo_output.returncode == 0, demo_output.stderr
    for name in OUTPUTS:
        path = demo_output.out / name
        assert path.is_file() and path.stat().st_size > 0, name
        assert str(path) in demo_output.stdout, name
    assert "Score " in demo_output.stdout


def test_demo_outputs_agree(demo_output) -> None:
    summary = json.loads((demo_output.out / "summary.json").read_text())
    findings = pd.read_csv(demo_output.out / "findings.csv")
    assert 0 <= summary["score"] <= 100
    failed = sum(r["failed"] for r in summary["rules"].values())
    assert failed == len(findings) > 0
    wb = load_workbook(demo_output.out / "qa-review.xlsx")
    assert wb["Findings"].max_row - 1 == len(findings)
    # The sandbox's zone as its zoneInformation answers it: the workbook's identity is the zone's.
    fields = {r[0]: r[1] for r in wb["Summary"].iter_rows(min_row=2, max_col=2, values_only=True) if r[0]}
    assert fields["Zone"] == fields["Tenant ID"] == summary["tenant"]["zone"] == "Sandbox Zone"
    assert wb["Findings"].freeze_panes == "B2" and wb["Sample"].max_row > 1
    text = "\n".join(page_texts(demo_output.out / "scorecards.pdf"))
    for tech in summary["technicians"]:
        assert tech["name"] in text


def test_demo_is_reproducible(demo_output, demo_runner, tmp_path) -> None:
    """Same tenant, same as-of: byte-identical findings.csv and summary.json."""
    again = demo_runner(tmp_path / "again")
    assert again.returncode == 0, again.stderr
    out = again.out
    for name in ("findings.csv", "summary.json"):
        assert (out / name).read_bytes() == (demo_output.out / name).read_bytes(), name
