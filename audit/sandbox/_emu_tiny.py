"""A small hand-made tenant: the emulator's test fixture and ``sandbox serve --tiny``.

Deliberately independent of the generator so the emulator can be tested (and served) on its
own; it covers every shape the facts describe: timestamps with and without ``Z`` and with
varying fractions, ``null`` and ``""``, decimals as strings, 1/0 booleans on Contacts,
UDF lists with null values, picklists with string values and parent values.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from audit.sandbox.model import Tenant

__all__ = ["tiny_tenant"]

_UDFS = ("Impact", "Urgency", "On-call", "Vendor Case ID")


def _pick(value: int, label: str, *, parent: int | None = None, active: bool = True) -> dict[str, Any]:
    return {
        "value": str(value),
        "label": label,
        "isActive": active,
        "isDefaultValue": False,
        "sortOrder": value,
        "parentValue": None if parent is None else str(parent),
        "isSystem": True,
    }


def _field(
    name: str, data_type: str, picks: list[dict[str, Any]] | None = None, parent: str | None = None
) -> dict[str, Any]:
    return {
        "name": name,
        "dataType": data_type,
        "length": 0,
        "isRequired": name == "id",
        "isReadOnly": name == "id",
        "isQueryable": True,
        "isReference": False,
        "referenceEntityType": "",
        "isPickList": picks is not None,
        "picklistValues": picks,
        "picklistParentValueField": parent or "",
        "isSupportedWebhookField": False,
    }


def _ticket(i: int, **over: Any) -> dict[str, Any]:
    day = 10 + i
    base: dict[str, Any] = {
        "id": 1000 + i,
        "ticketNumber": f"T202611{day:02d}.{i:04d}",
        "title": f"Ticket {i}",
        "description": f"Printer on floor {i} is jammed",
        "status": 1,
        "priority": 2,
        "queueID": 8,
        "ticketType": 1,
        "ticketCategory": 3,
        "issueType": 10,
        "subIssueType": 101,
        "source": 4,
        "companyID": 1,
        "contactID": 30,
        "assignedResourceID": 29682885,
        "assignedResourceRoleID": 7,
        "creatorResourceID": 29682885,
        "createdByContactID": None,
        "createDate": f"2026-11-{day:02d}T09:15:52.407Z",
        "firstResponseDateTime": None,
        "firstResponseDueDateTime": f"2026-11-{day:02d}T13:00:00Z",
        "resolutionPlanDateTime": None,
        "resolutionPlanDueDateTime": None,
        "resolvedDateTime": None,
        "resolvedDueDateTime": None,
        "completedDate": None,
        "completedByResourceID": None,
        "dueDateTime": f"2026-11-{day + 2:02d}T17:00:00Z",
        "lastActivityDate": f"2026-11-{day:02d}T10:00:00.2Z",
        "lastCustomerNotificationDateTime": None,
        "lastCustomerVisibleActivityDateTime": None,
        "resolution": "",
        "serviceLevelAgreementID": 1,
        "serviceLevelAgreementHasBeenMet": None,
        "externalID": None,
        "userDefinedFields": [
            {"name": "Impact", "value": "High" if i % 2 else "Low"},
            {"name": "Urgency", "value": str(i)},
            {"name": "On-call", "value": None},
            {"name": "Vendor Case ID", "value": None if i % 3 else f"VC-{i}"},
        ],
    }
    base.update(over)
    return base


def tiny_tenant() -> Tenant:
    """Six tickets (ids 1001..1006) with notes, time entries, attachments, history and reference data."""
    tickets = [
        _ticket(1),
        _ticket(
            2,
            status=5,
            resolution="Replaced the toner",
            completedDate="2026-11-13T16:00:00Z",
            lastActivityDate="2026-11-13T16:00:00",
        ),  # an older tenant's naive timestamp
        _ticket(3, title="VPN down for ACME", priority=1, lastActivityDate="2026-11-14T08:30:00.123Z"),
        _ticket(4, title="Password reset", queueID=9, assignedResourceID=None, source=-1),
        _ticket(5, title="vpn slow", status=8, lastActivityDate="2026-11-15T23:59:59.9999999Z"),
        _ticket(6, title="Email bounce", status=7, serviceLevelAgreementHasBeenMet=True),
    ]
    notes = [
        {
            "id": 5000 + n,
            "ticketID": 1000 + t,
            "title": f"Note {n}",
            "description": "Called the customer",
            "noteType": 1,
            "publish": 1 if n % 2 else 2,
            "creatorResourceID": 29682885,
            "createdByContactID": None,
            "createDateTime": f"2026-11-{10 + t:02d}T1{n % 10}:00:00Z",
            "lastActivityDate": f"2026-11-{10 + t:02d}T1{n % 10}:00:00Z",
        }
        for n, t in enumerate([1, 1, 2, 3, 3, 3, 5], start=1)
    ]
    time_entries = [
        {
            "id": 7000 + n,
            "ticketID": 1000 + t,
            "taskID": None,
            "resourceID": 29682885,
            "dateWorked": f"2026-11-{10 + t:02d}T00:00:00Z",
            "startDateTime": f"2026-11-{10 + t:02d}T09:00:00Z",
            "endDateTime": f"2026-11-{10 + t:02d}T10:30:00Z",
            "hoursWorked": "1.5000",
            "summaryNotes": "Worked",
            "internalNotes": "",
            "billingCodeID": 29682801,
            "roleID": 7,
            "isNonBillable": n == 2,
            "createDateTime": f"2026-11-{10 + t:02d}T10:31:00Z",
            "lastModifiedDateTime": f"2026-11-{10 + t:02d}T10:31:00Z",
        }
        for n, t in enumerate([1, 2, 3], start=1)
    ]
    history = [
        {
            "id": 9000 + n,
            "ticketID": 1001 + n % 2,
            "action": "Edit",
            "date": "2026-11-12T10:00:00Z",
            "detail": "Status changed",
            "resourceID": 29682885,
        }
        for n in range(4)
    ]
    records: dict[str, list[dict[str, Any]]] = {
        "Tickets": tickets,
        "TicketNotes": notes,
        "TimeEntries": time_entries,
        # The ticket's own file, one on note 5001 and one on time entry 7002: all carry the
        # ticket's ticketID; parentID is the object the file hangs on.
        "TicketAttachments": [
            {
                "id": 8001,
                "parentID": 1001,
                "ticketID": 1001,
                "ticketNoteID": None,
                "timeEntryID": None,
                "title": "screenshot.png",
                "attachDate": "2026-11-11T10:05:00Z",
                "publish": 1,
            },
            {
                "id": 8002,
                "parentID": 5001,
                "ticketID": 1001,
                "ticketNoteID": 5001,
                "timeEntryID": None,
                "title": "error.log",
                "attachDate": "2026-11-11T11:05:00Z",
                "publish": 1,
            },
            {
                "id": 8003,
                "parentID": 7002,
                "ticketID": 1002,
                "ticketNoteID": None,
                "timeEntryID": 7002,
                "title": "export.pdf",
                "attachDate": "2026-11-12T10:35:00Z",
                "publish": 1,
            },
        ],
        "ServiceLevelAgreementResults": [],
        "TicketHistory": history,
        "Resources": [
            {
                "id": 29682885,
                "firstName": "Ada",
                "lastName": "Tech",
                "email": "ada@example.invalid",
                "userName": "ada",
                "isActive": True,
            }
        ],
        "Companies": [{"id": 1, "companyName": "ACME", "isActive": True}],
        "Contacts": [
            {
                "id": 30,
                "companyID": 1,
                "firstName": "Carl",
                "lastName": "Client",
                "emailAddress": "carl@example.invalid",
                "isActive": 1,
            }
        ],
        "BillingCodes": [{"id": 29682801, "name": "Remote Support", "isActive": True, "useType": 1}],
        "DeletedTicketLogs": [],
    }
    fields = {
        "Tickets": [
            _field("id", "long"),
            _field("title", "string"),
            _field(
                "status",
                "integer",
                [
                    _pick(1, "New"),
                    _pick(5, "Complete"),
                    _pick(7, "Waiting Customer"),
                    _pick(8, "In Progress"),
                ],
            ),
            _field(
                "priority",
                "integer",
                [_pick(1, "High"), _pick(2, "Medium"), _pick(3, "Low"), _pick(4, "Critical")],
            ),
            _field("issueType", "integer", [_pick(10, "Hardware")]),
            _field("subIssueType", "integer", [_pick(101, "Printer", parent=10)], parent="issueType"),
            _field("lastActivityDate", "datetime"),
            _field("serviceLevelAgreementHasBeenMet", "boolean"),
        ],
        "TicketNotes": [
            _field("publish", "integer", [_pick(1, "All Autotask Users"), _pick(2, "Internal Project Team")])
        ],
    }
    udfs = {
        "Tickets": [
            {
                "name": n,
                "type": "string",
                "isRequired": False,
                "isPickList": n == "Impact",
                "picklistValues": [_pick(1, "High"), _pick(2, "Low")] if n == "Impact" else [],
                "udfType": 0,
            }
            for n in _UDFS
        ]
    }
    zone = {
        "zoneName": "Sandbox",
        "url": "https://webservices99.autotask.net/ATServicesRest/",
        "webUrl": "https://ww99.autotask.net/",
        "ci": 99,
    }
    return Tenant(
        seed=0,
        as_of=datetime(2026, 11, 20, tzinfo=UTC),
        records=records,
        fields=fields,
        udfs=udfs,
        zone=zone,
        name="Tiny Sandbox",
    )
