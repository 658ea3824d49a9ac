"""A hostile tenant through the whole nightly job: formulas, injected CI commands, control
characters and lone surrogates in technician, queue, ticket and note text.

The installed console script runs against the sandbox tenant served over loopback HTTP, after
:func:`audit.sandbox.hostile.make_hostile` planted the attacks; every output is read back as its
consumer reads it (CSV by a CSV reader, the workbook by openpyxl, the PDF's text,
stderr line by line as a CI runner does).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pypdf
import pytest

from audit.core.safetext import is_formula_like
from audit.sandbox.hostile import INJECTED_COMMAND, make_hostile
from tests.e2e_support import AS_OF, loopback_api, small_tenant, ticket_audit
from tests.smtp_support import Sink, smtp_server

CONFIG = """
[thresholds]
technician = 100
queue = 100

[mail]
host = "127.0.0.1"
port = PORT
starttls = false
"""


@dataclass
class HostileRun:
    code: int
    stdout: str
    stderr: str
    out: Path
    mail: Sink
    store: Path


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileRun]:
    where = tmp_path_factory.mktemp("hostile")
    with loopback_api(make_hostile(small_tenant())) as api, smtp_server() as (sink, port):
        (where / "ticket-audit.toml").write_text(CONFIG.replace("PORT", str(port)), encoding="utf-8")
        # Zone discovery (not AUTOTASK_ZONE_URL): the zone's name is the tenant's text too.
        env = {**api.env, "AUTOTASK_ZONE_URL": "", "AUTOTASK_DISCOVERY_URL": api.server.zone_url}
        proc = ticket_audit(
            "run",
            "--config",
            where / "ticket-audit.toml",
            "--store",
            where / "store",
            "--as-of",
            AS_OF,
            "--out",
            where / "out",
            "--mail-to",
            "qa@example.test",
            cwd=where,
            env=env,
        )
    yield HostileRun(proc.returncode, proc.stdout, proc.stderr, where / "out", sink, where / "store")


def test_the_run_survives_and_gates(hostile_run: HostileRun) -> None:
    # Thresholds at 100 are missed (exit 1): no runtime error from any renderer or the store.
    assert hostile_run.code == 1, hostile_run.stderr
    assert "Exception ignored" not in hostile_run.stderr and "Traceback" not in hostile_run.stderr
    for name in (
        "findings.csv",
        "summary.json",
        "junit.xml",
        "summary.md",
        "qa-review.xlsx",
        "scorecards.pdf",
        "gate.json",
    ):
        assert (hostile_run.out / name).stat().st_size > 0, name


def test_findings_csv_neutralises_formulas(hostile_run: HostileRun) -> None:
    with open(hostile_run.out / "findings.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows
    for row in rows:
        for column in ("ticket_number", "technician", "queue", "message"):
            assert not is_formula_like(row[column]), (column, row[column])
    technicians = {r["technician"] for r in rows}
    queues = {r["queue"] for r in rows}
    assert '\'=HYPERLINK("http://evil.example","x") Formula Bel\\x07 Nul\\x00 Ctrl\\x01' in technicians
    assert "'+cmd|' /C calc'!A0" in queues
    assert any(r["ticket_number"].startswith("'=1+2 T") for r in rows)
    text = (hostile_run.out / "findings.csv").read_text(encoding="utf-8")
    assert "\x00" not in text and "\x07" not in text and "\x01" not in text


def test_console_lines_carry_no_injected_command(hostile_run: HostileRun) -> None:
    lines = (hostile_run.stdout + hostile_run.stderr).splitlines()
    # A CI runner reads a workflow command at the start of a line: none may come from the tenant.
    assert not [line for line in lines if line.lstrip().startswith(INJECTED_COMMAND)]
    # The runner's legacy form is read anywhere in a line: "##[stop-commands]" would mute the rest.
    assert not [line for line in lines if "##[" in line]
    assert "\x1b" not in hostile_run.stderr and "\u202e" not in hostile_run.stderr
    missed = [line for line in hostile_run.stderr.splitlines() if "Newline" in line]
    assert missed, hostile_run.stderr
    assert all("\\n::add-mask::hijacked\\r\\n\\x1b[2J\\u202eevil" in line for line in missed)


def test_workbook_opens_and_shows_control_characters_escaped(hostile_run: HostileRun) -> None:
    wb = openpyxl.load_workbook(hostile_run.out / "qa-review.xlsx")
    header = [c.value for c in wb["Findings"][1]]
    titles = [
        row[header.index("Ticket title")] for row in wb["Findings"].iter_rows(min_row=2, values_only=True)
    ]
    assert any(isinstance(t, str) and "Printer\\x00jam" in t for t in titles)
    techs = [row[0] for row in wb["Technicians"].iter_rows(min_row=2, values_only=True)]
    assert any(isinstance(t, str) and "Nul\\x00 Ctrl\\x01" in t for t in techs), techs


def test_summary_md_holds_no_control_characters(hostile_run: HostileRun) -> None:
    text = (hostile_run.out / "summary.md").read_text(encoding="utf-8")
    assert "Formula Bel\\x07 Nul\\x00 Ctrl\\x01" in text
    assert not re.search("[\x00-\x08\x0b-\x1f\u202e]", text)


def test_pdf_holds_the_names(hostile_run: HostileRun) -> None:
    reader = pypdf.PdfReader(hostile_run.out / "scorecards.pdf")
    text = "".join(page.extract_text() for page in reader.pages)
    assert "Formula" in text and "Ctrl" in text


def test_json_holds_the_names_exactly(hostile_run: HostileRun) -> None:
    summary = json.loads((hostile_run.out / "summary.json").read_text(encoding="utf-8"))
    names = {t["name"] for t in summary["technicians"]}
    assert any(n.startswith("Eve Newline\n") for n in names)  # JSON holds the name exactly


def test_the_mail_subject_holds_the_zone_name_on_one_line(hostile_run: HostileRun) -> None:
    [(recipients, message)] = hostile_run.mail.messages
    assert recipients == ["qa@example.test"] and message["Bcc"] is None
    assert "Hostile Bcc: thief@example.test Zone" in message["Subject"]


def test_a_mail_failure_costs_no_output(hostile_run: HostileRun, tmp_path: Path) -> None:
    # The default config wants STARTTLS; this server does not offer it: the mail fails, after
    # every report and gate.json are written, and the run says so (exit 3, the gate's runtime error).
    with smtp_server() as (sink, port):
        (tmp_path / "ticket-audit.toml").write_text(
            f'[mail]\nhost = "127.0.0.1"\nport = {port}\n', encoding="utf-8"
        )
        proc = ticket_audit(
            "run",
            "--no-extract",
            "--config",
            tmp_path / "ticket-audit.toml",
            "--store",
            hostile_run.store,
            "--as-of",
            AS_OF,
            "--out",
            tmp_path / "out",
            "--mail-to",
            "qa@example.test",
            cwd=tmp_path,
        )
    assert proc.returncode == 3, proc.stderr
    assert sink.messages == []
    assert "does not offer STARTTLS" in proc.stderr
    for name in (
        "findings.csv",
        "summary.json",
        "junit.xml",
        "summary.md",
        "qa-review.xlsx",
        "scorecards.pdf",
    ):
        assert (tmp_path / "out" / name).stat().st_size > 0, name
    gate = json.loads((tmp_path / "out" / "gate.json").read_text(encoding="utf-8"))
    assert gate["exit_code"] == 3
    assert any("does not offer STARTTLS" in e for e in gate["runtime_errors"]), gate
