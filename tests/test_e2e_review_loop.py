"""Acceptance: the CI-style gate and the QA review loop, end to end through the installed script.

A night's run fails its gate; QA reviewers fill the Verdict column of qa-review.xlsx (and sort and
delete rows, as people do); `review import` turns the verdicts into waivers and precision
records; the next run counts the waived findings as passed, passes the gate, and shows each
rule's precision in summary.json and the PDF. A baseline written then fails a later night only
on findings new since it — here violations planted in the tenant the API serves.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from openpyxl import load_workbook

from audit.sandbox.model import Tenant
from tests.e2e_support import AS_OF, Api, loopback_api, small_tenant, ticket_audit
from tests.render.test_render_pdf import page_texts

REVIEWER = "qa@example.com"
PERIOD = (pd.Timestamp("2026-11-16", tz="UTC"), pd.Timestamp("2026-11-23", tz="UTC"))  # 2026-W47


def _most_planted_rule(tenant: Tenant) -> str:
    """The ticket-level rule planted most often in the period (ties: the first id), read from
    the tenant's ground truth. CLO-01 is left out: the test plants more of it later."""
    truth = tenant.ground_truth
    week = truth[
        (truth["anchor_date"] >= PERIOD[0])
        & (truth["anchor_date"] < PERIOD[1])
        & ~truth["needs_history"]
        & (truth["row_kind"] == "ticket")
        & (truth["rule_id"] != "CLO-01")
    ]
    counts = week["rule_id"].value_counts()
    return str(min(counts[counts == counts.max()].index))


#: The rule whose every finding the reviewers waive; its threshold (100) fails before the review.
WAIVED_RULE = _most_planted_rule(small_tenant())
CONFIG = f"""
[thresholds]
rule."{WAIVED_RULE}" = 100
"""


@pytest.fixture
def api() -> Iterator[Api]:
    with loopback_api() as served:  # a tenant of its own: the test changes it
        yield served


def _findings(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "findings.csv", dtype=str, keep_default_na=False)


def _keys(frame: pd.DataFrame) -> set[str]:
    return {
        f"{r}|{k}|{i}" for r, k, i in zip(frame["rule_id"], frame["row_kind"], frame["row_id"], strict=True)
    }


def _review(workbook: Path) -> dict[str, Any]:
    """Fill the Findings sheet as a reviewer would; returns what was decided, by finding key.

    Every finding of WAIVED_RULE is Waived (with a comment); the findings of one rule are False
    positive, of another Confirmed; a few unreviewed rows are deleted and the rest re-ordered.
    """
    wb = load_workbook(workbook)
    ws = wb["Findings"]
    header = [c.value for c in ws[1]]
    col = {name: header.index(name) for name in ("Rule", "Verdict", "Comment", "Finding key")}
    rows = [list(r) for r in ws.iter_rows(min_row=2, values_only=True)]
    rules = sorted({r[col["Rule"]] for r in rows} - {WAIVED_RULE})
    false_positive_rule, confirmed_rule = rules[0], rules[1]
    decided: dict[str, Any] = {"waived": [], "false_positive": [], "confirmed": [], "deleted": []}
    kept = []
    for row in rows:
        rule, key = row[col["Rule"]], row[col["Finding key"]]
        if rule == WAIVED_RULE:
            row[col["Verdict"]] = "Waived"
            row[col["Comment"]] = (
                "Monitoring e-mails arrive without a subject; accepted until the connector is fixed"
            )
            decided["waived"].append(key)
        elif rule == false_positive_rule:
            row[col["Verdict"]] = "False positive"
            decided["false_positive"].append(key)
        elif rule == confirmed_rule:
            row[col["Verdict"]] = "Confirmed"
            row[col["Comment"]] = "talked to the technician"
            decided["confirmed"].append(key)
        elif len(decided["deleted"]) < 3:
            decided["deleted"].append(key)
            continue
        kept.append(row)
    kept.reverse()  # sorted differently than written
    ws.delete_rows(2, ws.max_row)
    for row in kept:
        ws.append(row)
    # The Sample sheet: one ticket without findings hides a missed problem, another is fine.
    sample = wb["Sample"]
    sample_header = [c.value for c in sample[1]]
    verdict, key = sample_header.index("Verdict") + 1, sample_header.index("Sample key") + 1
    sample.cell(2, verdict).value = "Missed problem"
    sample.cell(3, verdict).value = "Correct"
    decided["sample"] = {sample.cell(2, key).value: "missed", sample.cell(3, key).value: "correct"}
    wb.save(workbook)
    decided["rules"] = (false_positive_rule, confirmed_rule)
    return decided


