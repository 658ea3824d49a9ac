"""Audit periods and the as-of instant: every "now" of the tool goes through here.

A period is a run of calendar days in the tenant's time zone (the config's ``timezone``,
default UTC): it starts at the local midnight of its first day and ends at the local midnight
after its last, whatever the UTC offset of each (a daylight-saving change inside the period
makes that day 23 or 25 hours long). Weeks are ISO weeks of local dates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from audit.core.errors import ConfigError

__all__ = ["Period", "describe_period", "iso_week", "parse_as_of", "zone"]


def parse_as_of(value: str | None) -> datetime:
    """``--as-of`` (ISO date or instant; naive means UTC) -> aware UTC datetime; None -> now."""
    if value is None:
        return datetime.now(UTC).replace(microsecond=0)
    try:
        text = value.strip().replace("Z", "+00:00")
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(f"--as-of: not an ISO date or date-time: {value!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


@lru_cache(maxsize=16)
def zone(name: str) -> ZoneInfo:
    """The time zone of an IANA name (validated by the config: an unknown name never gets here)."""
    return ZoneInfo(name)


def describe_period(period: Mapping[str, Any]) -> str:
    """A period as reports print it: its label and the time zone its days are in
    (``2026-W47 (America/Los_Angeles)``), from ``Period.as_dict()`` or ``summary["period"]``."""
    return f"{period.get('label', '')} ({period.get('timezone', 'UTC')})"


@dataclass(frozen=True)
class Period:
    """Inclusive calendar days ``[start, end]`` in ``timezone``; a row is in it when its anchor
    instant is in ``[local midnight of start, local midnight after end)``."""

    start: date
    end: date
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ConfigError(f"period: --to {self.end} is before --from {self.start}")

    def _midnight(self, day: date) -> datetime:
        # A local midnight a DST change skips resolves (fold=0) to the instant the day begins.
        return datetime(day.year, day.month, day.day, tzinfo=zone(self.timezone)).astimezone(UTC)

    @property
    def start_instant(self) -> datetime:
        return self._midnight(self.start)

    @property
    def end_instant(self) -> datetime:
        """Exclusive upper bound."""
        return self._midnight(self.end + timedelta(days=1))

    @property
    def label(self) -> str:
        if self.start.weekday() == 0 and self.end - self.start == timedelta(days=6):
            return iso_week(self.start)
        return f"{self.start.isoformat()} – {self.end.isoformat()}"

    def as_dict(self) -> dict[str, str]:
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "label": self.label,
            "timezone": self.timezone,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Period:
        """The period of :meth:`as_dict` (``summary["period"]``; no time zone: UTC)."""
        return cls(
            date.fromisoformat(data["from"]),
            date.fromisoformat(data["to"]),
            str(data.get("timezone") or "UTC"),
        )

    def spanning(self, other: Period) -> Period:
        """The smallest period (in this one's time zone) covering both."""
        return replace(self, start=min(self.start, other.start), end=max(self.end, other.end))

    @classmethod
    def from_week(cls, week: str, timezone: str = "UTC") -> Period:
        m = re.fullmatch(r"(\d{4})-?W(\d{2})", week.strip())
        if not m:
            raise ConfigError(f"--week: expected YYYY-Www (for example 2026-W47), got {week!r}")
        try:
            monday = date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
        except ValueError as exc:
            raise ConfigError(f"--week: {week!r} is not a week: {exc}") from exc
        return cls(monday, monday + timedelta(days=6), timezone)

    @classmethod
    def last_full_week(cls, as_of: datetime, timezone: str = "UTC") -> Period:
        """The last full ISO week (of local dates) before ``as_of`` (the default period)."""
        instant = as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)
        day = instant.astimezone(zone(timezone)).date()
        this_monday = day - timedelta(days=day.weekday())
        monday = this_monday - timedelta(days=7)
        return cls(monday, monday + timedelta(days=6), timezone)

    @classmethod
    def from_options(
        cls, *, start: str | None, end: str | None, week: str | None, as_of: datetime, timezone: str = "UTC"
    ) -> Period:
        """The period of ``--week`` or ``--from/--to`` (default: the last full week before ``as_of``),
        in the tenant's ``timezone``.

        A period that ends after ``as_of`` is a usage error: part of it has not happened yet at
        the audited instant, so its audit would count rows dated after as-of (or be an empty
        "n/a" that passes every gate).
        """
        if week and (start or end):
            raise ConfigError("use either --week or --from/--to, not both")
        if week:
            period = cls.from_week(week, timezone)
        elif start or end:
            if not (start and end):
                raise ConfigError("--from and --to go together")
            try:
                period = cls(date.fromisoformat(start), date.fromisoformat(end), timezone)
            except ValueError as exc:
                option, value = "--to", end
                try:
                    date.fromisoformat(start)
                except ValueError:
                    option, value = "--from", start
                reason = "" if str(exc).startswith("Invalid isoformat") else f" ({exc})"
                raise ConfigError(
                    f"{option}: expected a date YYYY-MM-DD (for example 2026-11-16), got {value!r}{reason}"
                ) from exc
        else:
            return cls.last_full_week(as_of, timezone)
        instant = as_of.astimezone(UTC) if as_of.tzinfo else as_of.replace(tzinfo=UTC)
        if period.end_instant > instant:
            shown = instant.isoformat().replace("+00:00", "Z")
            raise ConfigError(
                f"the period ends after --as-of: {period.label} ends {period.end.isoformat()} (at "
                f"{period.end_instant.astimezone(UTC).isoformat().replace('+00:00', 'Z')}), --as-of is {shown} "
                "(choose an earlier period or a later --as-of)"
            )
        return period

    def weeks_back(self, n: int) -> list[Period]:
        """The ``n`` ISO weeks ending with the week that contains ``end`` (oldest first)."""
        last_monday = self.end - timedelta(days=self.end.weekday())
        return [
            Period(
                last_monday - timedelta(weeks=k),
                last_monday - timedelta(weeks=k) + timedelta(days=6),
                self.timezone,
            )
            for k in range(n - 1, -1, -1)
        ]
