import tomllib
from pathlib import Path

from click.testing import CliRunner

from audit.cli import cli
from audit.core.config import Config, load_config
from audit.core.config_docs import iter_keys, reference_markdown, starter_toml


def test_starter_round_trips_to_the_defaults(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    result = CliRunner().invoke(cli, ["config", "init", str(f)])
    assert result.exit_code == 0, result.output
    assert load_config(f).model_dump() == Config().model_dump()
    again = CliRunner().invoke(cli, ["config", "init", str(f)])
    assert again.exit_code == 2 and "--force" in again.output


def test_starter_is_commented_and_complete() -> None:
    text = starter_toml()
    tomllib.loads(text)
    for key, _default, _t, _d in iter_keys():
        leaf = key.rsplit(".", 1)[-1]
        assert f"{leaf} =" in text, key
    assert "# regex an e-mail ticket title must match (INT-03)" in text


def test_reference_doc_is_generated_and_current() -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
    assert doc.read_text(encoding="utf-8") == reference_markdown(), (
        "docs/configuration.md is stale: run `ticket-audit config reference > docs/configuration.md`"
    )


def test_validate_reports_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "bad.toml"
    f.write_text("[report]\nworst_tickets = 'ten'\n")
    result = CliRunner().invoke(cli, ["config", "validate", str(f)])
    assert result.exit_code == 2
    assert f"{f}:2" in result.output