def _plant_blank_resolutions(api: Api, findings: pd.DataFrame, count: int = 2) -> set[str]:
    """Blank the resolution of ``count`` tickets closed in the period that pass CLO-01 today, as a
    technician closing tickets carelessly would; returns the CLO-01 finding keys that creates."""
    tenant = api.tenant
    status = next(f for f in tenant.fields["Tickets"] if f["name"] == "status")
    complete = next(int(p["value"]) for p in status["picklistValues"] if p["label"] == "Complete")
    failing = set(findings.loc[findings["rule_id"] == "CLO-01", "ticket_id"])
    planted: set[str] = set()
    for ticket in tenant.records["Tickets"]:
        completed = pd.Timestamp(ticket["completedDate"]) if ticket.get("completedDate") else None
        if completed is not None and completed.tzinfo is None:  # the API writes some instants without a zone
            completed = completed.tz_localize("UTC")
        if (
            ticket["status"] != complete
            or completed is None
            or not PERIOD[0] <= completed < PERIOD[1]
            or not (ticket.get("resolution") or "").strip()
            or str(ticket["id"]) in failing
        ):
            continue
        ticket["resolution"] = ""
        ticket["lastActivityDate"] = "2026-11-23T05:50:00.000Z"  # changed since the last night's run
        planted.add(f"CLO-01|ticket|{ticket['id']}")
        if len(planted) == count:
            break
    assert len(planted) == count
    api.emulator.refresh()
    return planted


def _pdf_text(path: Path) -> str:
    return "\n".join(page_texts(path))


