"""findings.csv, summary.json, junit.xml, summary.md and the QA workbook."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from audit.core.safetext import is_formula_like
from audit.render.csv_out import write_findings_csv
from audit.render.json_out import dumps_summary
from audit.results.qa_workbook import FINDINGS_HEADERS, HIDDEN_FINDINGS_HEADERS, VERDICT_CHOICES
from audit.results.summary import Summary

EVIL_TITLE = '=HYPERLINK("http://x","y")'  # as planted by conftest.evaluation

DOCUMENTED_COLUMNS = [
    "rule_id",
    "step",
    "severity",
    "ticket_id",
    "ticket_number",
    "row_kind",
    "row_id",
    "technician",
    "queue",
    "anchor_date",
    "message",
    "waived",
    "ticket_url",
]


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_all_outputs_written(outputs: dict[str, Path]) -> None:
    assert set(outputs) == {
        "findings.csv",
        "summary.json",
        "junit.xml",
        "summary.md",
        "qa-review.xlsx",
        "scorecards.pdf",
        "scorecards.html",
    }
    assert all(p.stat().st_size > 0 for p in outputs.values())
    assert not list(next(iter(outputs.values())).parent.glob(".*.tmp"))


def test_findings_csv_contract_and_stability(
    outputs: dict[str, Path], findings: pd.DataFrame, tmp_path: Path
) -> None:
    rows = read_csv(outputs["findings.csv"])
    assert list(rows[0])[: len(DOCUMENTED_COLUMNS)] == DOCUMENTED_COLUMNS
    assert len(rows) == len(findings)
    keys = [(r["rule_id"], r["ticket_number"], r["row_kind"], r["row_id"]) for r in rows]
    assert keys == sorted(keys, key=lambda k: (k[0], k[1], k[2], int(k[3])))
    # Same input, shuffled: byte-identical file.
    again = write_findings_csv(findings.sample(frac=1, random_state=3), tmp_path / "f.csv")
    assert again.read_bytes() == outputs["findings.csv"].read_bytes()


def test_summary_json_sorted_and_stable(outputs: dict[str, Path], summary: Summary) -> None:
    text = outputs["summary.json"].read_text(encoding="utf-8")
    assert text == dumps_summary(summary)
    data = json.loads(text)
    assert list(data) == sorted(data)
    assert {"score", "period", "as_of", "rules", "steps", "technicians", "queues", "trends"} <= set(data)
    for rule in data["rules"].values():
        assert {
            "applicable",
            "passed",
            "failed",
            "waived",
            "status",
            "score",
            "title",
            "step",
            "severity",
            "low_sample",
        } <= set(rule)


def test_junit(outputs: dict[str, Path], summary: Summary, findings: pd.DataFrame) -> None:
    root = ET.parse(outputs["junit.xml"]).getroot()
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    cases = {c.get("name", "").split(" ")[0]: c for c in suites["rules"].iter("testcase")}
    assert set(cases) == set(summary["rules"])
    assert cases["SLA-07"].find("skipped") is not None  # disabled
    assert cases["QUA-10"].find("skipped") is not None  # not measured
    assert cases["SLA-06"].find("error") is not None  # error
    # A rule with findings but no threshold passes; its text and properties carry the numbers.
    failing = next(rid for rid, r in sorted(summary["rules"].items()) if r["failed"] > 0)
    assert cases[failing].find("failure") is None
    props = {p.get("name"): p.get("value") for p in cases[failing].iter("property")}
    assert props["failed"] == str(summary["rules"][failing]["failed"])
    assert props["score"] == f"{summary['rules'][failing]['score']:.1f}"
    open_ = findings[(findings["rule_id"] == failing) & ~findings["waived"]]
    text = cases[failing].find("system-out").text
    assert set(open_["ticket_number"]) <= set(text.split("\n")) and props["findings"] == str(
        open_["ticket_number"].nunique()
    )
    thresholds = list(suites["thresholds"].iter("testcase"))
    assert len(thresholds) == 3
    assert thresholds[0].find("failure") is not None and thresholds[2].find("skipped") is not None
    assert root.get("tests") == str(len(summary["rules"]) + 3)
    # Failures in the report are exactly the failed thresholds (what the exit code says).
    assert int(root.get("failures")) == len(root.findall(".//failure")) == 1


def test_markdown(outputs: dict[str, Path], summary: Summary) -> None:
    text = outputs["summary.md"].read_text(encoding="utf-8")
    assert f"{summary['score']:.1f}" in text and "breached" in text


@pytest.fixture(scope="module")
def workbook(outputs: dict[str, Path]) -> openpyxl.Workbook:
    return openpyxl.load_workbook(outputs["qa-review.xlsx"])


def test_workbook_sheets_and_properties(workbook: openpyxl.Workbook, summary: Summary) -> None:
    assert workbook.sheetnames == ["Summary", "Technicians", "Queues", "Rules", "Findings", "Waivers"]
    props = {p.name: p.value for p in workbook.custom_doc_props.props}
    assert props["ticket_audit.tenant_id"] == summary["tenant"]["id"]
    assert props["ticket_audit.zone"] == summary["tenant"]["zone"]
    assert props["ticket_audit.ruleset_version"] == summary["tenant"]["ruleset_version"]
    labels = {row[0].value: row[1].value for row in workbook["Summary"].iter_rows(min_row=2, max_row=12)}
    assert (
        labels["Tenant ID"] == summary["tenant"]["id"]
        and labels["Rule-set version"] == summary["tenant"]["ruleset_version"]
    )
    techs = workbook["Technicians"]
    assert techs.max_row == len(summary["technicians"]) + 1
    assert [c.value for c in techs[2]][2] == summary["technicians"][0]["score"]
    assert techs.conditional_formatting
    assert workbook["Summary"].freeze_panes == techs.freeze_panes == "A2"  # headers stay in view


def test_workbook_colours_the_score_columns(workbook: openpyxl.Workbook) -> None:
    """The conditional colours sit on the score columns, and on nothing else (a count is not a score)."""
    for name in ("Technicians", "Queues", "Rules"):
        sheet = workbook[name]
        header = [c.value for c in sheet[1]]
        coloured = {
            header[cell_range.min_col - 1]
            for rule_range in sheet.conditional_formatting
            for cell_range in rule_range.sqref.ranges
        }
        assert coloured and all(h == "Score" or str(h).endswith(" score") for h in coloured), (name, coloured)
        assert "Score" in coloured, name


def test_workbook_findings_equal_csv(workbook: openpyxl.Workbook, outputs: dict[str, Path]) -> None:
    ws = workbook["Findings"]
    header = [c.value for c in ws[1]]
    assert header == list(FINDINGS_HEADERS)
    col = {name: i for i, name in enumerate(header)}
    rows = read_csv(outputs["findings.csv"])
    sheet_rows = list(ws.iter_rows(min_row=2, values_only=False))
    assert len(sheet_rows) == len(rows)
    for cells, row in zip(sheet_rows, rows, strict=True):
        assert cells[col["Finding key"]].value == f"{row['rule_id']}|{row['row_kind']}|{row['row_id']}"
        assert cells[col["Ticket"]].value == row["ticket_number"]
        assert cells[col["Message"]].value == row["message"]
        assert cells[col["Waived"]].value == ("waived" if row["waived"] == "true" else None)
        link = cells[col["Ticket"]].hyperlink
        assert link is not None and link.target == row["ticket_url"]
    assert ws.freeze_panes == "B2" and ws.auto_filter.ref  # the header and the Ticket column stay in view
    for name in HIDDEN_FINDINGS_HEADERS:
        letter = openpyxl.utils.get_column_letter(col[name] + 1)
        assert ws.column_dimensions[letter].hidden


def test_workbook_verdict_validation(workbook: openpyxl.Workbook) -> None:
    ws = workbook["Findings"]
    validations = ws.data_validations.dataValidation
    assert len(validations) == 1
    dv = validations[0]
    assert dv.type == "list" and dv.formula1 == '"' + ",".join(VERDICT_CHOICES) + '"'
    letter = openpyxl.utils.get_column_letter(FINDINGS_HEADERS.index("Verdict") + 1)
    assert str(dv.sqref) == f"{letter}2:{letter}{ws.max_row}"


def test_formula_looking_text_is_literal(workbook: openpyxl.Workbook) -> None:
    ws = workbook["Findings"]
    title_col = FINDINGS_HEADERS.index("Ticket title")
    seen = set()
    for cells in ws.iter_rows(min_row=2):
        for cell in cells:
            if isinstance(cell.value, str) and is_formula_like(cell.value):
                assert cell.data_type == "s", cell.coordinate
                assert cell.quotePrefix, cell.coordinate
                seen.add(cell.value)
        assert cells[title_col].data_type != "f"
    assert EVIL_TITLE in seen
    assert {"@SUM(A1)", "-2+3", "\tTabbed"} & seen


def test_markdown_lowest_technicians_never_lists_unassigned() -> None:
    from audit.render.markdown import render_markdown

    def tech(name: str, score: float, ident: int | None, **extra: object) -> dict[str, object]:
        return {"name": name, "id": ident, "score": score, "applicable": 50, "low_sample": False, **extra}

    base = {
        "score": 80.0,
        "overall": {"applicable": 100, "failed": 20, "waived": 0},
        "steps": {},
        "rules": {},
    }
    flagged = [tech("Ann", 90.0, 1, unassigned=False), tech("Unassigned", 10.0, None, unassigned=True)]
    legacy = [tech("Ann", 90.0, 1), tech("Unassigned", 10.0, None)]  # summary.json without the flag
    for technicians in (flagged, legacy):
        text = render_markdown({**base, "technicians": technicians})
        lowest = text.split("lowest technicians")[1]
        assert "Ann" in lowest and "Unassigned" not in lowest
