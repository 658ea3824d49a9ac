"""Reference data of the sandbox tenant: picklists, UDF definitions, people, text banks.

Picklist numbers are deliberately *tenant-specific* (not the common defaults of the API doc):
an audit that hard-codes ``Complete == 5`` must break on the sandbox, as it would on a real tenant.
"""

from __future__ import annotations

import json
import random
from functools import cache
from importlib import resources
from typing import Any

from audit.source.schema import ENTITIES, FieldType

__all__ = [
    "BILLING_CODES",
    "ISSUE_TYPES",
    "NOTE_TYPES",
    "PRIORITIES",
    "PUBLISH",
    "QUEUES",
    "SLAS",
    "SOURCES",
    "STATUSES",
    "SUB_ISSUE_TYPES",
    "TICKET_CATEGORIES",
    "TICKET_TYPES",
    "TICKET_UDFS",
    "autotask_fields",
    "build_fields",
    "build_people",
    "build_udfs",
]

# label -> value. Values are this tenant's (Complete is 29, not the usual 5).
STATUSES: dict[str, int] = {
    "New": 21,
    "In Progress": 22,
    "Waiting Customer": 23,
    "Escalate": 24,
    "Waiting Vendor": 25,
    "Waiting Materials": 26,
    "Dispatched": 27,
    "Waiting Approval": 28,
    "Complete": 29,
}
# "Urgent (legacy)" is a priority label outside the default priority_levels: it has no Pn level
# (P1/P2 rules do not apply; QUA-09 fails it). Inactive, as tenants keep retired values.
PRIORITIES: dict[str, int] = {"Critical": 31, "High": 32, "Medium": 33, "Low": 34, "Urgent (legacy)": 36}
PRIORITY_BY_LEVEL: dict[int, str] = {1: "Critical", 2: "High", 3: "Medium", 4: "Low"}
QUEUES: dict[str, int] = {
    "N1 - Support": 29682833,
    "N2 - Support": 29682834,
    "Monitoring": 29682837,
    "Projects": 29682839,
    "Recurring Tickets": 29682841,
}
SOURCES: dict[str, int] = {
    "Client Portal": -2,
    "Other": 10,
    "Phone": 12,
    "Email": 14,
    "In Person": 16,
    "Monitoring Alert": 18,
    "Web Form": 19,
}
TICKET_TYPES: dict[str, int] = {
    "Service Request": 41,
    "Incident": 42,
    "Problem": 43,
    "Change Request": 44,
    "Alert": 45,
}
TICKET_CATEGORIES: dict[str, int] = {"Standard": 103, "RMM Alert": 104, "Change": 105, "Field Service": 106}
SLAS: dict[str, int] = {"Standard SLA": 7, "Premium 24x7": 8, "Bronze Business Hours": 11}
# issueType label -> (value, {subIssueType label: value}); subIssueType parentValue = issueType value.
ISSUE_TYPES: dict[str, tuple[int, dict[str, int]]] = {
    "Hardware": (301, {"Laptop": 401, "Printer": 402, "Docking Station": 403}),
    "Software": (302, {"Office Suite": 411, "Line-of-Business App": 412, "Browser": 413}),
    "Network": (303, {"Wi-Fi": 421, "VPN": 422, "Firewall": 423}),
    "Email & Collaboration": (304, {"Mailbox": 431, "Teams": 432, "Shared Calendar": 433}),
    "Security": (305, {"Phishing": 441, "Malware": 442, "MFA": 443}),
    "Accounts & Access": (306, {"Password Reset": 451, "New User": 452, "Permissions": 453}),
}
SUB_ISSUE_TYPES: dict[int, int] = {  # subIssueType value -> its issueType value (parentValue)
    sub: parent for parent, subs in ISSUE_TYPES.values() for sub in subs.values()
}
NOTE_TYPES: dict[str, int] = {
    "Task Summary": 61,
    "Task Detail": 62,
    "Task Notes": 63,
    "Workflow Rule Note": 73,
    "Client Portal Note": 78,
    "Workflow Rule Action": 81,
    "Duplicate Ticket": 82,
    "Merged Into Ticket": 83,
    "Absorbed Ticket": 84,
    "Forward/Modify": 85,
    "Copied To Project": 86,
    "Surveys": 87,
    "RMM": 89,
    "BDR": 90,
    "Email Note": 91,
}
PUBLISH: dict[str, int] = {"All Autotask Users": 11, "Internal Project Team": 12, "Internal & Co-Managed": 14}
ATTACHMENT_PUBLISH: dict[str, int] = {"All Autotask Users": 1, "Internal Users Only": 2}
BILLING_CODES: dict[str, int] = {
    "Remote Support": 29683401,
    "On-site Support": 29683402,
    "Project Work": 29683403,
    "Monitoring Response": 29683404,
    "After Hours": 29683405,
    "Internal Admin": 29683406,
}
#: DeletedTicketActivityLogs.typeID: which kind of child was deleted. The sandbox's own values
#: (a tenant's come from entityInformation); the extractor never reads them.
DELETED_ACTIVITY_TYPES: dict[str, int] = {"Ticket Note": 1, "Time Entry": 2, "Ticket Attachment": 3}
TICKET_UDFS = ("Impact", "Urgency", "On-call", "Vendor Case ID")

