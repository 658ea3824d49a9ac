"""Periods and the as-of instant (audit/core/period.py): the options every command shares."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from click.testing import CliRunner

from audit.cli import cli
from audit.core.errors import EXIT_CONFIG, ConfigError
from audit.core.period import Period, describe_period

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
    period = Period.from_options(
        start=None, end=None, week="2026-W47", as_of=datetime(2026, 11, 23, tzinfo=UTC)
    )
    assert period.label == "2026-W47"


@pytest.mark.parametrize("command", ["run", "evaluate", "report"])
def test_every_command_refuses_it_before_anything_runs(command: str, tmp_path: str) -> None:
    args = [command, "--week", "2027-W10", "--as-of", "2026-11-23T06:00:00Z", "--store", f"{tmp_path}/store"]
    if command == "run":
        args.append("--no-extract")
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == EXIT_CONFIG, result.output
    assert "the period ends after --as-of" in result.output


# ----------------------------------------------------------------- the tenant's time zone


@pytest.mark.parametrize(
    ("zone", "week", "start", "end"),
    [
        ("UTC", "2026-W47", "2026-11-16T00:00:00+00:00", "2026-11-23T00:00:00+00:00"),
        # UTC-8: local midnights are 08:00 UTC
        ("America/Los_Angeles", "2026-W47", "2026-11-16T08:00:00+00:00", "2026-11-23T08:00:00+00:00"),
        # UTC+9: local midnights are 15:00 UTC the day before
        ("Asia/Tokyo", "2026-W47", "2026-11-15T15:00:00+00:00", "2026-11-22T15:00:00+00:00"),
        # daylight saving ends on Sunday 2026-10-25 in Paris (+2 -> +1): the week lasts 169 hours
        ("Europe/Paris", "2026-W43", "2026-10-18T22:00:00+00:00", "2026-10-25T23:00:00+00:00"),
        # and on Sunday 2026-11-01 in Los Angeles (-7 -> -8)
        ("America/Los_Angeles", "2026-W44", "2026-10-26T07:00:00+00:00", "2026-11-02T08:00:00+00:00"),
    ],
)
def test_period_bounds_are_local_midnights(zone: str, week: str, start: str, end: str) -> None:
    period = Period.from_week(week, zone)
    assert (period.start_instant.isoformat(), period.end_instant.isoformat()) == (start, end)
    assert period.as_dict()["timezone"] == zone
    assert all(p.timezone == zone for p in period.weeks_back(3))


def test_a_midnight_that_daylight_saving_skips_starts_the_day_at_the_change() -> None:
    # Santiago moves its clocks from 00:00 to 01:00 on Sunday 2026-09-06: that day begins at 04:00 UTC.
    period = Period(date(2026, 9, 6), date(2026, 9, 6), "America/Santiago")
    assert period.start_instant == datetime(2026, 9, 6, 4, 0, tzinfo=UTC)
    assert period.end_instant - period.start_instant == timedelta(hours=23)


@pytest.mark.parametrize(
    ("zone", "label"),
    [("UTC", "2026-W47"), ("America/Los_Angeles", "2026-W46"), ("Asia/Tokyo", "2026-W47")],
)
def test_the_default_week_is_the_last_full_local_week(zone: str, label: str) -> None:
    # 2026-11-23 06:00 UTC is Monday in UTC and Tokyo, still Sunday evening in Los Angeles.
    period = Period.from_options(start=None, end=None, week=None, as_of=AS_OF, timezone=zone)
    assert (period.label, period.timezone) == (label, zone)


def test_a_period_round_trips_through_its_dict() -> None:
    period = Period.from_week("2026-W47", "Asia/Tokyo")
    assert Period.from_dict(period.as_dict()) == period
    assert Period.from_dict({"from": "2026-11-16", "to": "2026-11-22"}).timezone == "UTC"  # older summaries
    assert describe_period(period.as_dict()) == "2026-W47 (Asia/Tokyo)"
