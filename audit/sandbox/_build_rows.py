"""Compliant steps of the builder for the ticket's child rows and the ticket row itself: time
entries, attachments, history, SLA results, the ticket record and its ground truth."""

from __future__ import annotations

from audit.sandbox import _texts as tx
from audit.sandbox._core import DAY, EVIDENCE, HOUR, MIN, fmt_ms
from audit.sandbox._draft import Draft, Entry
from audit.sandbox._reference import (
    BILLING_CODES,
    PRIORITIES,
    PRIORITY_BY_LEVEL,
    QUEUES,
    SLAS,
    SOURCES,
    STATUSES,
    TICKET_CATEGORIES,
    TICKET_TYPES,
)
from audit.sandbox.planting._registry import Step

__all__ = [
    "QUAL_FIELDS",
    "assignment_delay",
    "attachment_times",
    "attachments",
    "entry_billing",
    "entry_summary",
    "entry_times",
    "history",
    "history_edits",
    "resolution",
    "sla_result",
    "ticket_row",
    "time_entries",
]

_SLA_NAMES = {v: k for k, v in SLAS.items()}
QUAL_FIELDS = [
    "companyID",
    "contactID",
    "ticketType",
    "issueType",
    "subIssueType",
    "Impact",
    "Urgency",
    "source",
]
_CONTENT_TYPES = {"png": "image/png", "log": "text/plain", "pdf": "application/pdf", "jpg": "image/jpeg"}


# ------------------------------------------------------------------------------ time entries
def time_entries(d: Draft) -> None:
    r, s = d.r, d.s
    count = r.choice([1, 1, 2, 2, 3]) if s.closed else r.choice([0, 1, 1, 2])
    planted_row = d.planting is not None and d.planting.row == "time_entry"
    if planted_row:
        count = max(count, 1)
    for i in range(count):
        _time_entry(d, planted=planted_row and i == 0)


def entry_times(d: Draft) -> None:
    e, r, created = d.entry, d.r, d.s.created
    e.dur = r.randint(10 * MIN, 2 * HOUR)
    start = created + int(r.random() * max(0, d.work_end - created - e.dur))
    e.start, e.worked, e.end = start, start - start % DAY, start + e.dur


def entry_summary(d: Draft) -> None:
    d.entry.summary = tx.summary(d.r)


def entry_billing(d: Draft) -> None:
    d.entry.billing = (
        BILLING_CODES["Monitoring Response"]
        if d.queue == "Monitoring"
        else d.r.choice([BILLING_CODES["Remote Support"], BILLING_CODES["On-site Support"]])
    )


def _time_entry(d: Draft, *, planted: bool) -> None:
    r, ctx = d.r, d.ctx
    e = d.entry = Entry(planted=planted)
    d.step(Step.ENTRY_TIMES, entry_times, eligible=planted)
    eid = ctx.next_id("entry")
    d.te_ids.append(eid)
    # Entered by now: a late or planned entry's times may lie ahead, its record's dates never.
    stamp = min(e.end or e.start or e.worked + 17 * HOUR, ctx.as_of)
    resource = d.author if r.random() < 0.8 else r.choice(ctx.techs)
    d.step(Step.ENTRY_SUMMARY, entry_summary, eligible=planted)
    internal = r.choice([None, "", "Customer was friendly."])
    d.step(Step.ENTRY_BILLING, entry_billing, eligible=planted)
    ctx.out["TimeEntries"].append(
        {
            "id": eid,
            "ticketID": d.tid,
            "taskID": None,
            "resourceID": resource,
            "dateWorked": fmt_ms(e.worked, 1),
            "startDateTime": d.f(e.start),
            "endDateTime": d.f(e.end),
            "hoursWorked": round(e.dur / HOUR, 4) if e.start and e.end and e.end > e.start else 0.0,
            "summaryNotes": e.summary,
            "internalNotes": internal,
            "billingCodeID": e.billing,
            "roleID": 29683301,
            "isNonBillable": r.random() < 0.1,
            "createDateTime": d.f(stamp),
            "lastModifiedDateTime": d.f(stamp),
        }
    )
    if planted:
        assert d.planting is not None
        d.truth.append((d.planting.key, "time_entry", eid, e.worked))


