"""Every report says which time zone its period's days are in (the ``timezone`` setting)."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from audit.cli import cli
from audit.core.config import Config
from audit.engine.frames import Frames
from audit.store.snapshot import Store
from tests.engine.builders import AS_OF, build

ZONE = "America/Los_Angeles"


def test_run_prints_the_time_zone_beside_the_period_in_every_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import audit.app.assess
    import audit.app.preflight
    import audit.cli.evaluate

    store = Store(tmp_path / "store")
    with store.lock(), store.begin() as run:  # an empty snapshot: the frames come from the builder
        run.publish(as_of=AS_OF)
    # Sunday 2026-11-22 23:30 in Los Angeles (Monday 07:30 UTC), untitled: an INT-01 finding of 2026-W47.
    doc = {"tickets": [{"id": 1}, {"id": 2, "title": "", "createDate": "2026-11-23T07:30:00Z"}]}

    def frames(store: object, config: Config) -> Frames:
        return build(doc, config)

    monkeypatch.setattr(audit.app.assess, "load_frames", frames)
    config = tmp_path / "c.toml"
    config.write_text(f'timezone = "{ZONE}"\n')
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        [
            "run",
            "--no-extract",
            "--config",
            str(config),
            "--store",
            str(tmp_path / "store"),
            "--week",
            "2026-W47",
            "--as-of",
            "2026-11-25T12:00:00Z",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    shown = f"2026-W47 ({ZONE})"
    assert f"for {shown}" in result.output  # the run output

    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["period"] == {
        "from": "2026-11-16",
        "to": "2026-11-22",
        "label": "2026-W47",
        "timezone": ZONE,
    }
    assert "2026-W47 (America/Los\\_Angeles)" in (out / "summary.md").read_text(
        encoding="utf-8"
    )  # Markdown-escaped
    pdf = "\n".join(page.extract_text() for page in PdfReader(out / "scorecards.pdf").pages)
    assert f"({ZONE})" in pdf
    sheet = openpyxl.load_workbook(out / "qa-review.xlsx")["Summary"]
    fields = {row[0]: row[1] for row in sheet.iter_rows(min_row=2, max_col=2, values_only=True) if row[0]}
    assert fields["Time zone"] == ZONE and fields["Period from"] == "2026-11-16"

    findings = (out / "findings.csv").read_text(encoding="utf-8")
    assert any(
        line.startswith("INT-01,") and ",2026-W47," in line and "T20261117.0002" in line
        for line in findings.splitlines()
    )


def test_the_mail_names_the_time_zone_of_the_period() -> None:
    from audit.render.mail import summary_mail_text

    period = {"from": "2026-11-16", "to": "2026-11-22", "label": "2026-W47", "timezone": ZONE}
    _subject, body = summary_mail_text({"tenant": {"name": "Acme"}, "period": period, "score": 91.5})
    assert body.startswith(f"Ticket audit for Acme, 2026-W47 ({ZONE}).")
