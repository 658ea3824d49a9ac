"""Waivers: YAML/TOML files with file:line errors, matching filters, expiry, unmatched, appending."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from audit.cli import cli
from audit.core.errors import ConfigError
from audit.render.csv_out import write_findings_csv
from audit.results.waivers import Waiver, append_waivers, load_waivers, mark_waived, parse_waivers

AS_OF = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)


def finding(rule: str, ticket: int, **extra: Any) -> dict[str, Any]:
    row = {
        "rule_id": rule,
        "step": "closure",
        "severity": "critical",
        "weight": 5.0,
        "ticket_id": ticket,
        "ticket_number": f"T20261117.{ticket:04d}",
        "row_kind": "ticket",
        "row_id": ticket,
        "technician_id": 7,
        "technician": "Ann Lee",
        "queue_id": 10,
        "queue": "N1 - Service Desk",
        "week": "2026-W47",
        "message": "failed",
        "waived": False,
    }
    row.update(extra)
    return row


@pytest.fixture
def findings() -> pd.DataFrame:
    return pd.DataFrame(
        [
            finding("CLO-01", 1),
            finding("CLO-02", 1),
            finding("CLO-01", 2, technician_id=8, technician="Bob Roe", queue_id=11, queue="N2 - Support"),
            finding("LOG-06", 3, row_kind="time_entry", row_id=9001),
            finding("LOG-06", 3, row_kind="time_entry", row_id=9002),
        ]
    )


def waiver(**fields: Any) -> Waiver:
    base: dict[str, Any] = {
        "rule": "CLO-01",
        "reason": "accepted",
        "approved_by": "QA Lead",
        "expires": "2026-12-31",
    }
    base.update(fields)
    return Waiver.model_validate(base)


def waived_rows(frame: pd.DataFrame) -> list[tuple[str, int]]:
    return [(r, int(i)) for r, i in frame.loc[frame["waived"], ["rule_id", "row_id"]].itertuples(index=False)]


# ------------------------------------------------------------------------------------- loading


def test_yaml_mapping_and_list_forms_and_lines(tmp_path: Path) -> None:
    path = tmp_path / "waivers.yaml"
    path.write_text(
        "# approved exceptions\n"
        "waivers:\n"
        "  - rule: CLO-01\n"
        "    ticket: T20261117.0001\n"
        "    reason: Warranty swap\n"
        "    approved_by: Jane\n"
        "    expires: 2026-12-31\n"
        "  - rule: '*'\n"
        "    technician: Bob Roe\n"
        "    reason: On leave\n"
        "    approved_by: Jane\n"
        "    expires: 2026-12-31\n"
    )
    wf = load_waivers(path)
    assert [w.rule for w in wf.waivers] == ["CLO-01", "*"]
    assert wf.lines == (3, 8)
    assert wf.waivers[0].expires == date(2026, 12, 31)
    bare = tmp_path / "bare.yml"
    bare.write_text("- rule: clo-01\n  ticket: 12\n  reason: r\n  approved_by: a\n  expires: 2026-01-01\n")
    wf = load_waivers(bare)
    assert wf.waivers[0].rule == "CLO-01" and wf.waivers[0].ticket == 12 and wf.lines == (1,)
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing yet\n")
    assert load_waivers(empty).waivers == ()


def test_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "waivers.toml"
    path.write_text(
        '[[waivers]]\nrule = "CLO-01"\nticket = "T20261117.0001"\nreason = "r"\napproved_by = "a"\nexpires = 2026-12-31\n\n'
        '[[waivers]]\nrule = "*"\nqueue = "N2 - Support"\ntickets = [1, "T20261117.0002"]\nreason = "r"\n'
        'approved_by = "a"\nexpires = "2026-12-31"\n'
    )
    wf = load_waivers(path)
    assert len(wf.waivers) == 2 and wf.lines == (1, 8)
    assert wf.waivers[1].tickets == [1, "T20261117.0002"]


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        # missing reason: the entry's line
        (
            "waivers:\n  - rule: CLO-01\n    ticket: 1\n    approved_by: a\n    expires: 2026-12-31\n",
            2,
            "reason",
        ),
        # a bad date: the field's line
        (
            "waivers:\n  - rule: CLO-01\n    ticket: 1\n    reason: r\n    approved_by: a\n    expires: soon\n",
            6,
            "expires",
        ),
        # an unknown key
        (
            "- rule: CLO-01\n  ticket: 1\n  reason: r\n  approved_by: a\n  expires: 2026-12-31\n  tecnician: x\n",
            6,
            "unknown key",
        ),
        # no selector: a whole rule may not be waived
        (
            "- rule: CLO-01\n  reason: r\n  approved_by: a\n  expires: 2026-12-31\n",
            1,
            "may not waive a whole rule",
        ),
        # not a rule id
        (
            "- rule: CLOSE\n  ticket: 1\n  reason: r\n  approved_by: a\n  expires: 2026-12-31\n",
            1,
            "not a rule id",
        ),
        # YAML syntax
        ("waivers:\n  - rule: CLO-01\n   ticket: [1\n", 3, "invalid YAML"),
        # the second entry is the wrong one
        (
            "- rule: CLO-01\n  ticket: 1\n  reason: r\n  approved_by: a\n  expires: 2026-12-31\n"
            "- rule: CLO-02\n  ticket: 2\n  reason: '  '\n  approved_by: a\n  expires: 2026-12-31\n",
            8,
            "blank",
        ),
    ],
)
def test_invalid_yaml_names_file_and_line(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_waivers(path)
    assert info.value.file == str(path)
    assert info.value.line == line, str(info.value)
    assert fragment in str(info.value)
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        (
            '[[waivers]]\nrule = "CLO-01"\nticket = 1\nreason = "r"\napproved_by = "a"\nexpires = 2026-12-31\n\n'
            '[[waivers]]\nrule = "CLO-02"\nticket = 2\nreason = "r"\napproved_by = "a"\nexpires = "never"\n',
            13,
            "expires",
        ),
        ('[[waivers]]\nrule = "CLO-01"\nticket = 1\nreason = "r"\nexpires = 2026-12-31\n', 1, "approved_by"),
        ('[[waivers]]\nrule = "CLO-01"\nticket = \n', 3, "invalid TOML"),
    ],
)
def test_invalid_toml_names_file_and_line(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    path = tmp_path / "w.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_waivers(path)
    assert (info.value.file, info.value.line) == (str(path), line), str(info.value)
    assert fragment in str(info.value)


def test_unsupported_extension_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="yaml"):
        load_waivers(tmp_path / "w.json")
    with pytest.raises(ConfigError, match="cannot read"):
        load_waivers(tmp_path / "missing.yaml")


# ------------------------------------------------------------------------------------ applying


def test_ticket_by_number_or_id(findings: pd.DataFrame) -> None:
    out, report = mark_waived(
        findings, [waiver(ticket="T20261117.0001"), waiver(rule="CLO-01", ticket=2)], as_of=AS_OF
    )
    assert waived_rows(out) == [("CLO-01", 1), ("CLO-01", 2)]
    assert report.applied == {0: 1, 1: 1} and report.waived_findings == 2
    assert not findings["waived"].any()  # the input is not modified


def test_filters_technician_queue_tickets_rows(findings: pd.DataFrame) -> None:
    out, _ = mark_waived(findings, [waiver(rule="*", technician="bob roe")], as_of=AS_OF)
    assert waived_rows(out) == [("CLO-01", 2)]
    out, _ = mark_waived(findings, [waiver(rule="*", queue=10)], as_of=AS_OF)  # by queue id
    assert len(waived_rows(out)) == 4
    out, _ = mark_waived(findings, [waiver(rule="CLO-01", tickets=["T20261117.0001", 2])], as_of=AS_OF)
    assert waived_rows(out) == [("CLO-01", 1), ("CLO-01", 2)]
    out, _ = mark_waived(findings, [waiver(rule="LOG-06", row_kind="time_entry", row_id="9002")], as_of=AS_OF)
    assert out.loc[out["waived"], "row_id"].tolist() == [9002]
    # Every selector must match (AND): Ann's tickets in the N2 queue — there are none.
    out, report = mark_waived(
        findings, [waiver(rule="*", technician="Ann Lee", queue="N2 - Support")], as_of=AS_OF
    )
    assert not out["waived"].any() and len(report.unmatched) == 1


def test_expired_waivers_stop_applying_and_are_listed(findings: pd.DataFrame) -> None:
    waivers = [waiver(ticket=1, expires="2026-11-23"), waiver(ticket=2, expires="2026-11-24")]
    out, report = mark_waived(findings, waivers, as_of=AS_OF)
    assert waived_rows(out) == [("CLO-01", 2)]  # expiry day itself still applies
    assert [e["index"] for e in report.expired] == [0]
    assert report.expired[0]["expires"] == "2026-11-23"
    assert report.unmatched == []
    assert any("expired on 2026-11-23" in line for line in report.lines())


def test_unmatched_waivers_are_listed_with_their_line(findings: pd.DataFrame) -> None:
    wf = parse_waivers(
        "- rule: CLO-01\n  ticket: 999\n  reason: r\n  approved_by: a\n  expires: 2027-01-01\n",
        fmt="yaml",
        path="w.yaml",
    )
    out, report = mark_waived(findings, wf, as_of=AS_OF)
    assert not out["waived"].any()
    assert report.unmatched[0]["where"] == "w.yaml:1"
    assert report.as_dict()["applied"] == {"0": 0}
    json.dumps(report.as_dict())


def test_already_waived_findings_stay_waived_and_empty_findings_work(findings: pd.DataFrame) -> None:
    findings.loc[4, "waived"] = True
    out, report = mark_waived(findings, [waiver(ticket=1)], as_of=AS_OF)
    assert out["waived"].tolist() == [True, False, False, False, True]
    assert report.waived_findings == 1
    empty, report = mark_waived(findings.iloc[0:0], [waiver(ticket=1)], as_of=AS_OF)
    assert empty.empty and len(report.unmatched) == 1


def test_findings_read_back_from_csv_match(tmp_path: Path, findings: pd.DataFrame) -> None:
    write_findings_csv(findings, tmp_path / "findings.csv")
    from audit.app.check import read_findings

    again = read_findings(tmp_path)
    out, _ = mark_waived(
        again, [waiver(rule="LOG-06", row_kind="time_entry", row_id=9001), waiver(ticket=2)], as_of=AS_OF
    )
    assert sorted(out.loc[out["waived"], "row_id"].tolist()) == ["2", "9001"]


# ------------------------------------------------------------------------------------ appending


def test_append_yaml_keeps_comments_and_skips_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "waivers.yaml"
    path.write_text(
        "# reviewed by the QA team\nwaivers:\n  - rule: CLO-01\n    ticket: 1\n    reason: r\n"
        "    approved_by: a\n    expires: 2027-01-01\n"
    )
    new = [
        waiver(ticket=1),
        waiver(rule="LOG-06", row_kind="time_entry", row_id=9001, ticket="T20261117.0003"),
    ]
    assert append_waivers(path, new, as_of=AS_OF) == (1, 1)
    text = path.read_text()
    assert text.startswith("# reviewed by the QA team\n")
    wf = load_waivers(path)
    assert [w.rule for w in wf.waivers] == ["CLO-01", "LOG-06"]
    assert append_waivers(path, new, as_of=AS_OF) == (0, 2)
    assert path.read_text() == text


def test_append_creates_files_and_renews_expired(tmp_path: Path) -> None:
    for name in ("new.yaml", "new.toml"):
        path = tmp_path / name
        assert append_waivers(path, [waiver(ticket=1, reason='say "hi"\nthere')], as_of=AS_OF) == (1, 0)
        assert append_waivers(path, [waiver(ticket=2)], as_of=AS_OF) == (1, 0)
        wf = load_waivers(path)
        assert [w.ticket for w in wf.waivers] == [1, 2]
        assert wf.waivers[0].reason == 'say "hi"\nthere'
        # An expired grant of the same exception does not block a fresh one.
        later = datetime(2027, 6, 1, tzinfo=UTC)
        assert append_waivers(path, [waiver(ticket=1, expires="2027-12-31")], as_of=later) == (1, 0)
        assert len(load_waivers(path).waivers) == 3


def test_append_to_flow_style_list_rewrites(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text("waivers: []\n")
    assert append_waivers(path, [waiver(ticket=1)], as_of=AS_OF) == (1, 0)
    assert len(load_waivers(path).waivers) == 1


# -------------------------------------------------------------------------------------- the CLI


def test_cli_invalid_waivers_file_exits_2_with_file_and_line(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text(json.dumps({"score": 90.0, "rules": {}, "steps": {}}))
    bad = tmp_path / "waivers.yaml"
    bad.write_text("- rule: CLO-01\n  ticket: 1\n  reason: r\n  approved_by: a\n  expires: someday\n")
    result = CliRunner().invoke(cli, ["check", "--out", str(out), "--waivers", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}:5" in result.output and "expires" in result.output
    config = tmp_path / "c.toml"
    config.write_text(f'[waivers]\nfile = "{bad}"\n')
    result = CliRunner().invoke(cli, ["check", "--out", str(out), "--config", str(config)])
    assert result.exit_code == 2 and f"{bad}:5" in result.output


@pytest.mark.parametrize(
    ("fmt", "text", "line"),
    [
        (
            "yaml",
            "waivers:\n  - rule: CLO-01\n    ticket: 1\n    reason: r\n    approvedby: Jane\n"
            "    expires: 2026-12-31\n",
            5,
        ),
        (
            "toml",
            '[[waivers]]\nrule = "CLO-01"\nticket = 1\nreason = "r"\napprovedby = "Jane"\n'
            "expires = 2026-12-31\n",
            5,
        ),
    ],
)
def test_misspelled_key_is_reported_as_unknown_at_its_line(fmt: str, text: str, line: int) -> None:
    """QA: ``approvedby:`` was reported as ``approved_by: Field required`` at the entry's line."""
    with pytest.raises(ConfigError) as info:
        parse_waivers(text, fmt=fmt, path=f"w.{fmt}")
    assert info.value.line == line, str(info.value)
    assert "approvedby: unknown key" in str(info.value)


