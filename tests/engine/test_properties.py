"""Hypothesis properties of the engine over arbitrary frames: it never crashes (no rule in
error), scores stay in [0, 100], and adding a passing ticket never changes another row's outcome."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.core.config import Config
from audit.engine import evaluate, load_ruleset
from audit.engine.frames import Frames, build_frames
from audit.results.scoring import score
from audit.source.records import records_to_frame
from audit.source.schema import ENTITIES
from tests.engine.builders import AS_OF, PERIOD, _default_children, picklist_frame, ticket

CONFIG = Config()
RULESET = load_ruleset(None, CONFIG)
ALL_ON = Config.model_validate({"rules": {"SLA-07": {"enabled": True}}})

texts = st.one_of(
    st.none(),
    st.just(""),
    st.just("   "),
    st.text(max_size=40),
    st.just("é" * 30_000),
    st.just("<p>Symptom: a</p><p>Findings: b</p>"),
    st.just("ESCALATION - RETEX - NOTIFIED"),
    st.sampled_from(["Done", "see ticket", "Acme - Mail - Outlook", "GPO AD regedit", "screenshot.png"]),
)
stamps = st.one_of(
    st.none(), st.datetimes(datetime(2026, 11, 1), datetime(2026, 12, 1), timezones=st.just(UTC))
)
picks = st.one_of(st.none(), st.integers(-2, 13), st.sampled_from([101, 102, 201, 999]))
ids = st.one_of(st.none(), st.integers(0, 5))
udf_values = st.one_of(
    st.none(),
    st.just(""),
    st.sampled_from([" high", "Medium", "LOW", "Critical", "Yes", "1"]),
    st.text(max_size=10),
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


@st.composite
def ticket_records(draw: st.DrawFn, tid: int) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "title": draw(texts),
        "description": draw(texts),
        "resolution": draw(texts),
        "status": draw(picks),
        "priority": draw(picks),
        "queueID": draw(picks),
        "source": draw(picks),
        "ticketType": draw(picks),
        "issueType": draw(picks),
        "subIssueType": draw(picks),
        "serviceLevelAgreementID": draw(st.one_of(st.none(), st.just(1))),
        "companyID": draw(st.one_of(st.none(), st.sampled_from([0, 100, 200]))),
        "contactID": draw(st.one_of(st.none(), st.sampled_from([1000, 1001, 5]))),
        "assignedResourceID": draw(ids),
        "completedByResourceID": draw(ids),
    }
    for name in (
        "createDate",
        "completedDate",
        "lastActivityDate",
        "firstResponseDateTime",
        "firstResponseDueDateTime",
        "resolvedDateTime",
        "resolvedDueDateTime",
        "lastCustomerNotificationDateTime",
    ):
        fields[name] = _iso(draw(stamps))
    udf = {k: draw(udf_values) for k in ("Impact", "Urgency", "On-call", "Vendor Case ID")}
    return ticket(tid, udf=udf, **fields)


@st.composite
def children(draw: st.DrawFn, tids: list[int]) -> dict[str, list[dict[str, Any]]]:
    notes = [
        {
            "id": 1000 + i,
            "ticketID": draw(st.sampled_from([*tids, None, 999])),
            "title": draw(texts),
            "description": draw(texts),
            "noteType": draw(st.one_of(st.none(), st.sampled_from([1, 3, 13, 99, 42]))),
            "publish": draw(st.one_of(st.none(), st.sampled_from([1, 2, 4, 7]))),
            "creatorResourceID": draw(ids),
            "createDateTime": _iso(draw(stamps)),
        }
        for i in range(draw(st.integers(0, 6)))
    ]
    entries = [
        {
            "id": 2000 + i,
            "ticketID": draw(st.sampled_from([*tids, None])),
            "resourceID": draw(ids),
            "dateWorked": _iso(draw(stamps)),
            "startDateTime": _iso(draw(stamps)),
            "endDateTime": _iso(draw(stamps)),
            "summaryNotes": draw(texts),
            "billingCodeID": draw(st.one_of(st.none(), st.just(1))),
            "createDateTime": _iso(draw(stamps)),
        }
        for i in range(draw(st.integers(0, 4)))
    ]
    attachments = [
        {
            "id": 3000 + i,
            "parentID": draw(st.sampled_from([*tids, None])),
            "ticketID": draw(st.sampled_from([*tids, None])),
            "attachDate": _iso(draw(stamps)),
            "title": draw(texts),
        }
        for i in range(draw(st.integers(0, 3)))
    ]
    return {"TicketNotes": notes, "TimeEntries": entries, "TicketAttachments": attachments}


@st.composite
def tenants(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(0, 6))
    tids = list(range(1, n + 1))
    records = {"Tickets": [draw(ticket_records(t)) for t in tids], **draw(children(tids))}
    drop = draw(
        st.lists(
            st.sampled_from(["resolution", "queueID", "publish", "summaryNotes", "attachDate", "parentID"]),
            max_size=2,
        )
    )
    with_history = draw(st.booleans())
    return {"records": records, "drop": drop, "history": with_history}


def _frames(doc: dict[str, Any]) -> Frames:
    tables: dict[str, pd.DataFrame] = {}
    for name, rows in doc["records"].items():
        udfs = ("Impact", "Urgency", "On-call", "Vendor Case ID") if name == "Tickets" else ()
        frame = records_to_frame(ENTITIES[name], rows, udfs)
        tables[name] = frame.drop(
            columns=[c for c in doc["drop"] if c in frame.columns and c not in ("id", "ticketID")]
        )
    tables["Resources"] = records_to_frame(
        ENTITIES["Resources"], [{"id": 1, "firstName": "Ann", "lastName": "T"}]
    )
    tables["Contacts"] = records_to_frame(ENTITIES["Contacts"], [{"id": 1000, "companyID": 100}])
    if doc["history"]:
        tables["TicketHistory"] = records_to_frame(
            ENTITIES["TicketHistory"],
            [
                {
                    "id": 1,
                    "ticketID": 1,
                    "date": "2026-11-17T10:00:00Z",
                    "detail": "Company changed; assigned resource set",
                }
            ],
        )
    return build_frames(tables, picklist_frame(), None, CONFIG, web_url="https://x/", tenant_name="t")


SETTINGS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@SETTINGS
@given(tenants())
def test_arbitrary_frames_never_crash_and_scores_are_bounded(doc: dict[str, Any]) -> None:
    evaluation = evaluate(_frames(doc), RULESET, ALL_ON, period=PERIOD, as_of=AS_OF)
    assert {s.status for s in evaluation.rules.values()} <= {"measured", "not_measured"}, {
        r: s.error for r, s in evaluation.rules.items() if s.status == "error"
    }
    summary = score(evaluation, ALL_ON, PERIOD, as_of=AS_OF)
    scores = [
        summary["score"],
        *(r["score"] for r in summary["rules"].values()),
        *(t["score"] for t in summary["technicians"]),
        *(q["score"] for q in summary["queues"]),
        *(s["score"] for s in summary["steps"].values()),
    ]
    assert all(s is None or 0 <= s <= 100 for s in scores)
    assert (evaluation.tallies["passed"] <= evaluation.tallies["applicable"]).all()


@SETTINGS
@given(tenants())
def test_adding_a_passing_ticket_changes_no_other_outcome(doc: dict[str, Any]) -> None:
    before = evaluate(_frames(doc), RULESET, ALL_ON, period=PERIOD, as_of=AS_OF).findings
    new_id = 500
    grown = {**doc, "records": {k: list(v) for k, v in doc["records"].items()}}
    grown["records"]["Tickets"].append(ticket(new_id))
    for entity, rows in _default_children(new_id, set(), "2026-11-17T09:30:00Z").items():
        grown["records"][entity].extend(rows)
    after = evaluate(_frames(grown), RULESET, ALL_ON, period=PERIOD, as_of=AS_OF).findings
    after_others = after[after["ticket_id"] != new_id].reset_index(drop=True)
    # Categorical columns may gain categories (the new ticket's url): compare the values.
    pd.testing.assert_frame_equal(before.reset_index(drop=True).astype(str), after_others.astype(str))
