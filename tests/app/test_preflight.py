"""audit.app.preflight: the configuration checked before any data is read or request sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.app.preflight import check_mail_to, check_mapping, prepare
from audit.core.config import Config, load_config
from audit.core.errors import EXIT_CONFIG, ConfigError
from audit.store.snapshot import Store


def _config(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "ticket-audit.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


@pytest.mark.parametrize(
    ("text", "line", "fragments"),
    [
        (
            "[report]\ntrend_weeks = 4\n\n[thresholds]\nstep.closur = 95\n",
            5,
            ["thresholds.step.closur: no such step", "did you mean 'closure'", "steps: closure, "],
        ),
        (
            '[thresholds]\noverall = 80\nrule."CLO-99" = 100\n',
            3,
            ["thresholds.rule.CLO-99: no such rule", "did you mean 'CLO-0"],
        ),
        (
            '[thresholds]\noverall = 80\n\n[rules."XYZ-99"]\nenabled = false\n',
            4,
            ["rules.XYZ-99: override for an unknown rule id"],
        ),
        ('[rules."int-01"]\nenabled = false\n', 1, ["did you mean 'INT-01'"]),
    ],
)
def test_prepare_refuses_unknown_steps_and_rules_naming_the_line(
    tmp_path: Path, text: str, line: int, fragments: list[str]
) -> None:
    config = _config(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        prepare(config)
    error = info.value
    assert error.exit_code == EXIT_CONFIG
    assert (error.file, error.line) == (config.source, line), str(error)
    for fragment in fragments:
        assert fragment in str(error), str(error)


def test_prepare_accepts_known_names_case_insensitively_for_thresholds(tmp_path: Path) -> None:
    config = _config(
        tmp_path, '[thresholds]\nstep.Closure = 90\nrule."clo-01" = 80\n\n[rules."CLO-01"]\nweight = 2\n'
    )
    prepared = prepare(config)
    assert "CLO-01" in prepared.ruleset.ids


def test_check_mapping_reuses_the_frames_judgement(store: Path) -> None:
    picklists = Store(store).picklists()
    defaults = Config()
    assert check_mapping(defaults, picklists) == []  # the sandbox speaks the catalog's labels


@pytest.mark.parametrize("address", ["notanaddress", "a@b", "two words@example.com", "", "@example.com"])
def test_bad_mail_addresses_are_usage_errors(address: str) -> None:
    with pytest.raises(ConfigError, match="--mail-to"):
        check_mail_to([address])


def test_good_mail_addresses_pass() -> None:
    assert check_mail_to(["qa@example.com", "Jane QA <jane@example.co.uk>"]) == [
        "qa@example.com",
        "Jane QA <jane@example.co.uk>",
    ]
