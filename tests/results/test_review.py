"""The QA review loop: verdicts from qa-review.xlsx → waivers and the verdicts store."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner
from openpyxl import Workbook, load_workbook

from audit.cli import cli
from audit.core.config import Config
from audit.core.errors import ConfigError
from audit.core.period import Period
from audit.render.workbook import write_workbook
from audit.results.review import import_review
from audit.results.scoring import score
from audit.results.verdicts import load_verdicts, rule_precision, verdicts_path
from audit.results.waivers import load_waivers, mark_waived
from audit.sandbox.synthetic import SyntheticRule

AS_OF = datetime(2026, 11, 24, 7, 30, tzinfo=UTC)


@dataclass
class _Evaluation:
    findings: pd.DataFrame
    tallies: pd.DataFrame
    rules: dict[str, SyntheticRule]
    ruleset_version: str = "rules-2026.11"
    tenant_name: str = "Acme IT"


def _finding(rule: str, ticket: int, *, kind: str = "ticket", row_id: int | None = None) -> dict[str, Any]:
    return {
        "rule_id": rule,
        "rule_name": rule,
        "step": "closure" if rule.startswith("CLO") else "worklog",
        "severity": "critical" if rule.startswith("CLO") else "major",
        "weight": 5.0 if rule.startswith("CLO") else 3.0,
        "ticket_id": ticket,
        "ticket_number": f"T20261117.{ticket:04d}",
        "row_kind": kind,
        "row_id": ticket if row_id is None else row_id,
        "technician_id": 1,
        "technician": "Ann Lee",
        "queue_id": 10,
        "queue": "N1 - Service Desk",
        "anchor_date": pd.Timestamp("2026-11-17T10:00:00Z"),
        "week": "2026-W47",
        "message": "resolution is blank",
        "waived": False,
        "ticket_url": f"https://ww.example.test/{ticket}",
    }


@pytest.fixture(scope="module")
def run() -> tuple[dict[str, Any], pd.DataFrame]:
    findings = pd.DataFrame(
        [_finding("CLO-01", t) for t in (100, 101, 102, 103, 104)]
        + [_finding("LOG-06", 105, kind="time_entry", row_id=r) for r in (9001, 9002)]
    )
    tallies = pd.DataFrame(
        [
            {
                "rule_id": "CLO-01",
                "step": "closure",
                "severity": "critical",
                "weight": 5.0,
                "technician_id": 1,
                "technician": "Ann Lee",
                "queue_id": 10,
                "queue": "N1 - Service Desk",
                "week": "2026-W47",
                "applicable": 40,
                "passed": 35,
                "failed": 5,
            },
            {
                "rule_id": "LOG-06",
                "step": "worklog",
                "severity": "major",
                "weight": 3.0,
                "technician_id": 1,
                "technician": "Ann Lee",
                "queue_id": 10,
                "queue": "N1 - Service Desk",
                "week": "2026-W47",
                "applicable": 30,
                "passed": 28,
                "failed": 2,
            },
        ]
    )
    rules = {
        "CLO-01": SyntheticRule(
            "measured", "Resolution filled", "closure", "critical", rationale="", name=""
        ),
        "LOG-06": SyntheticRule("measured", "Actionable summary", "worklog", "major", rationale="", name=""),
    }
    summary = score(
        _Evaluation(findings, tallies, rules), Config(), Period.from_week("2026-W47"), as_of=AS_OF
    )
    return dict(summary), findings


@pytest.fixture
def workbook(tmp_path: Path, run: tuple[dict[str, Any], pd.DataFrame]) -> Path:
    summary, findings = run
    return write_workbook(summary, findings, tmp_path / "qa-review.xlsx")


def review(
    source: Path,
    target: Path,
    verdicts: dict[str, tuple[str, str]],
    *,
    shuffle: bool = False,
    delete: tuple[str, ...] = (),
    hide: tuple[str, ...] = (),
    edit: dict[str, dict[str, Any]] | None = None,
    modified_by: str | None = "Jane QA",
) -> Path:
    """Play the reviewer: fill Verdict/Comment by finding key, then sort, filter, delete, edit rows."""
    wb = load_workbook(source)
    ws = wb["Findings"]
    headers = [c.value for c in ws[1]]
    col = {h: i for i, h in enumerate(headers)}
    rows = [list(r) for r in ws.iter_rows(min_row=2, values_only=True)]
    for row in rows:
        key = row[col["Finding key"]]
        if key in verdicts:
            row[col["Verdict"]], row[col["Comment"]] = verdicts[key]
        for header, value in (edit or {}).get(key, {}).items():
            row[col[header]] = value
    rows = [r for r in rows if r[col["Finding key"]] not in delete]
    if shuffle:
        random.Random(4).shuffle(rows)
        rows.reverse()
    ws.delete_rows(2, ws.max_row)
    for number, row in enumerate(rows, start=2):
        for index, value in enumerate(row, start=1):
            ws.cell(row=number, column=index, value=value)
        if row[col["Finding key"]] in hide:  # an autofilter hides rows; they are still in the sheet
            ws.row_dimensions[number].hidden = True
    wb.properties.lastModifiedBy = modified_by
    wb.save(target)
    return target


def do_import(path: Path, tmp: Path, **options: Any) -> Any:
    kwargs: dict[str, Any] = {
        "waivers_path": tmp / "waivers.yaml",
        "verdicts_path": verdicts_path(tmp / "store"),
        "expected_tenant": "Acme IT",
        "expected_ruleset_version": "rules-2026.11",
        "default_expiry_days": 90,
        "as_of": AS_OF,
    }
    kwargs.update(options)
    return import_review(path, **kwargs)


VERDICTS = {
    "CLO-01|ticket|100": ("Confirmed", "really blank"),
    "CLO-01|ticket|101": ("False positive", "resolution is in the last note"),
    "CLO-01|ticket|102": ("Confirmed", ""),
    "LOG-06|time_entry|9001": ("Waived", "Warranty swap, vendor logged the work"),
}


# ------------------------------------------------------------------------------------------ import


def test_import_writes_waivers_and_verdicts(
    tmp_path: Path, workbook: Path, run: tuple[dict[str, Any], pd.DataFrame]
) -> None:
    reviewed = review(workbook, tmp_path / "reviewed.xlsx", VERDICTS)
    report = do_import(reviewed, tmp_path)
    assert report.reviewed_rows == 4
    assert report.counts == {"confirmed": 2, "false_positive": 1, "waived": 1}
    assert (report.waivers_added, report.verdicts_added) == (1, 4)
    assert report.tenant == "Acme IT" and report.ruleset_version == "rules-2026.11"

    [waiver] = load_waivers(tmp_path / "waivers.yaml").waivers
    assert (waiver.rule, waiver.row_kind, str(waiver.row_id), waiver.ticket) == (
        "LOG-06",
        "time_entry",
        "9001",
        "T20261117.0105",
    )
    assert waiver.reason == "Warranty swap, vendor logged the work"
    assert waiver.approved_by == "Jane QA"
    assert waiver.expires == date(2027, 2, 22) and waiver.created == date(2026, 11, 24)

    stored = load_verdicts(verdicts_path(tmp_path / "store"))
    assert sorted(stored) == sorted(VERDICTS)
    record = stored["CLO-01|ticket|101"]
    assert record["verdict"] == "false_positive" and record["reviewer"] == "Jane QA"
    assert record["comment"] == "resolution is in the last note"
    assert record["imported_at"] == "2026-11-24T07:30:00Z"

    # The loop closes: the next run's findings come out waived for exactly that time entry.
    _, findings = run
    out, waiver_report = mark_waived(findings, load_waivers(tmp_path / "waivers.yaml"), as_of=AS_OF)
    assert out.loc[out["waived"], "row_id"].tolist() == [9001]
    assert waiver_report.unmatched == []


def test_reordered_filtered_deleted_and_edited_rows_import_the_same(tmp_path: Path, workbook: Path) -> None:
    plain = review(workbook, tmp_path / "plain.xlsx", VERDICTS)
    messy = review(
        workbook,
        tmp_path / "messy.xlsx",
        VERDICTS,
        shuffle=True,
        delete=("CLO-01|ticket|103", "LOG-06|time_entry|9002"),  # rows without verdict deleted
        hide=("CLO-01|ticket|100",),  # filtered out of view but still reviewed
        edit={
            "CLO-01|ticket|101": {
                "Message": "edited by QA",
                "Technician": "someone else",
                "Ticket title": "x",
            }
        },
    )
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    do_import(plain, tmp_path / "a")
    do_import(messy, tmp_path / "b")
    for name in ("waivers.yaml", "store/reviews/verdicts.json"):
        a = (tmp_path / "a" / name).read_text().replace("plain.xlsx", "X")
        b = (tmp_path / "b" / name).read_text().replace("messy.xlsx", "X")
        assert a == b, name


def test_partial_workbook_leaves_other_verdicts_alone(tmp_path: Path, workbook: Path) -> None:
    do_import(review(workbook, tmp_path / "one.xlsx", VERDICTS), tmp_path)
    # A second reviewer kept only two rows, reviewed one of them.
    two = review(
        workbook,
        tmp_path / "two.xlsx",
        {"CLO-01|ticket|104": ("Confirmed", "")},
        delete=(*VERDICTS, "CLO-01|ticket|103"),
        modified_by="Sam QA",
    )
    report = do_import(two, tmp_path)
    assert (report.verdicts_added, report.verdicts_updated) == (1, 0)
    stored = load_verdicts(verdicts_path(tmp_path / "store"))
    assert len(stored) == 5 and stored["CLO-01|ticket|104"]["reviewer"] == "Sam QA"


def test_double_import_is_idempotent(tmp_path: Path, workbook: Path) -> None:
    reviewed = review(workbook, tmp_path / "reviewed.xlsx", VERDICTS)
    do_import(reviewed, tmp_path)
    waivers_text = (tmp_path / "waivers.yaml").read_text()
    verdicts_text = verdicts_path(tmp_path / "store").read_text()
    later = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    report = do_import(reviewed, tmp_path, as_of=later)
    assert (report.waivers_added, report.waivers_skipped) == (0, 1)
    assert (report.verdicts_added, report.verdicts_updated, report.verdicts_unchanged) == (0, 0, 4)
    assert (tmp_path / "waivers.yaml").read_text() == waivers_text
    assert verdicts_path(tmp_path / "store").read_text() == verdicts_text


def test_changed_verdict_replaces_and_keeps_history(tmp_path: Path, workbook: Path) -> None:
    do_import(review(workbook, tmp_path / "r1.xlsx", VERDICTS), tmp_path)
    changed = {**VERDICTS, "CLO-01|ticket|100": ("False positive", "the note counts after all")}
    report = do_import(
        review(workbook, tmp_path / "r2.xlsx", changed), tmp_path, as_of=datetime(2026, 11, 26, tzinfo=UTC)
    )
    assert (report.verdicts_added, report.verdicts_updated, report.verdicts_unchanged) == (0, 1, 3)
    record = load_verdicts(verdicts_path(tmp_path / "store"))["CLO-01|ticket|100"]
    assert record["verdict"] == "false_positive"
    assert record["history"] == [
        {
            "verdict": "confirmed",
            "comment": "really blank",
            "reviewer": "Jane QA",
            "workbook": "r1.xlsx",
            "imported_at": "2026-11-24T07:30:00Z",
        }
    ]


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"expected_tenant": "Globex"}, "tenant 'Acme IT'"),
        ({"expected_ruleset_version": "rules-2027.01"}, "rule-set version 'rules-2026.11'"),
    ],
)
def test_foreign_tenant_or_ruleset_is_refused(
    tmp_path: Path, workbook: Path, options: dict[str, Any], fragment: str
) -> None:
    reviewed = review(workbook, tmp_path / "reviewed.xlsx", VERDICTS)
    with pytest.raises(ConfigError) as info:
        do_import(reviewed, tmp_path, **options)
    assert fragment in str(info.value) and "refusing" in str(info.value)
    assert info.value.exit_code == 2
    assert not (tmp_path / "waivers.yaml").exists() and not verdicts_path(tmp_path / "store").exists()


def test_tenant_id_identifies_and_unknown_identity_is_refused(
    tmp_path: Path, run: tuple[dict[str, Any], pd.DataFrame]
) -> None:
    summary, findings = run
    with_id = {**summary, "tenant": {**summary["tenant"], "id": "29683521"}}
    path = write_workbook(with_id, findings, tmp_path / "id.xlsx")
    # The id decides: the store's display name may differ (renamed in the config) and still match.
    do_import(
        review(path, tmp_path / "id-reviewed.xlsx", VERDICTS),
        tmp_path,
        expected_tenant="Acme Renamed",
        expected_tenant_id="29683521",
    )
    anonymous = {**summary, "tenant": {**summary["tenant"], "ruleset_version": None}}
    path = write_workbook(anonymous, findings, tmp_path / "anon.xlsx")
    with pytest.raises(ConfigError, match="does not say which rule-set version"):
        do_import(review(path, tmp_path / "anon-reviewed.xlsx", VERDICTS), tmp_path)


def test_another_tenant_with_the_same_display_name_is_refused_by_id(
    tmp_path: Path, run: tuple[dict[str, Any], pd.DataFrame]
) -> None:
    """Both tenants are "Sandbox" on the reports; only the tenant id tells them apart."""
    summary, findings = run
    other = {**summary, "tenant": {**summary["tenant"], "name": "Sandbox", "id": "webservices14"}}
    path = review(
        write_workbook(other, findings, tmp_path / "other.xlsx"), tmp_path / "other-reviewed.xlsx", VERDICTS
    )
    with pytest.raises(ConfigError) as info:
        do_import(path, tmp_path, expected_tenant="Sandbox", expected_tenant_id="webservices2")
    assert "tenant id 'webservices14'" in str(info.value) and "'webservices2'" in str(info.value)
    assert "refusing to import" in str(info.value) and info.value.exit_code == 2
    assert not (tmp_path / "waivers.yaml").exists() and not verdicts_path(tmp_path / "store").exists()


def test_a_workbook_without_a_tenant_id_falls_back_to_the_name(tmp_path: Path, workbook: Path) -> None:
    reviewed = review(workbook, tmp_path / "reviewed.xlsx", VERDICTS)  # written without an id
    with pytest.raises(ConfigError, match="tenant 'Acme IT', this store audits 'Globex'"):
        do_import(reviewed, tmp_path, expected_tenant="Globex", expected_tenant_id="webservices2")
    with pytest.raises(ConfigError, match="does not carry a tenant id"):
        do_import(reviewed, tmp_path, expected_tenant=None, expected_tenant_id="webservices2")
    do_import(reviewed, tmp_path, expected_tenant="Acme IT", expected_tenant_id="webservices2")


def test_rows_about_tickets_not_in_the_store_are_skipped(tmp_path: Path, workbook: Path) -> None:
    reviewed = review(workbook, tmp_path / "reviewed.xlsx", VERDICTS)
    # Ticket 102 is not in the store; the time entry 9001 belongs to ticket 105, which is.
    report = do_import(reviewed, tmp_path, known_tickets={100, 101, 103, 104, 105})
    assert report.skipped == ["CLO-01|ticket|102"]
    assert report.reviewed_rows == 3 and report.verdicts_added == 3
    assert any(
        "skipped 1 reviewed finding(s) whose ticket is not in the store: CLO-01|ticket|102" in line
        for line in report.lines()
    )
    stored = load_verdicts(verdicts_path(tmp_path / "store"))
    assert set(stored) == {"CLO-01|ticket|100", "CLO-01|ticket|101", "LOG-06|time_entry|9001"}
    assert rule_precision(stored)["CLO-01"] == {
        "confirmed": 1,
        "false_positive": 1,
        "waived": 0,
        "reviewed": 2,
        "precision": 0.5,
    }
    # Ticket 105 gone too: the time entry's row is skipped by its Ticket ID column.
    again = do_import(
        reviewed,
        tmp_path / "again",
        known_tickets={100, 101},
        verdicts_path=verdicts_path(tmp_path / "again" / "store"),
    )
    assert sorted(again.skipped) == ["CLO-01|ticket|102", "LOG-06|time_entry|9001"]


def _snapshot(path: Path, *, zone: str, tickets: list[int]) -> Path:
    """A published snapshot of tenant ``zone`` holding ``tickets`` (enough for review import)."""
    from audit.source.records import records_to_frame
    from audit.source.schema import ENTITIES
    from audit.store.snapshot import Store

    store = Store(path)
    with store.lock():
        staging = store.begin()
        staging.write("Tickets", records_to_frame(ENTITIES["Tickets"], [{"id": t} for t in tickets]))
        staging.set_zone(zone, f"https://{zone}.example.test/")
        staging.set_ruleset_version("rules-2026.11")
        staging.publish(as_of=AS_OF, fetched={}, requests=0)
    return path


def test_cli_review_import_compares_the_store_tenant_id_and_skips_unknown_tickets(
    tmp_path: Path, run: tuple[dict[str, Any], pd.DataFrame]
) -> None:
    summary, findings = run
    workbook = write_workbook(
        {**summary, "tenant": {**summary["tenant"], "name": "Sandbox", "id": "webservices14"}},
        findings,
        tmp_path / "qa-review.xlsx",
    )
    reviewed = review(workbook, tmp_path / "reviewed.xlsx", VERDICTS)
    args = ["review", "import", str(reviewed), "--waivers", str(tmp_path / "w.yaml"), "--as-of", "2026-11-24"]

    other = _snapshot(tmp_path / "other", zone="webservices2", tickets=[100, 101, 102, 105])
    refused = CliRunner().invoke(cli, [*args, "--store", str(other)])
    assert refused.exit_code == 2, refused.output
    assert "tenant id 'webservices14'" in refused.output and "refusing to import" in refused.output
    assert not verdicts_path(other).exists()

    mine = _snapshot(tmp_path / "mine", zone="webservices14", tickets=[100, 101, 105])
    accepted = CliRunner().invoke(cli, [*args, "--store", str(mine)])
    assert accepted.exit_code == 0, accepted.output
    assert (
        "skipped 1 reviewed finding(s) whose ticket is not in the store: CLO-01|ticket|102" in accepted.output
    )
    assert set(load_verdicts(verdicts_path(mine))) == {
        "CLO-01|ticket|100",
        "CLO-01|ticket|101",
        "LOG-06|time_entry|9001",
    }
    assert {v["tenant_id"] for v in load_verdicts(verdicts_path(mine)).values()} == {"webservices14"}


@pytest.mark.parametrize(
    ("verdicts", "options", "fragment"),
    [
        ({"CLO-01|ticket|100": ("Wavied", "x")}, {}, "unknown verdict 'Wavied'"),
        ({"CLO-01|ticket|100": ("Waived", "")}, {}, "needs a Comment"),
    ],
)
def test_bad_rows_are_refused_naming_the_cell(
    tmp_path: Path,
    workbook: Path,
    verdicts: dict[str, tuple[str, str]],
    options: dict[str, Any],
    fragment: str,
) -> None:
    reviewed = review(workbook, tmp_path / "reviewed.xlsx", verdicts)
    with pytest.raises(ConfigError) as info:
        do_import(reviewed, tmp_path, **options)
    assert fragment in str(info.value) and "Findings!D" in str(info.value)


def test_reviewer_from_option_when_the_workbook_does_not_say(tmp_path: Path, workbook: Path) -> None:
    reviewed = review(workbook, tmp_path / "reviewed.xlsx", VERDICTS, modified_by=None)
    with pytest.raises(ConfigError, match="--reviewer"):
        do_import(reviewed, tmp_path)
    do_import(reviewed, tmp_path, reviewer="Lee QA")
    assert {r["reviewer"] for r in load_verdicts(verdicts_path(tmp_path / "store")).values()} == {"Lee QA"}


def _hand_made_workbook(findings_header: list[str]) -> tuple[Workbook, Any]:
    """A QA workbook written without the renderer: the Summary identity cells and a Findings header."""
    wb = Workbook()
    summary = wb.active
    assert summary is not None
    summary.title = "Summary"
    summary.append(["Tenant", "Acme IT"])
    summary.append(["Rule-set version", "rules-2026.11"])
    ws = wb.create_sheet("Findings")
    ws.append(findings_header)
    return wb, ws


def test_minimal_workbook_with_split_key_and_reviewer_column(tmp_path: Path) -> None:
    """The contract without the renderer: Summary cells for identity, Rule ID/Row kind/Row ID, Reviewer."""
    wb, ws = _hand_made_workbook(["Verdict", "Row ID", "Rule ID", "Row kind", "Comment", "Reviewer"])
    ws.append(["confirmed", 100.0, "clo-01", "Ticket", None, "Kim"])
    ws.append([None, 101, "CLO-01", "ticket", None, None])
    ws.append(["FP", "9002", "LOG-06", "Time entry", "summary fine", None])
    path = tmp_path / "mini.xlsx"
    wb.save(path)
    report = do_import(path, tmp_path, reviewer="Default QA")
    assert report.reviewed_rows == 2
    stored = load_verdicts(verdicts_path(tmp_path / "store"))
    assert stored["CLO-01|ticket|100"]["reviewer"] == "Kim"
    assert stored["LOG-06|time_entry|9002"]["reviewer"] == "Default QA"


def test_not_a_qa_workbook(tmp_path: Path) -> None:
    junk = tmp_path / "junk.xlsx"
    junk.write_text("not a zip")
    with pytest.raises(ConfigError, match=r"not a readable \.xlsx"):
        do_import(junk, tmp_path)
    wb = Workbook()
    wb.save(tmp_path / "empty.xlsx")
    with pytest.raises(ConfigError, match="no 'Findings' sheet"):
        do_import(tmp_path / "empty.xlsx", tmp_path)


# --------------------------------------------------------------------------------------- precision


def test_rule_precision() -> None:
    records = [
        {"rule_id": "CLO-01", "verdict": "confirmed"},
        {"rule_id": "CLO-01", "verdict": "confirmed"},
        {"rule_id": "CLO-01", "verdict": "false_positive"},
        {"rule_id": "CLO-01", "verdict": "waived"},
        {"rule_id": "LOG-06", "verdict": "waived"},
    ]
    precision = rule_precision(records)
    assert precision["CLO-01"] == {
        "confirmed": 2,
        "false_positive": 1,
        "waived": 1,
        "reviewed": 3,
        "precision": 0.6667,
    }
    assert precision["LOG-06"]["precision"] is None and precision["LOG-06"]["reviewed"] == 0
    assert rule_precision({"k": records[0]}) == rule_precision(pd.DataFrame(records[:1]))


def test_precision_from_an_imported_store(tmp_path: Path, workbook: Path) -> None:
    do_import(review(workbook, tmp_path / "r.xlsx", VERDICTS), tmp_path)
    precision = rule_precision(load_verdicts(verdicts_path(tmp_path / "store")))
    assert precision["CLO-01"]["precision"] == 0.6667 and precision["LOG-06"]["waived"] == 1


# ------------------------------------------------------------------------------------------- CLI


def test_cli_review_import(tmp_path: Path, workbook: Path) -> None:
    reviewed = review(workbook, tmp_path / "reviewed.xlsx", VERDICTS)
    (tmp_path / "store").mkdir()
    config = tmp_path / "c.toml"
    config.write_text(
        f'[report]\ntenant_name = "Acme IT"\n\n[waivers]\nfile = "{tmp_path / "w.toml"}"\n'
        "default_expiry_days = 30\n"
    )
    args = [
        "review",
        "import",
        str(reviewed),
        "--store",
        str(tmp_path / "store"),
        "--config",
        str(config),
        "--as-of",
        "2026-11-24T08:00:00Z",
        "--ruleset-version",
        "rules-2026.11",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "waivers: 1 added" in result.output and "verdicts: 4 added" in result.output
    [waiver] = load_waivers(tmp_path / "w.toml").waivers
    assert waiver.expires == date(2026, 12, 24)
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0 and "waivers: 0 added, 1 already present" in again.output
    assert len(json.loads(verdicts_path(tmp_path / "store").read_text())["verdicts"]) == 4

    foreign = CliRunner().invoke(cli, [*args, "--tenant", "Globex"])
    assert foreign.exit_code == 2 and "refusing to import" in foreign.output
    other_rules = CliRunner().invoke(cli, [*args, "--ruleset-version", "rules-2027.01"])
    assert other_rules.exit_code == 2 and "rule-set version" in other_rules.output


def test_cell_named_in_errors_counts_empty_rows(tmp_path: Path) -> None:
    wb, ws = _hand_made_workbook(["Verdict", "Finding key"])
    ws.append(["Confirmed", "CLO-01|ticket|1"])
    ws.cell(row=6, column=1, value="Maybe")
    ws.cell(row=6, column=2, value="CLO-01|ticket|2")
    path = tmp_path / "gaps.xlsx"
    wb.save(path)
    with pytest.raises(ConfigError, match=r"Findings!A6: unknown verdict 'Maybe'"):
        do_import(path, tmp_path, reviewer="QA")


def test_cli_review_import_checks_the_current_rules_by_default(tmp_path: Path, workbook: Path) -> None:
    reviewed = review(workbook, tmp_path / "reviewed.xlsx", VERDICTS)
    (tmp_path / "store").mkdir()
    config = tmp_path / "c.toml"
    config.write_text('[report]\ntenant_name = "Acme IT"\n')
    args = [
        "review",
        "import",
        str(reviewed),
        "--store",
        str(tmp_path / "store"),
        "--config",
        str(config),
        "--waivers",
        str(tmp_path / "w.yaml"),
    ]
    # The fixture's workbook was made by rule set "rules-2026.11", not by the bundled rules.
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code == 2 and "rule-set version 'rules-2026.11'" in refused.output
    accepted = CliRunner().invoke(cli, [*args, "--ruleset-version", "any"])
    assert accepted.exit_code == 0, accepted.output


def test_noisy_rules_are_flagged_in_the_summary_and_the_workbook(
    tmp_path: Path, run: tuple[dict[str, Any], pd.DataFrame]
) -> None:
    from audit.results.verdicts import flag_noisy

    records = [
        {"rule_id": "CLO-01", "verdict": "false_positive" if i < 2 else "confirmed"} for i in range(10)
    ]
    records += [{"rule_id": "LOG-06", "verdict": "false_positive"} for _ in range(9)]  # 9 verdicts: too few
    precision = rule_precision(records)
    assert flag_noisy(precision, below=90.0, min_verdicts=10) == ["CLO-01"]  # 80 % over 10 verdicts
    assert precision["CLO-01"]["noisy"] and not precision["LOG-06"]["noisy"]
    summary, findings = run
    summary = {**summary, "precision": precision, "noisy_rules": ["CLO-01"]}
    path = write_workbook(summary, findings, tmp_path / "noisy.xlsx")
    sheet = load_workbook(path)["Rules"]
    header = [c.value for c in sheet[1]]
    rows = {r[0]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert (
        rows["CLO-01"][header.index("Noisy")] == "noisy" and rows["CLO-01"][header.index("Precision")] == 0.8
    )
    assert rows["LOG-06"][header.index("Noisy")] is None
    labels = {r[0]: r[1] for r in load_workbook(path)["Summary"].iter_rows(values_only=True) if r and r[0]}
    assert labels["Noisy rules"] == "CLO-01"


def test_the_summary_labels_the_workbook_writes_are_the_ones_import_reads() -> None:
    from audit.results.qa_workbook import (
        PROPERTY_LABELS,
        RULESET_LABELS,
        RULESET_PROPERTY,
        TENANT_ID_LABELS,
        TENANT_ID_PROPERTY,
        TENANT_LABELS,
        TENANT_NAME_PROPERTY,
        normalise_header,
    )

    assert normalise_header(PROPERTY_LABELS[TENANT_NAME_PROPERTY]) in TENANT_LABELS
    assert normalise_header(PROPERTY_LABELS[TENANT_ID_PROPERTY]) in TENANT_ID_LABELS
    assert normalise_header(PROPERTY_LABELS[RULESET_PROPERTY]) in RULESET_LABELS