def test_row_kind_alone_does_not_select() -> None:
    with pytest.raises(ValueError, match="may not waive a whole rule"):
        waiver(rule="LOG-06", row_kind="time_entry")
    assert waiver(rule="LOG-06", row_kind="time_entry", row_id=9001).selectors()["row_id"] == 9001


# --------------------------------------------------------------------------- hostile waiver files


@pytest.mark.parametrize(
    ("name", "text", "line", "fragment"),
    [
        (
            "w.yaml",
            "# bomb\n"
            + "".join(
                f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10) if i else ', '.join(['x'] * 10)}]\n"
                for i in range(10)
            ),
            6,
            "more than 100000 values",
        ),
        ("w.yaml", "- rule: CLO-01\n  ticket: " + "9" * 5_000 + "\n", 2, "integer too long"),
        (
            "w.yaml",
            "- rule: CLO-01\n  tickets: " + "[" * 500 + "]" * 500 + "\n",
            2,
            "nested deeper than 64 levels",
        ),
        (
            "w.toml",
            '[[waivers]]\nrule = "CLO-01"\nticket = ' + "9" * 5_000 + "\n",
            3,
            "integer longer than 4300 digits",
        ),
        (
            "w.toml",
            '[[waivers]]\nrule = "CLO-01"\ntickets = ' + "[" * 500 + "]" * 500 + "\n",
            3,
            "nested deeper",
        ),
    ],
)
def test_hostile_waiver_files_are_config_errors_with_their_line(
    tmp_path: Path, name: str, text: str, line: int, fragment: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_waivers(path)
    assert (info.value.file, info.value.line) == (str(path), line), str(info.value)
    assert fragment in str(info.value) and info.value.exit_code == 2


@pytest.mark.parametrize(
    ("fmt", "text", "line"),
    [
        ("yaml", "- rule: CLO-01\n  ticket: true\n  reason: r\n  approved_by: a\n  expires: 2027-01-01\n", 2),
        (
            "yaml",
            "- rule: CLO-01\n  tickets: [12, false]\n  reason: r\n  approved_by: a\n  expires: 2027-01-01\n",
            2,
        ),
        (
            "toml",
            '[[waivers]]\nrule = "CLO-01"\nreason = "r"\napproved_by = "a"\nexpires = 2027-01-01\nrow_id = true\n',
            6,
        ),
    ],
)
def test_a_boolean_is_not_a_ticket_or_row_id(fmt: str, text: str, line: int) -> None:
    """``ticket: true`` used to waive ticket id 1."""
    with pytest.raises(ConfigError) as info:
        parse_waivers(text, fmt=fmt, path=f"w.{fmt}")
    assert info.value.line == line and "expected a number or text, got true/false" in str(info.value)


def test_a_recheck_counts_the_findings_a_waiver_covers_even_when_already_waived(
    findings: pd.DataFrame,
) -> None:
    """`check --waivers` re-applies waivers to a run whose findings.csv already says waived: the
    note must not read "0 finding(s) waived by 1 waiver(s)"."""
    first, _ = mark_waived(findings, [waiver(ticket=1)], as_of=AS_OF)
    again, report = mark_waived(first, [waiver(ticket=1)], as_of=AS_OF)
    assert again["waived"].tolist() == first["waived"].tolist()
    assert report.waived_findings == report.applied[0] == 1
    assert report.lines()[0] == "waivers: 1 finding(s) waived by 1 waiver(s)"
