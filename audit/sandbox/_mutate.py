"""Incremental changes to a sandbox tenant: edits with watermark bumps, new tickets, deletions.

Used by the extractor's incremental tests: after ``mutate_tenant`` the emulator serves the
changed rows with their watermark fields (Tickets/TicketNotes ``lastActivityDate``,
TimeEntries ``lastModifiedDateTime``) at ``at``, new tickets with their children,
``DeletedTicketLogs`` rows for the deleted tickets (whose children are gone too), and
``DeletedTicketActivityLogs`` rows for deleted notes, time entries and attachments of tickets
that stay — logged as Autotask logs them: the ticket, the kind (``typeID``), the title or the
times worked, never the deleted row's id; the ticket's ``lastActivityDate`` does not move.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from audit.sandbox._builder import build_ticket
from audit.sandbox._core import DAY, HOUR, MIN, FastRandom, GenerationState, Shape, fmt_ms, to_ms
from audit.sandbox._reference import DELETED_ACTIVITY_TYPES
from audit.sandbox.model import Tenant
from audit.sandbox.oracle import check_tenant

__all__ = ["mutate_tenant"]

_CHILDREN = (
    "TicketNotes",
    "TimeEntries",
    "TicketAttachments",
    "ServiceLevelAgreementResults",
    "TicketHistory",
)


def _sample(rng: FastRandom, rows: list[dict[str, Any]], fraction: float) -> list[dict[str, Any]]:
    if not rows or fraction <= 0:
        return []
    count = min(len(rows), max(1, round(fraction * len(rows))))
    return rng.sample(rows, count)


def _new_tickets(tenant: Tenant, rng: FastRandom, at: datetime, count: int) -> dict[str, list[int]]:
    """Build ``count`` fresh compliant tickets created shortly before ``at``, with children."""
    people = {k: tenant.records[k] for k in ("Resources", "Companies", "Contacts")}
    ctx = GenerationState(rng, at, people)
    for kind, entity in (
        ("note", "TicketNotes"),
        ("entry", "TimeEntries"),
        ("attach", "TicketAttachments"),
        ("hist", "TicketHistory"),
        ("sla", "ServiceLevelAgreementResults"),
    ):
        ctx.ids[kind] = max([ctx.ids[kind]] + [row["id"] for row in tenant.records.get(entity, [])])
    for t in tenant.records["Tickets"]:  # keep ticket numbers unique per day
        number = t["ticketNumber"]
        day = to_ms(datetime.strptime(number[1:9], "%Y%m%d").replace(tzinfo=UTC)) // DAY
        ctx.day_seq[day] = max(ctx.day_seq.get(day, 0), int(number.split(".")[1]))
    logged = [row["ticketID"] for row in tenant.records.get("DeletedTicketLogs", [])]
    next_id = max([41_200] + [t["id"] for t in tenant.records["Tickets"]] + logged)
    ctx.long_notes = 3  # no more 30,000-character notes
    at_ms = ctx.as_of
    added: list[int] = []
    for _ in range(count):
        created = at_ms - rng.randint(40 * MIN, 20 * HOUR)
        shape = Shape(
            created=created,
            level=rng.choice([2, 3, 3, 4, 4]),
            closed=False,
            status=rng.choice(["New", "In Progress"]),
            escalated=False,
            source="Email",
            queue="N1 - Support",
        )
        next_id += rng.randint(1, 3)
        build_ticket(ctx, shape, next_id)
        added.append(next_id)
    out = {"Tickets": added}
    for entity, rows in ctx.out.items():
        if entity != "Tickets":
            out[entity] = [row["id"] for row in rows]
        tenant.records.setdefault(entity, []).extend(rows)
    return out


def _activity_log(
    row: dict[str, Any], entity: str, ticket: dict[str, Any], log_id: int, stamp: str, deleted_by: int | None
) -> dict[str, Any]:
    """The DeletedTicketActivityLogs row Autotask writes when ``row`` (a child) is deleted."""
    entry = entity == "TimeEntries"
    kind = {
        "TicketNotes": "Ticket Note",
        "TimeEntries": "Time Entry",
        "TicketAttachments": "Ticket Attachment",
    }
    return {
        "id": log_id,
        "ticketID": ticket["id"],
        "ticketNumber": ticket["ticketNumber"],
        "typeID": DELETED_ACTIVITY_TYPES[kind[entity]],
        "noteOrAttachmentTitle": None if entry else row.get("title"),
        "activityDateTime": row.get("dateWorked")
        if entry
        else row.get("createDateTime") or row.get("attachDate"),
        "startDateTime": row.get("startDateTime") if entry else None,
        "endDateTime": row.get("endDateTime") if entry else None,
        "hoursWorked": row.get("hoursWorked") if entry else None,
        "createdByResourceID": row.get("resourceID")
        if entry
        else row.get("creatorResourceID") or row.get("attachedByResourceID"),
        "deletedByResourceID": deleted_by,
        "deletedDateTime": stamp,
    }


def _delete_children(tenant: Tenant, rng: FastRandom, count: int, stamp: str) -> dict[str, list[int]]:
    """Delete ``count`` notes, ``count`` time entries and ``count`` attachments of tickets that stay
    (a deleted note or time entry takes its attachments along) and log each deletion."""
    rec = tenant.records
    tickets = {t["id"]: t for t in rec["Tickets"]}
    attachments = rec.get("TicketAttachments", [])
    victims: dict[str, set[int]] = {}
    for entity in ("TicketNotes", "TimeEntries", "TicketAttachments"):
        rows = [r for r in rec.get(entity, []) if r.get("ticketID") in tickets]
        victims[entity] = {r["id"] for r in rng.sample(rows, min(count, len(rows)))}
    # Attachments of the deleted notes and time entries go with them.
    victims["TicketAttachments"] |= {
        a["id"]
        for a in attachments
        if a.get("ticketNoteID") in victims["TicketNotes"] or a.get("timeEntryID") in victims["TimeEntries"]
    }
    logs = rec.setdefault("DeletedTicketActivityLogs", [])
    log_id = max([0] + [row["id"] for row in logs])
    deleted_by = rec["Resources"][0]["id"] if rec.get("Resources") else None
    for entity, ids in victims.items():
        for row in rec[entity]:
            if row["id"] in ids:
                log_id += 1
                logs.append(_activity_log(row, entity, tickets[row["ticketID"]], log_id, stamp, deleted_by))
        rec[entity] = [row for row in rec[entity] if row["id"] not in ids]
    return {entity: sorted(ids) for entity, ids in victims.items()}


def mutate_tenant(
    tenant: Tenant,
    fraction: float = 0.01,
    *,
    seed: int,
    at: datetime,
    deletions: int = 3,
    new_tickets: int | None = None,
    deleted_children: int = 0,
) -> dict[str, Any]:
    """Change about ``fraction`` of tickets, notes and time entries in place (text edits, watermark
    bumped to ``at``), add a few tickets with children, delete ``deletions`` tickets with their
    children and log them in ``DeletedTicketLogs``, delete ``deleted_children`` notes, time
    entries and attachments of other tickets and log them in ``DeletedTicketActivityLogs``.
    The ground truth is recomputed with the oracle (with history) at ``max(tenant.as_of, at)``,
    which becomes the tenant's as-of.

    Returns ``{"at", "changed": {entity: ids}, "added": {entity: ids}, "deleted": {entity: ids},
    "deleted_children": {entity: ids}}``.
    """
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    rng = FastRandom(seed)
    stamp = fmt_ms(to_ms(at))
    rec = tenant.records
    changed: dict[str, list[int]] = {"Tickets": [], "TicketNotes": [], "TimeEntries": []}

    tickets_by_id = {t["id"]: t for t in rec["Tickets"]}
    for t in _sample(rng, rec["Tickets"], fraction):
        t["externalID"] = f"INC{rng.randint(10000, 99999)}"
        if t["description"]:
            t["description"] = f"{t['description']}\n\n(updated by the customer)"
        t["lastActivityDate"] = stamp
        changed["Tickets"].append(t["id"])
    for n in _sample(rng, rec["TicketNotes"], fraction):
        if n["description"]:
            n["description"] = f"{n['description']} (edited)"
        n["lastActivityDate"] = stamp
        changed["TicketNotes"].append(n["id"])
        parent = tickets_by_id.get(n["ticketID"])
        if parent is not None:  # a note edit is ticket activity too
            parent["lastActivityDate"] = stamp
            changed["Tickets"].append(parent["id"])
    for e in _sample(rng, rec["TimeEntries"], fraction):
        e["internalNotes"] = f"{e['internalNotes'] or ''} corrected".strip()
        e["lastModifiedDateTime"] = stamp
        changed["TimeEntries"].append(e["id"])
    changed["Tickets"] = sorted(set(changed["Tickets"]))

    victims = rng.sample(rec["Tickets"], min(deletions, len(rec["Tickets"])))
    gone = {t["id"] for t in victims}
    deleted: dict[str, list[int]] = {"Tickets": sorted(gone)}
    rec["Tickets"] = [t for t in rec["Tickets"] if t["id"] not in gone]
    for entity in _CHILDREN:
        keep: list[dict[str, Any]] = []
        drop: list[dict[str, Any]] = []
        for row in rec.get(entity, []):
            owned = row.get("ticketID") in gone or (
                entity == "TicketAttachments" and row.get("parentID") in gone
            )
            (drop if owned else keep).append(row)
        rec[entity] = keep
        deleted[entity] = [row["id"] for row in drop]
    logs = rec.setdefault("DeletedTicketLogs", [])
    log_id = max([0] + [row["id"] for row in logs])
    for t in sorted(victims, key=lambda v: v["id"]):
        log_id += 1
        logs.append(
            {"id": log_id, "ticketID": t["id"], "ticketNumber": t["ticketNumber"], "deletedDateTime": stamp}
        )
    children = _delete_children(tenant, rng, deleted_children, stamp) if deleted_children else {}
    for entity in ("TicketNotes", "TimeEntries"):
        removed = set(deleted[entity]) | set(children.get(entity, ()))
        changed[entity] = [i for i in changed[entity] if i not in removed]
    changed["Tickets"] = [i for i in changed["Tickets"] if i not in gone]

    count = new_tickets if new_tickets is not None else max(2, round(fraction * len(rec["Tickets"]) / 4))
    added = _new_tickets(tenant, rng, at, count)

    tenant.as_of = max(tenant.as_of, at)
    tenant.ground_truth = check_tenant(tenant, tenant.as_of, with_history=True)
    return {"at": stamp, "changed": changed, "added": added, "deleted": deleted, "deleted_children": children}