# ------------------------------------------------------------------------------- attachments
def attachment_times(d: Draft) -> None:
    """Escalated tickets carry the evidence collected before escalating; others attach when a
    note or the description mentions evidence (CLO-04), and now and then anyway."""
    r, s = d.r, d.s
    if s.escalated:
        esc_first = d.esc_first
        if esc_first is not None:
            d.att_times = [
                s.created + int(r.uniform(0, 1) * (esc_first - s.created)) for _ in range(r.randint(1, 2))
            ]
        else:  # a New escalated ticket cannot happen (shapes), but stay compliant for ESC-04
            d.att_times = [d.during()]
        return
    texts = [d.desc or ""] + [f"{n['title'] or ''}\n{n['description'] or ''}" for n in d.notes]
    if r.random() < 0.08 or any(EVIDENCE.search(t) for t in texts):
        d.att_times = [d.during()]


def attachments(d: Draft) -> None:
    """Ticket-, note- and time-entry-level attachments at ``att_times``."""
    r, s, tid = d.r, d.s, d.tid
    for t in d.att_times:
        level_kind = r.random() if not s.escalated else 0.0
        parent, note_id, entry_id = tid, None, None
        if level_kind > 0.8 and d.notes:
            parent = note_id = d.notes[0]["id"]
        elif level_kind > 0.7 and d.te_ids:
            parent = entry_id = d.te_ids[0]
        name = r.choice(["screenshot.png", "error.log", "export.pdf", "photo.jpg"])
        if parent == tid:
            r.random()  # unused draw: keeps the random sequence, so each seed's tenant stays the same
        # ``ticketID`` is always the ticket (Autotask answers a ``ticketID`` query with the
        # attachments of the ticket, its notes and its time entries); ``parentID`` is the owner.
        d.ctx.out["TicketAttachments"].append(
            {
                "id": d.ctx.next_id("attach"),
                "parentID": parent,
                "ticketID": tid,
                "ticketNoteID": note_id,
                "timeEntryID": entry_id,
                "title": name,
                "fullPath": name,
                "contentType": _CONTENT_TYPES[name[-3:]],
                "fileSize": r.randint(2_000, 4_000_000),
                "attachDate": d.f(t),
                "publish": 1,
                "attachedByResourceID": d.author,
                "attachedByContactID": None,
                "attachmentType": "FILE_ATTACHMENT",
            }
        )


# ----------------------------------------------------------------------------------- history
def history(d: Draft, t: int, action: str, detail: str, who: int | None) -> None:
    """One TicketHistory row (see ``oracle`` for the format)."""
    d.ctx.out["TicketHistory"].append(
        {
            "id": d.ctx.next_id("hist"),
            "ticketID": d.tid,
            "action": action,
            "date": fmt_ms(t, 0),
            "detail": detail,
            "resourceID": who,
        }
    )


def history_edits(d: Draft) -> None:
    """Now and then a qualification field is set within the first minutes (QUA-10 passes)."""
    r = d.r
    if r.random() < 0.3:
        history(
            d,
            d.s.created + r.randint(5_000, 150_000),
            "Field Changed",
            f"{r.choice(QUAL_FIELDS)}:  -> set",
            d.author,
        )


def assignment_delay(d: Draft) -> None:
    r = d.r
    d.assign_delay = r.randint(MIN, 12 * MIN) if d.p12 else r.randint(MIN, 4 * HOUR)


def ticket_history(d: Draft) -> None:
    s = d.s
    history(d, s.created, "Created", "Ticket created", None if d.email else d.author)
    d.step(Step.HISTORY_EDITS, history_edits)
    if d.assigned is not None:
        d.step(Step.ASSIGNMENT_DELAY, assignment_delay)
        history(
            d, s.created + d.assign_delay, "Field Changed", f"assignedResourceID:  -> {d.assigned}", d.author
        )
    if d.completed is not None:
        history(
            d,
            d.completed,
            "Field Changed",
            f"status: {STATUSES['In Progress']} -> {STATUSES['Complete']}",
            d.author,
        )


