"""The tenant's time zone: periods, weeks and calendar dates are local (``timezone`` setting).

A ticket created late on Sunday evening at UTC-8 is already Monday in UTC; it belongs to the
week its technician worked it in. ``dateWorked`` is a calendar day as Autotask stores it (the
day's midnight, not converted), compared with the local day of the ticket's creation.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from audit.core.config import Config
from audit.core.period import Period
from audit.engine import Evaluation, evaluate, load_ruleset
from tests.engine.builders import build

AS_OF = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
RULES = load_ruleset(None, Config())  # a rule set does not depend on the time zone


def _audit(zone: str, week: str, doc: dict[str, Any]) -> Evaluation:
    config = Config.model_validate({"timezone": zone})
    return evaluate(build(doc, config), RULES, config, period=Period.from_week(week, zone), as_of=AS_OF)


def _weeks_of(evaluation: Evaluation, rule_id: str, row_id: int) -> list[str]:
    found = evaluation.findings
    rows = found[(found["rule_id"] == rule_id) & (found["row_id"].astype(int) == row_id)]
    return sorted(str(w) for w in rows["week"])


@pytest.mark.parametrize(
    ("zone", "created", "local_week", "utc_week"),
    [
        # Sunday 2026-11-22 23:30 in Los Angeles (UTC-8) is Monday 07:30 UTC
        ("America/Los_Angeles", "2026-11-23T07:30:00Z", "2026-W47", "2026-W48"),
        # Monday 2026-11-16 00:30 in Tokyo (UTC+9) is Sunday 15:30 UTC
        ("Asia/Tokyo", "2026-11-15T15:30:00Z", "2026-W47", "2026-W46"),
        # Paris, the week daylight saving ends (Sunday 2026-10-25, +2 -> +1):
        # Monday 2026-10-19 00:30 CEST (+2) is Sunday 22:30 UTC ...
        ("Europe/Paris", "2026-10-18T22:30:00Z", "2026-W43", "2026-W42"),
        # ... and Monday 2026-10-26 00:30 CET (+1) is Sunday 23:30 UTC
        ("Europe/Paris", "2026-10-25T23:30:00Z", "2026-W44", "2026-W43"),
        # Los Angeles, the week daylight saving ends (Sunday 2026-11-01, -7 -> -8): Sunday 23:30 PST
        ("America/Los_Angeles", "2026-11-02T07:30:00Z", "2026-W44", "2026-W45"),
    ],
)
def test_a_ticket_is_audited_in_its_local_week(
    zone: str, created: str, local_week: str, utc_week: str
) -> None:
    doc = {"tickets": [{"id": 1, "title": "", "createDate": created}]}  # fails INT-01 (anchor createDate)
    assert _weeks_of(_audit(zone, local_week, doc), "INT-01", 1) == [local_week]
    assert _weeks_of(_audit(zone, utc_week, doc), "INT-01", 1) == []  # not in the UTC week
    assert _weeks_of(_audit("UTC", utc_week, doc), "INT-01", 1) == [utc_week]  # where UTC puts it


def test_the_tallies_count_the_ticket_in_its_local_week() -> None:
    doc = {"tickets": [{"id": 1, "title": "", "createDate": "2026-11-23T07:30:00Z"}]}
    tallies = _audit("America/Los_Angeles", "2026-W47", doc).tallies
    row = tallies[tallies["rule_id"] == "INT-01"]
    assert (list(row["week"].astype(str)), list(row["applicable"]), list(row["failed"])) == (
        ["2026-W47"],
        [1],
        [1],
    )


def _entry(entry_id: int, worked: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": entry_id,
        "ticketID": 1,
        "resourceID": 1,
        "dateWorked": worked,
        "startDateTime": "2026-11-23T07:00:00Z",
        "endDateTime": "2026-11-23T07:25:00Z",
        "summaryNotes": "Rebuilt the Outlook profile and tested mail.",
        "billingCodeID": 1,
        "hoursWorked": 0.5,
        **extra,
    }


def test_log07_compares_date_worked_with_the_local_creation_day() -> None:
    """Time logged on Sunday for a ticket opened Sunday 23:30 local is within the ticket's life;
    in UTC the ticket was opened on Monday and the same entry looked back-filled."""
    doc = {
        "tickets": [
            {
                "id": 1,
                "createDate": "2026-11-23T07:30:00Z",
                "completedDate": "2026-11-23T09:00:00Z",
                "_skip": ["time_entry"],
            }
        ],
        "time_entries": [_entry(501, "2026-11-22T00:00:00Z")],
    }
    assert _weeks_of(_audit("UTC", "2026-W47", doc), "LOG-07", 501) == ["2026-W47"]  # a false finding
    local = _audit("America/Los_Angeles", "2026-W47", doc)
    assert _weeks_of(local, "LOG-07", 501) == []
    tallies = local.tallies
    assert int(tallies.loc[tallies["rule_id"] == "LOG-07", "passed"].sum()) == 1


def test_a_date_worked_on_the_first_local_day_is_in_the_period() -> None:
    """dateWorked Monday 2026-11-16 (stored as its midnight, unconverted) is the first day of
    2026-W47 in Los Angeles, although that midnight is 08:00 UTC."""
    doc = {
        "tickets": [{"id": 1, "createDate": "2026-11-16T17:00:00Z", "_skip": ["time_entry"]}],
        "time_entries": [_entry(501, "2026-11-16T00:00:00Z", billingCodeID=None)],
    }  # fails LOG-05
    assert _weeks_of(_audit("America/Los_Angeles", "2026-W47", doc), "LOG-05", 501) == ["2026-W47"]
    assert _weeks_of(_audit("America/Los_Angeles", "2026-W46", doc), "LOG-05", 501) == []