@pytest.mark.slow
def test_review_loop_waivers_precision_and_baseline(api: Api, tmp_path: Path) -> None:
    config, waivers, store = tmp_path / "ticket-audit.toml", tmp_path / "waivers.yaml", tmp_path / "store"
    config.write_text(CONFIG, encoding="utf-8")
    night = ("run", "--config", config, "--store", store, "--as-of", AS_OF)

    # 1. The nightly run: the rule's threshold is missed -> exit 1; a first baseline is recorded.
    first = ticket_audit(
        *night,
        "--out",
        tmp_path / "night1",
        "--write-baseline",
        tmp_path / "baseline1.json",
        cwd=tmp_path,
        env=api.env,
    )
    assert first.returncode == 1, (first.stdout, first.stderr)
    assert f"rule {WAIVED_RULE}" in first.stderr
    before = _findings(tmp_path / "night1")
    assert (before["waived"] == "false").all()
    to_waive = before[before["rule_id"] == WAIVED_RULE]
    assert len(to_waive) >= 2

    # 2. QA review: verdicts in the workbook, rows deleted and re-ordered; then the import.
    workbook = tmp_path / "night1" / "qa-review.xlsx"
    decided = _review(workbook)
    assert set(decided["waived"]) == _keys(to_waive)
    review = (
        "review",
        "import",
        workbook,
        "--config",
        config,
        "--store",
        store,
        "--waivers",
        waivers,
        "--reviewer",
        REVIEWER,
    )
    imported = ticket_audit(*review, cwd=tmp_path)
    assert imported.returncode == 0, (imported.stdout, imported.stderr)
    assert f"waivers: {len(to_waive)} added" in imported.stdout
    granted = yaml.safe_load(waivers.read_text(encoding="utf-8"))["waivers"]
    assert sorted(w["ticket"] for w in granted) == sorted(to_waive["ticket_number"])
    assert all(w["approved_by"] == REVIEWER and w["rule"] == WAIVED_RULE for w in granted)
    verdicts = json.loads((store / "reviews" / "verdicts.json").read_text())["verdicts"]
    reviewed = {k for name in ("waived", "false_positive", "confirmed") for k in decided[name]}
    assert set(verdicts) == reviewed  # deleted (unreviewed) rows are simply not there

    # 3. The next run, with the waivers: waived findings pass, the gate passes, precision shows.
    second = ticket_audit(
        *night,
        "--no-extract",
        "--waivers",
        waivers,
        "--out",
        tmp_path / "night2",
        "--baseline",
        tmp_path / "baseline1.json",
        "--write-baseline",
        tmp_path / "baseline2.json",
        cwd=tmp_path,
    )
    assert second.returncode == 0, (second.stdout, second.stderr)
    after = _findings(tmp_path / "night2")
    assert _keys(after) == _keys(before)  # the same findings, now some of them waived
    # A false positive counts like a waived finding (waived) and is named so (false_positive).
    assert _keys(after[(after["waived"] == "true") & (after["false_positive"] == "false")]) == set(
        decided["waived"]
    )
    assert _keys(after[after["false_positive"] == "true"]) == set(decided["false_positive"])
    summary = json.loads((tmp_path / "night2" / "summary.json").read_text())
    rule = summary["rules"][WAIVED_RULE]
    assert (rule["failed"], rule["waived"], rule["score"]) == (0, len(to_waive), 100.0)
    assert summary["overall"]["waived"] == len(to_waive)
    false_positive_rule, confirmed_rule = decided["rules"]
    precision = summary["precision"]
    assert precision[false_positive_rule]["false_positive"] == len(decided["false_positive"])
    assert precision[false_positive_rule]["precision"] == 0.0
    assert precision[confirmed_rule]["confirmed"] == len(decided["confirmed"])
    assert precision[confirmed_rule]["precision"] == 1.0
    assert precision[WAIVED_RULE]["waived"] == len(to_waive)
    assert precision[WAIVED_RULE]["precision"] is None
    pdf = _pdf_text(tmp_path / "night2" / "scorecards.pdf")
    table = pdf[pdf.index("Rule precision from QA review") :]
    # Columns: Confirmed, False positive, Confirmed + FP, Waived, Precision (titles may wrap in between).
    n_fp, n_ok = len(decided["false_positive"]), len(decided["confirmed"])
    # Digit look-arounds, not \b: pypdf may drop the space between two cells.
    assert re.search(rf"{false_positive_rule}(?!\d).*?(?<!\d)0 {n_fp} {n_fp} 0 0 %", table, re.S), table[:800]
    assert re.search(rf"{confirmed_rule}(?!\d).*?(?<!\d){n_ok} 0 {n_ok} 0 100 %", table, re.S), table[:800]
    assert "waived findings are accepted" in " ".join(table.split()).lower()

    # 3b. The new workbook comes pre-filled with the recorded verdicts (matched by finding key).
    reopened = load_workbook(tmp_path / "night2" / "qa-review.xlsx", read_only=True)
    rows = list(reopened["Findings"].iter_rows(values_only=True))
    head = list(rows[0])
    assert head[:7] == ["Ticket", "Rule", "Message", "Verdict", "Comment", "Reviewer", "Reviewed at"]
    shown = {r[head.index("Finding key")]: r for r in rows[1:]}
    expected = {"waived": "Waived", "false_positive": "False positive", "confirmed": "Confirmed"}
    for name, text in expected.items():
        for key in decided[name]:
            assert (
                shown[key][head.index("Verdict")] == text and shown[key][head.index("Reviewer")] == REVIEWER
            )
            assert shown[key][head.index("Reviewed at")] is not None
    assert {shown[k][head.index("Waived")] for k in decided["false_positive"]} == {"false positive"}
    reopened.close()
    # A false positive no longer lowers its technician's score; the rule's precision dropped to 0.
    first_summary = json.loads((tmp_path / "night1" / "summary.json").read_text())
    fp_techs = {
        str(int(float(t)))
        for t in before[
            before.apply(
                lambda r: f"{r['rule_id']}|{r['row_kind']}|{r['row_id']}" in decided["false_positive"], axis=1
            )
        ]["technician_id"]
        if t
    }
    by_key = {e["key"]: e for e in summary["technicians"]}
    for tech in fp_techs:
        then = next(e for e in first_summary["technicians"] if e["key"] == tech)
        assert by_key[tech]["score"] > then["score"] and by_key[tech]["false_positive"] >= 1
    assert summary["rules"][false_positive_rule]["false_positive"] == len(decided["false_positive"])
    # The Sample answer "Missed problem" lowers the step's estimated recall below 100 %.
    steps = {key.split("|")[0] for key in decided["sample"]}
    for step in steps:
        recall = summary["recall"][step]
        assert recall["answered"] >= 1 and recall["missed"] >= 1 and recall["recall"] < 1.0
    assert "Estimated recall per step" in pdf

    # 4. Importing the same workbook again changes nothing.
    state = {p: p.read_bytes() for p in (waivers, store / "reviews" / "verdicts.json")}
    again = ticket_audit(*review, cwd=tmp_path)
    assert again.returncode == 0, (again.stdout, again.stderr)
    assert "waivers: 0 added" in again.stdout and "0 added, 0 updated" in again.stdout
    assert {p: p.read_bytes() for p in state} == state

    # 5. A later night: new violations in the tenant -> the baseline names them, exit 1.
    planted = _plant_blank_resolutions(api, after)
    third = ticket_audit(
        *night,
        "--waivers",
        waivers,
        "--out",
        tmp_path / "night3",
        "--baseline",
        tmp_path / "baseline2.json",
        cwd=tmp_path,
        env=api.env,
    )
    assert third.returncode == 1, (third.stdout, third.stderr)
    output = third.stdout + third.stderr
    assert f"{len(planted)} finding(s) new since the baseline" in output
    night3 = _findings(tmp_path / "night3")
    numbers = {
        f"{r}|{k}|{i}": n
        for r, k, i, n in zip(
            night3["rule_id"], night3["row_kind"], night3["row_id"], night3["ticket_number"], strict=True
        )
    }
    for key in planted:
        rule_id, kind, row_id = key.split("|")
        assert f"{numbers[key]}: {rule_id} {kind} {row_id}" in output, output  # by ticket number
    gate = json.loads((tmp_path / "night3" / "gate.json").read_text())
    new = next(r for r in gate["results"] if r["key"] == "new-findings")
    assert not new["passed"] and len(new["details"]) == len(planted)
    latest = _findings(tmp_path / "night3")
    assert _keys(latest) - _keys(after) == planted
    still = latest[(latest["waived"] == "true") & (latest["false_positive"] == "false")]
    assert _keys(still) == set(decided["waived"])  # still waived