# ------------------------------------------------------------------------------- SLA results
def sla_result(d: Draft) -> tuple[bool | None, bool | None]:
    """The SLA result row (when the ticket has an SLA); returns (first response met, resolution met)."""
    first, resolved, created = d.first, d.resolved, d.s.created
    met_first = None if d.sla_id is None or d.fr_due is None or first is None else first <= d.fr_due
    met_res = None if d.sla_id is None or d.res_due is None or resolved is None else resolved <= d.res_due
    if d.sla_id is not None:
        d.ctx.out["ServiceLevelAgreementResults"].append(
            {
                "id": d.ctx.next_id("sla"),
                "ticketID": d.tid,
                "serviceLevelAgreementName": _SLA_NAMES[d.sla_id],
                "isFirstResponseMet": met_first,
                "firstResponseElapsedHours": None if first is None else round((first - created) / HOUR, 4),
                "isResolutionPlanMet": None,
                "isResolutionMet": met_res,
                "resolutionElapsedHours": None if resolved is None else round((resolved - created) / HOUR, 4),
            }
        )
    return met_first, met_res


# -------------------------------------------------------------------------------- the ticket
def resolution(d: Draft) -> None:
    r, s = d.r, d.s
    if s.closed or s.open_resolution:
        d.resolution = tx.resolution(r)
    else:
        d.resolution = r.choice([None, "", "", "   "])


def ticket_row(d: Draft, last_act: int, met: tuple[bool | None, bool | None]) -> None:
    r, s, ctx, created = d.r, d.s, d.ctx, d.s.created
    day = created // DAY
    ctx.day_seq[day] = ctx.day_seq.get(day, 0) + 1
    completed_by = None
    if d.completed is not None:
        completed_by = d.assigned if r.random() < 0.8 else r.choice(ctx.techs) if r.random() < 0.5 else None
    d.step(Step.RESOLUTION, resolution)
    f, fr_due, met_first, met_res = d.f, d.fr_due, met[0], met[1]
    ctx.out["Tickets"].append(
        {
            "id": d.tid,
            "ticketNumber": f"T{fmt_ms(created)[:10].replace('-', '')}.{ctx.day_seq[day]:04d}",
            "title": d.title,
            "description": d.desc,
            "status": STATUSES[s.status],
            "priority": PRIORITIES["Urgent (legacy)" if d.level == 0 else PRIORITY_BY_LEVEL[d.level]],
            "queueID": None if d.queue is None else QUEUES[d.queue],
            "ticketType": None if d.ttype is None else TICKET_TYPES[d.ttype],
            "ticketCategory": TICKET_CATEGORIES[
                "RMM Alert" if s.source == "Monitoring Alert" else "Standard"
            ],
            "issueType": d.issue,
            "subIssueType": d.sub,
            "source": None if d.source is None else SOURCES[d.source],
            "companyID": d.company,
            "contactID": d.contact,
            "assignedResourceID": d.assigned,
            "assignedResourceRoleID": None if d.assigned is None else 29683301,
            "creatorResourceID": None if d.email else d.author,
            "createdByContactID": d.contact if d.email else None,
            "createDate": f(created),
            "firstResponseDateTime": f(d.first),
            "firstResponseDueDateTime": f(fr_due),
            "resolutionPlanDateTime": None,
            "resolutionPlanDueDateTime": None if fr_due is None else f(fr_due + HOUR),
            "resolvedDateTime": f(d.resolved),
            "resolvedDueDateTime": f(d.res_due),
            "completedDate": f(d.completed),
            "completedByResourceID": completed_by,
            "dueDateTime": f(d.res_due),
            "lastActivityDate": f(last_act),
            "lastCustomerNotificationDateTime": f(d.last_notification),
            "lastCustomerVisibleActivityDateTime": f(max(d.customer_times)) if d.customer_times else None,
            "resolution": d.resolution,
            "serviceLevelAgreementID": d.sla_id,
            "serviceLevelAgreementHasBeenMet": None
            if d.sla_id is None
            else bool(met_first is not False and met_res is not False),
            "externalID": r.choice([None, "", f"INC{r.randint(10000, 99999)}"]),
            "userDefinedFields": [
                {"name": "Impact", "value": d.impact_v},
                {"name": "Urgency", "value": d.urgency_v},
                {"name": "On-call", "value": d.on_call},
                {"name": "Vendor Case ID", "value": d.vendor_case},
            ],
        }
    )
