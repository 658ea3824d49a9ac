"""Small tenants for engine tests: a base tenant (picklists, resources, contacts) and a fully
compliant ticket template; fixtures override fields with labels instead of picklist numbers."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd

from audit.core.config import Config
from audit.core.period import Period
from audit.engine.frames import Frames, build_frames
from audit.source.records import records_to_frame
from audit.source.schema import ENTITIES

__all__ = ["AS_OF", "PERIOD", "PICKLISTS", "ROW_LISTS", "build", "picklist_frame", "ticket"]

AS_OF = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PERIOD = Period(date(2026, 11, 16), date(2026, 11, 22))  # 2026-W47

# (entity, field) -> [(value, label, parent)]
PICKLISTS: dict[tuple[str, str], list[tuple[int, str, int | None]]] = {
    ("Tickets", "status"): [
        (1, "New", None),
        (5, "Complete", None),
        (8, "In Progress", None),
        (11, "Escalate", None),
        (12, "Waiting Vendor", None),
        (7, "Waiting Customer", None),
    ],
    ("Tickets", "priority"): [
        (4, "Critical", None),
        (1, "High", None),
        (2, "Medium", None),
        (3, "Low", None),
        (9, "Planning", None),
    ],
    ("Tickets", "queueID"): [
        (5, "N1 - Service Desk", None),
        (6, "N2 - Support", None),
        (7, "Projects", None),
    ],
    ("Tickets", "source"): [(4, "Email", None), (2, "Phone", None), (-1, "Client Portal", None)],
    ("Tickets", "issueType"): [(10, "Software", None), (20, "Hardware", None)],
    ("Tickets", "subIssueType"): [(101, "Outlook", 10), (102, "Teams", 10), (201, "Laptop", 20)],
    ("Tickets", "ticketType"): [
        (1, "Service Request", None),
        (2, "Incident", None),
        (3, "Problem", None),
        (4, "Change Request", None),
        (5, "Alert", None),
    ],
    ("Tickets", "ticketCategory"): [(1, "Standard", None)],
    ("Tickets", "serviceLevelAgreementID"): [(1, "Gold", None)],
    ("TicketNotes", "noteType"): [
        (1, "Task Summary", None),
        (3, "Task Notes", None),
        (13, "Workflow Rule Note", None),
        (99, "RMM", None),
    ],
    ("TicketNotes", "publish"): [
        (1, "All Autotask Users", None),
        (2, "Internal Project Team", None),
        (4, "Internal & Co-Managed", None),
    ],
}

WORKLOG = (
    "Symptom: Outlook closes on start.\nFindings: corrupt profile.\n- Actions taken: rebuilt the profile\n"
    "* Result: Outlook starts.\nNext step: none, monitoring for a day."
)

TICKET: dict[str, Any] = {
    "ticketNumber": None,
    "title": "Acme - Mail - Outlook crashes on start",
    "description": "Outlook crashes every time I open it since this morning.",
    "status": "Complete",
    "priority": "Medium",
    "queueID": "N1 - Service Desk",
    "ticketType": "Incident",
    "ticketCategory": "Standard",
    "issueType": "Software",
    "subIssueType": "Outlook",
    "source": "Email",
    "companyID": 100,
    "contactID": 1000,
    "assignedResourceID": 1,
    "creatorResourceID": 1,
    "createDate": "2026-11-17T09:00:00Z",
    "firstResponseDateTime": "2026-11-17T09:10:00Z",
    "firstResponseDueDateTime": "2026-11-17T10:00:00Z",
    "resolvedDateTime": "2026-11-18T10:00:00Z",
    "resolvedDueDateTime": "2026-11-19T09:00:00Z",
    "completedDate": "2026-11-18T10:05:00Z",
    "completedByResourceID": 1,
    "lastActivityDate": "2026-11-18T10:05:00Z",
    "lastCustomerNotificationDateTime": None,
    "resolution": "Rebuilt the Outlook profile; Outlook starts again.",
    "serviceLevelAgreementID": "Gold",
    "udf": {"Impact": "Medium", "Urgency": "Medium", "On-call": None, "Vendor Case ID": None},
}


def picklist_frame() -> pd.DataFrame:
    rows = [
        {
            "entity": e,
            "field": f,
            "value": v,
            "label": label,
            "parent_value": p,
            "is_active": True,
            "sort_order": i,
        }
        for (e, f), values in PICKLISTS.items()
        for i, (v, label, p) in enumerate(values)
    ]
    frame = pd.DataFrame(rows)
    frame["value"] = frame["value"].astype("int64")
    frame["parent_value"] = frame["parent_value"].astype("Int64")
    return frame


def _value(entity: str, field: str, value: Any) -> Any:
    if isinstance(value, str) and (entity, field) in PICKLISTS:
        for v, label, _ in PICKLISTS[(entity, field)]:
            if label == value:
                return v
        raise KeyError(f"fixture: no {entity}.{field} label {value!r}")
    return value


def ticket(tid: int, **overrides: Any) -> dict[str, Any]:
    record = copy.deepcopy(TICKET)
    udf = dict(record.pop("udf"))
    udf.update(overrides.pop("udf", {}) or {})
    record.update(overrides)
    record["id"] = tid
    record["ticketNumber"] = record.get("ticketNumber") or f"T20261117.{tid:04d}"
    record = {k: _value("Tickets", k, v) for k, v in record.items()}
    record["userDefinedFields"] = [{"name": k, "value": v} for k, v in udf.items()]
    return record


def _default_children(tid: int, skip: set[str], created: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {"TicketNotes": [], "TimeEntries": [], "TicketAttachments": []}
    if "internal_note" not in skip:
        out["TicketNotes"].append(
            {
                "id": tid * 10 + 1,
                "ticketID": tid,
                "title": "Work log",
                "description": WORKLOG,
                "noteType": 3,
                "publish": 2,
                "creatorResourceID": 1,
                "createDateTime": created,
            }
        )
    if "customer_note" not in skip:
        out["TicketNotes"].append(
            {
                "id": tid * 10 + 2,
                "ticketID": tid,
                "title": "Update",
                "description": "We rebuilt your mail profile and Outlook now opens normally again.",
                "noteType": 1,
                "publish": 1,
                "creatorResourceID": 1,
                "createDateTime": created,
            }
        )
    if "time_entry" not in skip:
        out["TimeEntries"].append(
            {
                "id": tid * 10 + 1,
                "ticketID": tid,
                "resourceID": 1,
                "dateWorked": created,
                "startDateTime": created,
                "endDateTime": created.replace("T09:", "T10:"),
                "summaryNotes": "Rebuilt the Outlook profile and tested sending mail.",
                "billingCodeID": 1,
                "hoursWorked": 1.0,
            }
        )
    if "attachment" not in skip:
        out["TicketAttachments"].append(
            {
                "id": tid * 10 + 1,
                "parentID": tid,
                "ticketID": tid,
                "title": "screenshot.png",
                "attachDate": "2026-11-17T09:05:00Z",
            }
        )
    return out


#: The lists of rows a fixture document may hold.
ROW_LISTS = ("tickets", "notes", "time_entries", "attachments", "history")


def _row(raw: dict[str, Any]) -> dict[str, Any]:
    """A fixture row without its ``why`` (the one-line reason it is there, for the reader)."""
    return {k: v for k, v in raw.items() if k != "why"}


def build(doc: dict[str, Any], config: Config | None = None) -> Frames:
    """Frames for a fixture document (``tickets``, ``notes``, ``time_entries``, ``attachments``, ``history``)."""
    config = config or Config()
    records: dict[str, list[dict[str, Any]]] = {
        "Tickets": [],
        "TicketNotes": [],
        "TimeEntries": [],
        "TicketAttachments": [],
    }
    for raw in doc.get("tickets", []):
        raw = _row(raw)
        tid = int(raw.pop("id"))
        skip = set(raw.pop("_skip", []))
        if "all" in skip:
            skip |= {"internal_note", "customer_note", "time_entry", "attachment"}
        rec = ticket(tid, **raw)
        records["Tickets"].append(rec)
        created = "2026-11-17T09:30:00Z"
        for entity, rows in _default_children(tid, skip, created).items():
            records[entity].extend(rows)
    for key, entity in (
        ("notes", "TicketNotes"),
        ("time_entries", "TimeEntries"),
        ("attachments", "TicketAttachments"),
    ):
        for raw in doc.get(key, []):
            records[entity].append({k: _value(entity, k, v) for k, v in _row(raw).items()})
    tables = {
        name: records_to_frame(
            ENTITIES[name],
            rows,
            ("Impact", "Urgency", "On-call", "Vendor Case ID") if name == "Tickets" else (),
        )
        for name, rows in records.items()
    }
    tables["Resources"] = records_to_frame(
        ENTITIES["Resources"],
        [
            {
                "id": i,
                "firstName": f"Tech{i}",
                "lastName": "Example",
                "userName": f"tech{i}",
                "isActive": True,
            }
            for i in (1, 2, 3, 9)
        ],
    )
    tables["Contacts"] = records_to_frame(
        ENTITIES["Contacts"],
        [
            {"id": 1000, "companyID": 100, "firstName": "Ann", "lastName": "Client"},
            {"id": 1001, "companyID": 200, "firstName": "Bob", "lastName": "Other"},
        ],
    )
    tables["Companies"] = records_to_frame(
        ENTITIES["Companies"],
        [
            {"id": 0, "companyName": "Our MSP"},
            {"id": 100, "companyName": "Acme"},
            {"id": 200, "companyName": "Globex"},
        ],
    )
    if "history" in doc:
        history = [_row(raw) for raw in doc["history"] or []]
        tables["TicketHistory"] = records_to_frame(ENTITIES["TicketHistory"], history)
    return build_frames(
        tables, picklist_frame(), None, config, web_url="https://ww1.autotask.net/", tenant_name="Test"
    )
