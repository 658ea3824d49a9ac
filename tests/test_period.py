"""Periods and the as-of instant (audit/period.py): the options every command shares."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from click.testing import CliRunner

from audit.cli import cli
from audit.errors import EXIT_CONFIG, ConfigError
from audit.period import Period

AS_OF = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # a Monday: the last full week is 2026-W47


def test_default_is_the_last_full_week_before_as_of() -> None:
    period = Period.from_options(start=None, end=None, week=None, as_of=AS_OF)
    assert (period.start, period.end, period.label) == (date(2026, 11, 16), date(2026, 11, 22), "2026-W47")


@pytest.mark.parametrize(
    ("options", "label"),
    [
        ({"week": "2026-W47"}, "2026-W47"),  # ends 2026-11-23 00:00, before as-of
        ({"start": "2026-11-01", "end": "2026-11-22"}, "2026-11-01 – 2026-11-22"),
    ],
)
def test_a_period_that_ends_by_as_of_is_accepted(options: dict[str, str], label: str) -> None:
    kwargs = {"start": None, "end": None, "week": None, **options}
    assert Period.from_options(**kwargs, as_of=AS_OF).label == label


@pytest.mark.parametrize(
    "options",
    [
        {"week": "2026-W48"},  # the current week: half of it is after as-of
        {"start": "2026-11-01", "end": "2026-12-31"},
        {"start": "2026-11-16", "end": "2026-11-23"},  # as-of falls inside the last day
        {"week": "2027-W10"},
        {"start": "2026-11-24", "end": "2026-11-30"},
    ],
)
def test_a_period_ending_after_as_of_is_a_usage_error_naming_both_dates(options: dict[str, str]) -> None:
    kwargs = {"start": None, "end": None, "week": None, **options}
    with pytest.raises(ConfigError, match="the period ends after --as-of") as info:
        Period.from_options(**kwargs, as_of=AS_OF)
    assert info.value.exit_code == EXIT_CONFIG
    assert "2026-11-23T06:00:00Z" in str(info.value)
    end = options.get("end") or {"2026-W48": "2026-11-29", "2027-W10": "2027-03-14"}[options["week"]]
    assert end in str(info.value)


def test_a_period_ending_exactly_at_as_of_is_accepted() -> None:
    period = Period.from_options(start=None, end=None, week="2026-W47", as_of=datetime(2026, 11, 23, tzinfo=UTC))
    assert period.label == "2026-W47"


@pytest.mark.parametrize("command", ["run", "evaluate", "report"])
def test_every_command_refuses_it_before_anything_runs(command: str, tmp_path: str) -> None:
    args = [command, "--week", "2027-W10", "--as-of", "2026-11-23T06:00:00Z", "--store", f"{tmp_path}/store"]
    if command == "run":
        args.append("--no-extract")
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == EXIT_CONFIG, result.output
    assert "the period ends after --as-of" in result.output
