"""Merging a run's rows into the previous snapshot's frames, and the new watermarks (no store)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from audit.source.extract.fetch import Fetched
from audit.source.extract.merge import merge_frames, merged_snapshot, owned_by, watermark_updates
from audit.source.extract.plan import REFERENCE, WATERMARK_MARGIN, WATERMARKED, ExtractPlan
from audit.source.records import records_to_frame
from audit.source.schema import ENTITIES

AS_OF = datetime(2026, 11, 23, 6, tzinfo=UTC)
NOTES = ENTITIES["TicketNotes"]


def frame(entity: str, rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    return records_to_frame(ENTITIES[entity], rows)


def test_last_write_wins_by_id_and_rows_come_back_sorted() -> None:
    previous = frame("TicketNotes", [{"id": 2, "ticketID": 10, "title": "old"}, {"id": 1, "ticketID": 10}])
    new = frame("TicketNotes", [{"id": 2, "ticketID": 10, "title": "new"}, {"id": 3, "ticketID": 11}])
    merged = merge_frames(NOTES, previous, new)
    assert list(merged["id"]) == [1, 2, 3]
    assert merged.loc[merged["id"] == 2, "title"].item() == "new"
    assert dict(merged.dtypes) == dict(new.dtypes)


def test_replaced_tickets_keep_only_the_new_rows_and_deleted_tickets_lose_theirs() -> None:
    previous = frame(
        "TicketNotes",
        [
            {"id": 1, "ticketID": 10},
            {"id": 2, "ticketID": 10},
            {"id": 3, "ticketID": 11},
            {"id": 4, "ticketID": 12},
        ],
    )
    new = frame("TicketNotes", [{"id": 2, "ticketID": 10}])
    merged = merge_frames(NOTES, previous, new, replace_tickets={10}, deleted_tickets={12})
    assert list(merged["id"]) == [2, 3]  # note 1 is gone from the server; ticket 12 was deleted
    tickets = merge_frames(
        ENTITIES["Tickets"],
        frame("Tickets", [{"id": 12}, {"id": 13}]),
        frame("Tickets", []),
        deleted_tickets={12},
    )
    assert list(tickets["id"]) == [13]


def test_owned_by_is_false_for_frames_without_a_ticket() -> None:
    resources = frame("Resources", [{"id": 1}])
    assert not owned_by(resources, {1}).any()


def _plan() -> ExtractPlan:
    since = {name: AS_OF - timedelta(days=7) for name in WATERMARKED}
    return ExtractPlan(
        queries={},
        since=since,
        changed_tickets_estimate=0,
        backfill_estimate=0,
        counts_spent=0,
        reference_info_requests=0,
        include_history=False,
        as_of=AS_OF,
        evaluated_since=AS_OF - timedelta(weeks=4),
    )


def _fetched(**frames: pd.DataFrame) -> Fetched:
    every = {name: frame(name, []) for name in (*WATERMARKED, *REFERENCE)}
    every.update(frames)
    return Fetched(
        frames=every,
        by_ticket_frames={
            "TicketAttachments": frame("TicketAttachments", []),
            "ServiceLevelAgreementResults": frame("ServiceLevelAgreementResults", []),
        },
        fields={},
        udf_definitions={},
        previous_tickets=frame("Tickets", [{"id": 10}, {"id": 12}]),
        deleted={12},
        changed=set(),
        known={10, 12},
        reconcile=set(),
        backfilled=set(),
        by_ticket={"TicketAttachments": set()},
        rows={},
        udf_names={},
    )


def test_a_deleted_ticket_goes_with_every_child_row_but_the_logs_stay() -> None:
    logs = frame("DeletedTicketLogs", [{"id": 5, "ticketID": 12, "deletedDateTime": "2026-11-22T10:00:00Z"}])
    previous = {
        "TicketNotes": frame("TicketNotes", [{"id": 1, "ticketID": 10}, {"id": 2, "ticketID": 12}]),
        "TicketHistory": frame("TicketHistory", [{"id": 7, "ticketID": 12}]),
    }

    def read(entity: str) -> pd.DataFrame:
        return previous.get(entity, frame(entity, []))

    snapshot = dict(merged_snapshot(_fetched(DeletedTicketLogs=logs), _plan(), read))
    assert list(snapshot["Tickets"]["id"]) == [10]
    assert list(snapshot["TicketNotes"]["id"]) == [1]
    assert list(snapshot["DeletedTicketLogs"]["id"]) == [5]
    assert snapshot["TicketHistory"].empty  # not refreshed, but the deleted ticket's history goes
    assert set(snapshot) == {
        *REFERENCE,
        *WATERMARKED,
        "TicketAttachments",
        "ServiceLevelAgreementResults",
        "TicketHistory",
    }


def test_a_watermark_never_passes_the_ceiling_and_a_future_row_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tickets = frame(
        "Tickets",
        [
            {"id": 1, "lastActivityDate": "2026-11-22T10:00:00Z"},
            {"id": 2, "lastActivityDate": "2099-01-01T00:00:00Z"},
        ],
    )
    caplog.set_level(logging.WARNING, logger="audit.source.extract")
    previous = {"Tickets": AS_OF - timedelta(days=2)}
    updates = watermark_updates(
        _fetched(Tickets=tickets), _plan(), watermarks=previous, future_rows={}, coverage={}
    )
    assert updates["Tickets"].watermark == datetime(2026, 11, 22, 10, tzinfo=UTC)
    assert updates["Tickets"].watermark <= AS_OF + WATERMARK_MARGIN
    assert updates["Tickets"].future_rows == [2]
    assert "dated after" in caplog.text
    # The first run of the children records where their rows are complete from.
    assert updates["TicketNotes"].coverage == AS_OF - timedelta(days=7)
    caplog.clear()
    again = watermark_updates(
        _fetched(Tickets=tickets), _plan(), watermarks=previous, future_rows={"Tickets": [2]}, coverage={}
    )
    assert again["Tickets"].future_rows == [2] and "dated after" not in caplog.text
