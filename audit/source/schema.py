"""The Autotask entities the audit reads: fields, types, watermarks.

This is the single description of the data that the client (``IncludeFields``), the sandbox
(generator and emulator), the extractor, the snapshot store and the frames all share.
Each entity's fields are held to the published REST swagger by ``audit/sandbox/autotask_fields.json``
(its ``source`` block says which copy) and ``tests/source/test_schema.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "ENTITIES",
    "REFERENCE_ENTITIES",
    "TICKET_ENTITIES",
    "UDF_PREFIX",
    "EntitySpec",
    "FieldType",
    "entity",
]

#: Column prefix for user-defined fields once flattened into a frame (``udf:Impact``).
UDF_PREFIX = "udf:"


class FieldType(StrEnum):
    INT = "int"  # ids and picklist values (integers on records)
    STR = "str"  # text; null and "" are kept distinct
    DATETIME = "datetime"  # ISO-8601, UTC, with or without "Z"; stored as UTC
    DECIMAL = "decimal"  # arrives as "3.5000" or 3.5
    BOOL = "bool"  # true/false, or 1/0 (Contacts.isActive)


I, S, D, F, B = FieldType.INT, FieldType.STR, FieldType.DATETIME, FieldType.DECIMAL, FieldType.BOOL  # noqa: E741  (compact field tables below)


@dataclass(frozen=True)
class EntitySpec:
    """One Autotask entity as the audit reads it."""

    name: str  # the REST path segment, e.g. "Tickets"
    fields: dict[str, FieldType]  # every field the audit asks for (IncludeFields), id first
    watermark: str | None = None  # incremental extraction field; None = full refresh each run
    has_udfs: bool = False  # items carry ``userDefinedFields``
    reference: bool = False  # reference data: refreshed in full every run
    picklists: tuple[str, ...] = ()  # fields whose labels come from entityInformation
    child_of_ticket: bool = False  # rows hang under a ticket (``ticketID``)
    key: str = "id"  # identity used for de-duplication
    udf_names: tuple[str, ...] = field(default=())  # informative; real list comes from the tenant
    # DATETIME fields that hold a calendar day: Autotask returns a date-only field as that day's
    # midnight without converting it to UTC (developer help, "Introduction to REST API calls",
    # Timestamp format), so the day is the tenant's local day, not a UTC one.
    date_only: tuple[str, ...] = ()

    @property
    def include_fields(self) -> list[str]:
        """Field names for ``IncludeFields`` (never ``userDefinedFields``: that is a 500)."""
        return list(self.fields)


TICKETS = EntitySpec(
    name="Tickets",
    fields={
        "id": I,
        "ticketNumber": S,
        "title": S,
        "description": S,
        "status": I,
        "priority": I,
        "queueID": I,
        "ticketType": I,
        "ticketCategory": I,
        "issueType": I,
        "subIssueType": I,
        "source": I,
        "companyID": I,
        "contactID": I,
        "assignedResourceID": I,
        "assignedResourceRoleID": I,
        "creatorResourceID": I,
        "createdByContactID": I,
        "createDate": D,
        "firstResponseDateTime": D,
        "firstResponseDueDateTime": D,
        "resolutionPlanDateTime": D,
        "resolutionPlanDueDateTime": D,
        "resolvedDateTime": D,
        "resolvedDueDateTime": D,
        "completedDate": D,
        "completedByResourceID": I,
        "dueDateTime": D,
        "lastActivityDate": D,
        "lastCustomerNotificationDateTime": D,
        "lastCustomerVisibleActivityDateTime": D,
        "resolution": S,
        "serviceLevelAgreementID": I,
        "serviceLevelAgreementHasBeenMet": B,
        "externalID": S,
    },
    watermark="lastActivityDate",
    has_udfs=True,
    picklists=(
        "status",
        "priority",
        "queueID",
        "source",
        "issueType",
        "subIssueType",
        "ticketType",
        "ticketCategory",
        "serviceLevelAgreementID",
    ),
    udf_names=("Impact", "Urgency", "On-call", "Vendor Case ID"),
)

TICKET_NOTES = EntitySpec(
    name="TicketNotes",
    fields={
        "id": I,
        "ticketID": I,
        "title": S,
        "description": S,
        "noteType": I,
        "publish": I,
        "creatorResourceID": I,
        "createdByContactID": I,
        "createDateTime": D,
        "lastActivityDate": D,
    },
    watermark="lastActivityDate",
    picklists=("noteType", "publish"),
    child_of_ticket=True,
)

TIME_ENTRIES = EntitySpec(
    name="TimeEntries",
    fields={
        "id": I,
        "ticketID": I,
        "taskID": I,
        "resourceID": I,
        "dateWorked": D,
        "startDateTime": D,
        "endDateTime": D,
        "hoursWorked": F,
        "summaryNotes": S,
        "internalNotes": S,
        "billingCodeID": I,
        "roleID": I,
        "isNonBillable": B,
        "createDateTime": D,
        "lastModifiedDateTime": D,
    },
    watermark="lastModifiedDateTime",
    child_of_ticket=True,
    date_only=("dateWorked",),
)

TICKET_ATTACHMENTS = EntitySpec(
    name="TicketAttachments",
    fields={
        "id": I,
        "parentID": I,
        "ticketID": I,
        "ticketNoteID": I,
        "timeEntryID": I,
        "title": S,
        "fullPath": S,
        "contentType": S,
        "fileSize": F,
        "attachDate": D,
        "publish": I,
        "attachedByResourceID": I,
        "attachedByContactID": I,
        "attachmentType": S,
    },
    # No watermark: since Autotask 2021.1 an attachment query must name its tickets
    # (``ticketID eq|in``), so attachments are fetched by ticket, never by ``attachDate``. The
    # rows of a ticket are its own attachments and those of its notes and time entries
    # (``parentID`` is the ticket, note or time entry; ``ticketID`` is always the ticket).
    watermark=None,
    child_of_ticket=True,
)

SLA_RESULTS = EntitySpec(
    name="ServiceLevelAgreementResults",
    fields={
        "id": I,
        "ticketID": I,
        "serviceLevelAgreementName": S,
        "isFirstResponseMet": B,
        "firstResponseElapsedHours": F,
        "isResolutionPlanMet": B,
        "isResolutionMet": B,
        "resolutionElapsedHours": F,
    },
    watermark=None,  # refreshed for the tickets that changed (ticketID in [...])
    child_of_ticket=True,
)

TICKET_HISTORY = EntitySpec(
    name="TicketHistory",
    fields={"id": I, "ticketID": I, "action": S, "date": D, "detail": S, "resourceID": I},
    watermark=None,  # one request per ticket (a single ticketID eq condition): budgeted, optional
    child_of_ticket=True,
)

RESOURCES = EntitySpec(
    name="Resources",
    fields={"id": I, "firstName": S, "lastName": S, "email": S, "userName": S, "isActive": B},
    reference=True,
)

COMPANIES = EntitySpec(name="Companies", fields={"id": I, "companyName": S, "isActive": B}, reference=True)

CONTACTS = EntitySpec(
    name="Contacts",
    fields={
        "id": I,
        "companyID": I,
        "firstName": S,
        "lastName": S,
        "emailAddress": S,
        "isActive": B,
    },
    reference=True,
)

BILLING_CODES = EntitySpec(
    name="BillingCodes",
    fields={"id": I, "name": S, "isActive": B, "useType": I},
    reference=True,
)

DELETED_TICKET_LOGS = EntitySpec(
    name="DeletedTicketLogs",
    fields={"id": I, "ticketID": I, "ticketNumber": S, "deletedDateTime": D},
    watermark="deletedDateTime",
)

DELETED_TICKET_ACTIVITY_LOGS = EntitySpec(
    name="DeletedTicketActivityLogs",
    # A note, time entry or attachment of ``ticketID`` was deleted (``typeID`` says which);
    # the deleted row's own id is not given, so the extractor re-reads that ticket's children.
    fields={
        "id": I,
        "ticketID": I,
        "ticketNumber": S,
        "typeID": I,
        "noteOrAttachmentTitle": S,
        "activityDateTime": D,
        "startDateTime": D,
        "endDateTime": D,
        "hoursWorked": F,
        "createdByResourceID": I,
        "deletedByResourceID": I,
        "deletedDateTime": D,
    },
    watermark="deletedDateTime",
)

#: Every entity, in extraction order (reference data first, tickets before their children).
ENTITIES: dict[str, EntitySpec] = {
    spec.name: spec
    for spec in (
        RESOURCES,
        COMPANIES,
        CONTACTS,
        BILLING_CODES,
        TICKETS,
        TICKET_NOTES,
        TIME_ENTRIES,
        TICKET_ATTACHMENTS,
        SLA_RESULTS,
        TICKET_HISTORY,
        DELETED_TICKET_LOGS,
        DELETED_TICKET_ACTIVITY_LOGS,
    )
}
TICKET_ENTITIES = ("Tickets", "TicketNotes", "TimeEntries", "TicketAttachments")
REFERENCE_ENTITIES = tuple(n for n, s in ENTITIES.items() if s.reference)


def entity(name: str) -> EntitySpec:
    """The spec of an entity by its REST name (case-insensitive, as the server is)."""
    for key, spec in ENTITIES.items():
        if key.lower() == name.lower():
            return spec
    raise KeyError(f"unknown Autotask entity {name!r}; known: {', '.join(ENTITIES)}")
