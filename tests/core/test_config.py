from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from audit.cli import cli
from audit.core.config import Config, load_config
from audit.core.errors import ConfigError


def test_defaults_are_the_catalogs() -> None:
    cfg = load_config(None)
    assert cfg.mapping.closed_statuses == ["Complete"]
    assert cfg.mapping.priority_levels["Critical"] == 1
    assert cfg.mapping.catch_all_company_ids == [0]
    assert cfg.thresholds.min_sample == 5


def test_overrides_and_explicit_keys(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text(
        '[mapping]\nclosed_statuses = ["Closed"]\n\n[thresholds]\noverall = 85\nrule."CLO-01" = 100\nstep.closure = 95\n'
    )
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


# ----------------------------------------------------- strict types, absurd values, hostile files


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        # a boolean is not a threshold of 1, quoted text is not a threshold of 85
        (
            "[thresholds]\noverall = 80\ntechnician = true\n",
            3,
            "thresholds.technician: Input should be a valid number, got true",
        ),
        ('[thresholds]\noverall = "85"\n', 2, "thresholds.overall: Input should be a valid number, got '85'"),
        ('[thresholds]\nstep.closure = "90"\n', 2, "thresholds.step.closure: Input should be a valid number"),
        ('[thresholds]\nrule."CLO-01" = 101\n', 2, "less than or equal to 100"),
        ("[report]\ntrend_weeks = 8.0\n", 2, "report.trend_weeks: Input should be a valid integer"),
        (
            '[mapping]\nclosed_statuses = "Complete"\n',
            2,
            "mapping.closed_statuses: Input should be a valid list",
        ),
        (
            "[mapping]\nclosed_statuses = [1]\n",
            2,
            "mapping.closed_statuses.0: Input should be a valid string",
        ),
        ('[rules."CLO-01"]\nenabled = "no"\n', 2, "rules.CLO-01.enabled: Input should be a valid boolean"),
        # absurd values: bounded, finite
        (
            "[extract]\ntimeout_seconds = 1e308\n",
            2,
            "extract.timeout_seconds: Input should be less than or equal to 3600",
        ),
        ("[extract]\ntimeout_seconds = inf\n", 2, "Input should be a finite number"),
        ("[thresholds]\noverall = nan\n", 2, "Input should be a finite number"),
        ("[mapping]\ncatch_all_company_ids = [" + "9" * 4_000 + "]\n", 2, "(4000 characters)"),
        ("[mail]\nport = 99999999\n", 2, "mail.port: Input should be less than or equal to 65535"),
        ("[report]\ntrend_weeks = 1000000000\n", 2, "report.trend_weeks"),
        # hostile files: too many digits for Python, nested deeper than anyone writes
        ("[extract]\nmax_retries = " + "9" * 5_000 + "\n", 2, "integer longer than 4300 digits"),
        ("[mapping]\njargon = " + "[" * 5_000 + "]" * 5_000 + "\n", 2, "nested deeper than 64 levels"),
        (
            "[mapping]\npriority_matrix = " + "{a = " * 5_000 + "1" + "}" * 5_000 + "\n",
            2,
            "nested deeper than 64 levels",
        ),
    ],
)
def test_strict_types_and_absurd_values_exit_2_with_file_and_line(
    tmp_path: Path, text: str, line: int, fragment: str
) -> None:
    f = tmp_path / "c.toml"
    f.write_text(text)
    result = _validate(f)
    assert result.exit_code == 2, result.output
    assert f"{f}:{line}: " in result.stderr and fragment in result.stderr, result.stderr
    assert "internal error" not in result.output and "Traceback" not in result.output
    assert len(result.stderr) < 400  # one readable line, not the 5,000 digits back


def test_whole_numbers_are_valid_for_decimal_settings(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text("[thresholds]\noverall = 85\nstep.closure = 90\n[extract]\ntimeout_seconds = 30\n")
    cfg = load_config(f)
    assert (cfg.thresholds.overall, cfg.thresholds.step, cfg.extract.timeout_seconds) == (
        85.0,
        {"closure": 90.0},
        30.0,
    )


# ------------------------------------------------------------------------------------ time zone


def test_timezone_defaults_to_utc_and_takes_iana_names(tmp_path: Path) -> None:
    assert Config().timezone == "UTC"
    f = tmp_path / "c.toml"
    f.write_text('store = "s"\ntimezone = "America/Los_Angeles"\n')
    assert load_config(f).timezone == "America/Los_Angeles"


@pytest.mark.parametrize("zone", ["Pacific Time", "America/Nowhere", "../../etc/passwd", ""])
def test_an_unknown_timezone_exits_2_with_file_and_line(tmp_path: Path, zone: str) -> None:
    f = tmp_path / "c.toml"
    f.write_text(f'store = "s"\ntimezone = "{zone}"\n')
    result = _validate(f)
    assert result.exit_code == 2, result.output
    assert f"{f}:2: timezone: unknown time zone {zone!r}" in result.stderr


# ------------------------------------------------------------------------ regexes that backtrack


@pytest.mark.parametrize("pattern", [r"^(a+)+$", r"(\\w+\\s?)*$", r"^(x)\\1"])
def test_a_regex_setting_that_can_backtrack_exponentially_exits_2(tmp_path: Path, pattern: str) -> None:
    f = tmp_path / "c.toml"
    f.write_text(f'[mapping]\nclosed_statuses = ["Complete"]\ntitle_pattern = "{pattern}"\n')
    result = _validate(f)
    assert result.exit_code == 2, result.output
    assert f"{f}:3: mapping.title_pattern: invalid regex" in result.stderr
    assert "exponential time" in result.stderr