_DATA_TYPES = {
    FieldType.INT: "integer",
    FieldType.STR: "string",
    FieldType.DATETIME: "datetime",
    FieldType.DECIMAL: "decimal",
    FieldType.BOOL: "boolean",
}


def _values(
    labels: dict[str, int],
    *,
    inactive: tuple[str, ...] = (),
    default: str | None = None,
    parents: dict[int, int] | None = None,
) -> list[dict[str, Any]]:
    """entityInformation picklistValues: ``value`` is a STRING there (an int on records)."""
    out = []
    for order, (label, value) in enumerate(labels.items(), start=1):
        out.append(
            {
                "value": str(value),
                "label": label,
                "isDefaultValue": label == default,
                "sortOrder": order,
                "parentValue": str(parents[value]) if parents else "",
                "isActive": label not in inactive,
                "isSystem": False,
            }
        )
    return out


def _ticket_picklists() -> dict[str, tuple[list[dict[str, Any]], str]]:
    issue_values = {label: value for label, (value, _) in ISSUE_TYPES.items()}
    sub_values = {label: value for _, subs in ISSUE_TYPES.values() for label, value in subs.items()}
    return {
        "status": (_values(STATUSES, default="New"), ""),
        "priority": (_values(PRIORITIES, inactive=("Urgent (legacy)",), default="Medium"), ""),
        "queueID": (_values(QUEUES), ""),
        "source": (_values(SOURCES, default="Email"), ""),
        "issueType": (_values(issue_values), ""),
        "subIssueType": (_values(sub_values, parents=SUB_ISSUE_TYPES), "issueType"),
        "ticketType": (_values(TICKET_TYPES, default="Service Request"), ""),
        "ticketCategory": (_values(TICKET_CATEGORIES, default="Standard"), ""),
        "serviceLevelAgreementID": (_values(SLAS), ""),
    }


@cache
def autotask_fields() -> dict[str, Any]:
    """The real API's field list per entity (``autotask_fields.json``: taken from Autotask's
    published REST swagger; its ``source`` says how): ``{entity: {"model", "has_udfs",
    "fields": {name: {"type": entityInformation dataType, "picklist": bool | None}}}}``."""
    text = resources.files("audit.sandbox").joinpath("autotask_fields.json").read_text(encoding="utf-8")
    entities: dict[str, Any] = json.loads(text)["entities"]
    return entities


def build_fields() -> dict[str, list[dict[str, Any]]]:
    """``entityInformation/fields`` per entity: every schema field, picklists filled in; the
    data type and picklist flag are the real API's (:func:`autotask_fields`)."""
    picklists: dict[str, dict[str, tuple[list[dict[str, Any]], str]]] = {
        "Tickets": _ticket_picklists(),
        "TicketNotes": {
            "noteType": (_values(NOTE_TYPES, default="Task Notes"), ""),
            "publish": (_values(PUBLISH, default="All Autotask Users"), ""),
        },
        "TicketAttachments": {"publish": (_values(ATTACHMENT_PUBLISH), "")},
        "TimeEntries": {"billingCodeID": (_values(BILLING_CODES), "")},
        "DeletedTicketActivityLogs": {"typeID": (_values(DELETED_ACTIVITY_TYPES), "")},
    }
    real = autotask_fields()
    out: dict[str, list[dict[str, Any]]] = {}
    for name, spec in ENTITIES.items():
        entity_lists = picklists.get(name, {})
        fields = []
        for fname, ftype in spec.fields.items():
            values, parent = entity_lists.get(fname, ([], ""))
            known = real.get(name, {}).get("fields", {}).get(fname, {})
            picklist = known.get("picklist")
            fields.append(
                {
                    "name": fname,
                    "dataType": known.get("type") or _DATA_TYPES[ftype],
                    "length": 0,
                    "isRequired": fname == "id",
                    "isReadOnly": fname == "id",
                    "isQueryable": True,
                    "isReference": fname.endswith("ID") and fname != "id" and not values,
                    "referenceEntityType": "",
                    "isPickList": bool(values) if picklist is None else picklist,
                    "picklistValues": values,
                    "picklistParentValueField": parent,
                    "isSupportedWebhookField": name in ("Tickets", "TicketNotes"),
                }
            )
        out[name] = fields
    return out


