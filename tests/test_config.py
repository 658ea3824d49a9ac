from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from audit.cli import cli
from audit.config import Config, load_config
from audit.errors import ConfigError


def test_defaults_are_the_catalogs() -> None:
    cfg = load_config(None)
    assert cfg.mapping.closed_statuses == ["Complete"]
    assert cfg.mapping.priority_levels["Critical"] == 1
    assert cfg.mapping.catch_all_company_ids == [0]
    assert cfg.thresholds.min_sample == 5


def test_overrides_and_explicit_keys(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('[mapping]\nclosed_statuses = ["Closed"]\n\n[thresholds]\noverall = 85\nrule."CLO-01" = 100\nstep.closure = 95\n')
    cfg = load_config(f)
    assert cfg.mapping.closed_statuses == ["Closed"]
    assert cfg.thresholds.rule == {"CLO-01": 100}
    assert cfg.thresholds.step == {"closure": 95}
    assert cfg.explicit_mapping_keys == {"closed_statuses"}
    assert isinstance(cfg, Config)


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("[mapping]\nclosed_statuses = ['A']\nbogus = 1\n", 3, "mapping.bogus: unknown key"),
        ("[extract]\nbudget_share = 'lots'\n", 2, "extract.budget_share"),
        ("[mapping\n", 1, "invalid TOML"),
    ],
)
def test_bad_config_names_file_and_line(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(f)
    assert info.value.file == str(f)
    assert info.value.line == line
    assert fragment in str(info.value)
    assert info.value.exit_code == 2


@pytest.mark.parametrize("key", ["title_pattern", "evidence_pattern"])
def test_invalid_regex_setting_names_the_config_file_and_line(tmp_path: Path, key: str) -> None:
    f = tmp_path / "c.toml"
    f.write_text(f'[mapping]\nclosed_statuses = ["Complete"]\n{key} = "([x"\n')
    with pytest.raises(ConfigError) as info:
        load_config(f)
    assert (info.value.file, info.value.line) == (str(f), 3)
    assert str(info.value).startswith(f"{f}:3: mapping.{key}: invalid regex '([x': ")
    assert "rules/" not in str(info.value)  # the config is wrong, not the rule that uses the setting


# ------------------------------------------------------------------- ticket-audit config validate


def _validate(path: Path) -> Result:
    return CliRunner().invoke(cli, ["config", "validate", str(path)])


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ('[rules."XYZ-99"]\nenabled = false\n', 1, "XYZ-99"),
        ('[mapping]\ntitle_pattern = "([x"\n', 2, "mapping.title_pattern: invalid regex"),
        ('[mapping]\nevidence_pattern = "(?i)(attach"\n', 2, "mapping.evidence_pattern: invalid regex"),
        ("[thresholds]\nstep.bogus = 90\n", 2, "bogus"),
        ('[thresholds]\nrule."XYZ-1" = 50\n', 2, "XYZ-1"),
    ],
)
def test_validate_rejects_what_run_rejects(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    f = tmp_path / "c.toml"
    f.write_text(text)
    result = _validate(f)
    assert result.exit_code == 2, result.output
    assert "ok" not in result.stdout
    assert fragment in result.stderr and str(f) in result.stderr
    if "regex" in fragment:  # (the other lines are named by the rule-set checks of prepare)
        assert f"{f}:{line}:" in result.stderr


def test_validate_checks_the_rules_the_config_names(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "bad.yaml").write_text("step: intake\nrules:\n  - id: X-01\n    bogus: [\n", encoding="utf-8")
    f = tmp_path / "c.toml"
    f.write_text(f'rules_dir = "{rules}"\n')
    result = _validate(f)
    assert result.exit_code == 2 and "bad.yaml" in result.stderr

    f.write_text('[mapping]\nclosed_statuses = ["Closed"]\n[rules."CLO-01"]\nseverity = "minor"\n')
    result = _validate(f)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{f}: ok") and "rules" in result.stdout
