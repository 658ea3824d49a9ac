"""build_frames: labels, UDF columns, HTML-stripped text, attachment links, mapping checks."""

from __future__ import annotations

import pandas as pd
import pytest

from audit.core.config import Config
from audit.core.errors import MappingError
from audit.engine.frames import build_frames, strip_html
from audit.source.records import records_to_frame
from audit.source.schema import ENTITIES
from tests.engine.builders import build, picklist_frame


def test_labels_parent_and_udfs() -> None:
    frames = build({"tickets": [{"id": 1}, {"id": 2, "status": 99, "subIssueType": "Laptop"}]})
    t = frames.tickets
    assert list(t["status_label"].astype(object).fillna("<NA>")) == ["Complete", "<NA>"]
    assert t.loc[1, "subIssueType_parent"] == 20
    assert t.loc[0, "udf:Impact"] == "Medium"
    for picklist in ENTITIES["Tickets"].picklists:
        assert f"{picklist}_label" in t.columns
    assert frames.notes["publish_label"].notna().all()
    assert frames.history is None


def test_html_is_stripped_for_checks() -> None:
    s = pd.Series(
        ["<p>Symptom: a</p><p>Findings:&nbsp;b</p>", "plain", None, "a &amp; b <br/>c"], dtype="string"
    )
    out = strip_html(s)
    assert out[0] == "\nSymptom: a\n\nFindings: b\n"
    assert out[1] == "plain" and pd.isna(out[2]) and out[3] == "a & b \nc"


def test_attachments_belong_to_the_ticket_named_by_ticket_id() -> None:
    # Autotask gives the attachments of a ticket's notes and time entries the ticket's ticketID;
    # parentID is the note or time entry, whose id may equal another ticket's id.
    frames = build(
        {
            "tickets": [{"id": 1, "_skip": ["all"]}, {"id": 2, "_skip": ["all"]}],
            "attachments": [
                {"id": 10, "parentID": 1, "ticketID": 1},
                {"id": 11, "parentID": 1, "ticketID": 2, "ticketNoteID": 1},
                {"id": 12, "parentID": 2, "ticketID": 2},
            ],
        }
    )
    pairs = sorted(zip(frames.attachments["id"], frames.attachments["ticketID"], strict=True))
    assert pairs == [(10, 1), (11, 2), (12, 2)]


def test_missing_columns_and_tables_become_null() -> None:
    tickets = records_to_frame(ENTITIES["Tickets"], [{"id": 1, "title": "x"}]).drop(
        columns=["resolution", "queueID"]
    )
    frames = build_frames({"Tickets": tickets}, picklist_frame(), None, Config(), web_url="", tenant_name="t")
    assert frames.tickets["resolution"].isna().all() and frames.tickets["queueID"].isna().all()
    assert frames.notes.empty and "publish_label" in frames.notes.columns
    assert "udf:Vendor Case ID" in frames.tickets.columns


def test_explicit_mapping_label_missing_is_an_error() -> None:
    config = Config.model_validate({"mapping": {"closed_statuses": ["Done"]}}).model_copy(
        update={"explicit_mapping_keys": frozenset({"closed_statuses"})}
    )
    with pytest.raises(MappingError) as info:
        build({"tickets": [{"id": 1}]}, config)
    assert "closed_statuses" in str(info.value) and "'Complete'" in str(info.value)
    assert info.value.exit_code == 2


def test_default_mapping_label_missing_is_a_warning() -> None:
    frames = build({"tickets": [{"id": 1}]})
    assert any("system_note_types" in w and "BDR" in w for w in frames.warnings)