def build_udfs() -> dict[str, list[dict[str, Any]]]:
    """``entityInformation/userDefinedFields``: only Tickets have UDFs here (text UDFs).

    The data type is ``type`` here (the REST swagger's ``Field`` model of
    ``UserDefinedFieldInformationResultModel``), not ``dataType`` as in ``entityInformation/fields``.
    """
    ticket_udfs = [
        {
            "name": n,
            "label": n,
            "type": "string",
            "isPickList": False,
            "picklistValues": [],
            "isRequired": False,
            "isActive": True,
            "isEncrypted": False,
            "isProtected": False,
            "length": 100,
            "numberOfDecimalPlaces": 0,
            "sortOrder": i,
        }
        for i, n in enumerate(TICKET_UDFS, start=1)
    ]
    return {name: (ticket_udfs if name == "Tickets" else []) for name in ENTITIES}


_FIRST = [
    "Alex",
    "Sam",
    "Jordan",
    "Morgan",
    "Chris",
    "Taylor",
    "Jamie",
    "Robin",
    "Kim",
    "Lou",
    "Dana",
    "Noor",
    "Ines",
    "Yuki",
    "Omar",
    "Lena",
    "Marc",
    "Sofia",
    "Hugo",
    "Chloé",
    "Zoë",
    "Björn",
    "Amara",
    "Raj",
]
_LAST = [
    "Martin",
    "Bernard",
    "Dubois",
    "Nguyen",
    "Schmidt",
    "O'Brien",
    "Garcia",
    "Rossi",
    "Kowalski",
    "Haddad",
    "Tanaka",
    "Moreau",
    "Fischer",
    "Silva",
    "Okafor",
    "Larsen",
    "Novak",
    "Petit",
]
_COMPANY_WORDS = [
    "Acme",
    "Contoso",
    "Fabrikam",
    "Northwind",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Tyrell",
    "Cyberdyne",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Wonka",
    "Gringotts",
    "Oscorp",
    "Aperture",
    "Blue Sun",
    "Monarch",
]
_COMPANY_SUFFIX = ["Ltd", "SA", "GmbH", "& Co", "Logistics", "Dental", "Legal", "Bakery", "Studio", "Clinic"]


def build_people(rng: random.Random, *, technicians: int, tickets: int) -> dict[str, list[dict[str, Any]]]:
    """Resources, Companies (id 0 = the tenant's own company), Contacts, BillingCodes."""
    resources = []
    for i in range(technicians + 2):
        first, last = _FIRST[i % len(_FIRST)], _LAST[(i * 7) % len(_LAST)]
        system = i >= technicians  # the API user and an automation account
        if system:
            first, last = ("API", "User") if i == technicians else ("Workflow", "Automation")
        user = f"{first[0]}{last}".lower().replace("'", "").replace(" ", "")
        resources.append(
            {
                "id": 29682885 + i * 3,
                "firstName": first,
                "lastName": last,
                "email": f"{user}@sandbox-msp.example",
                "userName": user,
                "isActive": not (i == technicians - 1 and technicians > 4),  # one technician has left
            }
        )
    n_companies = max(12, min(600, tickets // 40))
    companies = [{"id": 0, "companyName": "Sandbox MSP (own company)", "isActive": True}]
    contacts: list[dict[str, Any]] = []
    contact_id = 30100
    for internal in ("Unmatched", "Helpdesk"):  # company 0 contacts: where unknown senders land
        contacts.append(
            {
                "id": contact_id,
                "companyID": 0,
                "firstName": internal,
                "lastName": "Sender",
                "emailAddress": f"{internal.lower()}@sandbox-msp.example",
                "isActive": 1,
            }
        )
        contact_id += 1
    for c in range(n_companies):
        cid = 174 + c * 2
        name = f"{_COMPANY_WORDS[c % len(_COMPANY_WORDS)]} {_COMPANY_SUFFIX[(c // len(_COMPANY_WORDS)) % len(_COMPANY_SUFFIX)]}"
        if c >= len(_COMPANY_WORDS) * len(_COMPANY_SUFFIX):
            name = f"{name} {c}"
        companies.append({"id": cid, "companyName": name, "isActive": rng.random() > 0.05})
        for _ in range(rng.randint(3, 8)):
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            contacts.append(
                {
                    "id": contact_id,
                    "companyID": cid,
                    "firstName": first,
                    "lastName": last,
                    "emailAddress": f"{first.lower()}.{last.lower().replace(chr(39), '')}@{name.split()[0].lower()}.example",
                    "isActive": 1 if rng.random() > 0.08 else 0,  # an integer on Contacts
                }
            )
            contact_id += 1
    billing = [
        {"id": v, "name": k, "isActive": k != "After Hours" or True, "useType": 1}
        for k, v in BILLING_CODES.items()
    ]
    return {"Resources": resources, "Companies": companies, "Contacts": contacts, "BillingCodes": billing}
