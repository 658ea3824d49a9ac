"""Audit periods and the as-of instant: every "now" of the tool goes through here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from audit.errors import ConfigError

__all__ = ["Period", "parse_as_of", "iso_week"]


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


@dataclass(frozen=True)
class Period:
    """Inclusive UTC calendar days ``[start, end]``; a row is in it when its anchor instant is
    in ``[start 00:00Z, end + 1 day 00:00Z)``."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ConfigError(f"period: --to {self.end} is before --from {self.start}")

    @property
    def start_instant(self) -> datetime:
        return datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC)

    @property
    def end_instant(self) -> datetime:
        """Exclusive upper bound."""
        nxt = self.end + timedelta(days=1)
        return datetime(nxt.year, nxt.month, nxt.day, tzinfo=UTC)

    @property
    def label(self) -> str:
        if self.start.weekday() == 0 and self.end - self.start == timedelta(days=6):
            return iso_week(self.start)
        return f"{self.start.isoformat()} – {self.end.isoformat()}"

    def as_dict(self) -> dict[str, str]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat(), "label": self.label}

    @classmethod
    def from_week(cls, week: str) -> Period:
        m = re.fullmatch(r"(\d{4})-?W(\d{2})", week.strip())
        if not m:
            raise ConfigError(f"--week: expected YYYY-Www (for example 2026-W47), got {week!r}")
        try:
            monday = date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
        except ValueError as exc:
            raise ConfigError(f"--week: {week!r} is not a week: {exc}") from exc
        return cls(monday, monday + timedelta(days=6))

    @classmethod
    def last_full_week(cls, as_of: datetime) -> Period:
        """The last full ISO week before ``as_of`` (the default period)."""
        day = as_of.astimezone(UTC).date()
        this_monday = day - timedelta(days=day.weekday())
        monday = this_monday - timedelta(days=7)
        return cls(monday, monday + timedelta(days=6))

    @classmethod
    def from_options(
        cls, *, start: str | None, end: str | None, week: str | None, as_of: datetime
    ) -> Period:
        """The period of ``--week`` or ``--from/--to`` (default: the last full week before ``as_of``).

        A period that ends after ``as_of`` is a usage error: part of it has not happened yet at
        the audited instant, so its audit would count rows dated after as-of (or be an empty
        "n/a" that passes every gate).
        """
        if week and (start or end):
            raise ConfigError("use either --week or --from/--to, not both")
        if week:
            period = cls.from_week(week)
        elif start or end:
            if not (start and end):
                raise ConfigError("--from and --to go together")
            try:
                period = cls(date.fromisoformat(start), date.fromisoformat(end))
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
            return cls.last_full_week(as_of)
        instant = as_of.astimezone(UTC) if as_of.tzinfo else as_of.replace(tzinfo=UTC)
        if period.end_instant > instant:
            shown = instant.isoformat().replace("+00:00", "Z")
            raise ConfigError(
                f"the period ends after --as-of: {period.label} ends {period.end.isoformat()} (at "
                f"{period.end_instant.isoformat().replace('+00:00', 'Z')}), --as-of is {shown} "
                "(choose an earlier period or a later --as-of)"
            )
        return period

    def weeks_back(self, n: int) -> list[Period]:
        """The ``n`` ISO weeks ending with the week that contains ``end`` (oldest first)."""
        last_monday = self.end - timedelta(days=self.end.weekday())
        return [
            Period(last_monday - timedelta(weeks=k), last_monday - timedelta(weeks=k) + timedelta(days=6))
            for k in range(n - 1, -1, -1)
        ]
