"""``ticket-audit report``: wiring only (the pipeline it calls is tested with the engine)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from audit.cli import cli
from audit.results.summary import Summary
from audit.sandbox.synthetic import SyntheticEvaluation
from tests.render.conftest import config, evaluation, findings, summary  # noqa: F401 (fixtures)


def test_report_help_lists_options() -> None:
    result = CliRunner().invoke(cli, ["report", "--help"])
    assert result.exit_code == 0
    for option in ("--store", "--out", "--week", "--as-of", "--config", "--mail-to"):
        assert option in result.output


def test_report_bad_week_is_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["report", "--week", "2026-47", "--out", str(tmp_path)])
    assert result.exit_code == 2


def test_report_renders_the_assessment(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    evaluation: SyntheticEvaluation,  # noqa: F811 (the fixture imported above)
    summary: Summary,  # noqa: F811
    findings: Any,  # noqa: F811
) -> None:
    import audit.cli.report

    calls: dict[str, Any] = {}

    def fake_assess(_config: Any, *, store_dir: Any, period: Any, as_of: Any, **kw: Any) -> Any:
        calls["store"], calls["period"], calls["as_of"] = store_dir, period, as_of
        return SimpleNamespace(
            evaluation=evaluation, summary=summary, findings=findings, addresses={}, inputs=None
        )

    def fake_render_all(ev: Any, s: Any, out: Path, _config: Any, **kw: Any) -> dict[str, Path]:
        calls["out"], calls["mail_to"] = out, kw.get("mail_to")
        return {"summary.json": out / "summary.json"}

    monkeypatch.setattr(audit.cli.report, "assess_stored", fake_assess)
    monkeypatch.setattr(audit.cli.report, "render_all", fake_render_all)
    result = CliRunner().invoke(
        cli,
        [
            "report",
            "--store",
            str(tmp_path / "s"),
            "--out",
            str(tmp_path / "o"),
            "--week",
            "2026-W47",
            "--as-of",
            "2026-11-23T06:00:00Z",
            "--mail-to",
            "a@example.test",
            "--mail-to",
            "b@example.test",
        ],
    )
    assert result.exit_code == 0, result.output
    assert str(calls["period"].label) == "2026-W47" and calls["store"] == tmp_path / "s"
    assert calls["as_of"].isoformat() == "2026-11-23T06:00:00+00:00"
    assert calls["out"] == tmp_path / "o" and tuple(calls["mail_to"]) == ("a@example.test", "b@example.test")
    assert "summary.json" in result.output
