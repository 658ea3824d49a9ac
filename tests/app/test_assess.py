"""audit.app.assess: the store evaluated, excused and scored for a period."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from audit.app.assess import assess, frames_as_of, tenant_id
from audit.app.preflight import prepare
from audit.core.config import Config
from audit.core.period import Period
from audit.sandbox.client import DEFAULT_SANDBOX_AS_OF
from audit.store.snapshot import Store, StoreState

AS_OF = DEFAULT_SANDBOX_AS_OF
WEEK = Period.last_full_week(AS_OF)


def test_tenant_id_is_the_zone_else_the_web_url() -> None:
    assert (
        tenant_id(StoreState(zone_name="webservices14", web_url="https://ww14.autotask.net/"))
        == "webservices14"
    )
    assert tenant_id(StoreState(web_url="https://ww14.autotask.net/")) == "https://ww14.autotask.net/"
    assert tenant_id(StoreState()) is None


def test_assess_writes_the_store_tenant_id(store: Path) -> None:
    s = Store(store)
    assessment = assess(s, Config(), prepare(Config()), period=WEEK, as_of=AS_OF)
    assert assessment.summary["tenant"]["id"] == tenant_id(s.state) is not None


def test_verdicts_of_another_tenant_do_not_count_in_precision(store: Path) -> None:
    from audit.results.verdicts import verdicts_path

    s = Store(store)
    mine = tenant_id(s.state)
    records = {
        "CLO-01|ticket|1": {"rule_id": "CLO-01", "verdict": "confirmed", "tenant_id": mine},
        "CLO-01|ticket|2": {"rule_id": "CLO-01", "verdict": "false_positive", "tenant_id": "someone-else"},
        "CLO-01|ticket|3": {"rule_id": "CLO-01", "verdict": "confirmed"},  # imported before ids were recorded
    }
    path = verdicts_path(store)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"format": 1, "verdicts": records}), encoding="utf-8")
    summary = assess(s, Config(), prepare(Config()), period=WEEK, as_of=AS_OF).summary
    assert summary["precision"]["CLO-01"]["reviewed"] == 2
    assert summary["precision"]["CLO-01"]["precision"] == 1.0


def test_rows_created_after_as_of_are_left_out_of_the_frames() -> None:
    from tests.engine.builders import build

    # Notes created 2026-11-17 09:30, attachments 09:05; one time entry logged before as-of, one after.
    entry = {
        "ticketID": 1,
        "resourceID": 1,
        "dateWorked": "2026-11-17T08:00:00Z",
        "hoursWorked": 1.0,
        "summaryNotes": "Rebuilt the Outlook profile and tested sending mail.",
        "billingCodeID": 1,
    }
    frames = build(
        {
            "tickets": [{"id": 1, "_skip": ["time_entry"]}, {"id": 2, "_skip": ["time_entry"]}],
            "time_entries": [
                {**entry, "id": 501, "createDateTime": "2026-11-17T08:30:00Z"},
                {**entry, "id": 502, "createDateTime": "2026-11-17T10:00:00Z"},
            ],
        }
    )
    as_of = datetime(2026, 11, 17, 9, 10, tzinfo=UTC)
    then = frames_as_of(frames, as_of)
    assert len(frames.notes) and len(frames.attachments)
    assert then.notes.empty  # written after the audited instant
    assert then.time_entries["id"].tolist() == [501]
    assert len(then.attachments) == len(frames.attachments)  # attached before it
    assert len(then.tickets) == len(frames.tickets)
    assert frames_as_of(frames, datetime(2026, 11, 30, tzinfo=UTC)) is frames  # nothing later: unchanged
