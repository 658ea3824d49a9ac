from pathlib import Path

import pytest

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
