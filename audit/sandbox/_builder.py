"""One ticket and its children, from a shape: compliant by construction, plus its one planting.

Every field is derived from the ``Shape`` so that the ticket passes every catalog rule under the
default mapping; a ``planting`` key (see ``_violations``) switches exactly one defect on and the
ground truth records the failing checks that defect produces (cascades listed there).
All times are integer epoch milliseconds until they are written as text.
"""

from __future__ import annotations

from typing import Any

from audit.sandbox import _texts as tx
from audit.sandbox._core import (
    CELLS,
    CUSTOMER,
    DAY,
    EVIDENCE,
    HOUR,
    INTERNAL,
    MIN,
    SLA_WINDOWS,
    Ctx,
    Shape,
    fmt_ms,
)
from audit.sandbox._reference import (
    BILLING_CODES,
    ISSUE_TYPES,
    NOTE_TYPES,
    PRIORITIES,
    PRIORITY_BY_LEVEL,
    QUEUES,
    SLAS,
    SOURCES,
    STATUSES,
    TICKET_CATEGORIES,
    TICKET_TYPES,
)
from audit.sandbox._violations import ANCHORS, HISTORY_RULES, PLANTINGS

__all__ = ["build_ticket"]

_TE_RULES = ("LOG-04", "LOG-05", "LOG-06", "LOG-07")
_STAFF_TYPES = [NOTE_TYPES["Task Notes"], NOTE_TYPES["Task Summary"], NOTE_TYPES["Task Detail"]]
_ISSUE_LABELS = list(ISSUE_TYPES)
_SUBS = {label: list(subs.values()) for label, (_, subs) in ISSUE_TYPES.items()}
_SLA_VALUES = list(SLAS.values())
_SLA_NAMES = {v: k for k, v in SLAS.items()}
_QUAL_FIELDS = [
    "companyID",
    "contactID",
    "ticketType",
    "issueType",
    "subIssueType",
    "Impact",
    "Urgency",
    "source",
]


def _spell(r: Any, value: str) -> str:
    """UDF values are matched trimmed and case-insensitive: vary the spelling a little."""
    x = r.random()
    return value if x < 0.9 else f" {value.lower()}" if x < 0.95 else f"{value.upper()} "


def build_ticket(ctx: Ctx, s: Shape, tid: int) -> None:
    r, key, as_of = ctx.rng, s.planting, ctx.as_of
    style = 2 if r.random() < 0.06 else 0 if r.random() < 0.6 else 1  # Z + .407 / Z + .2 or none / no Z

    def f(ms: int | None) -> str | None:
        return None if ms is None else fmt_ms(ms, style)

    truth: list[tuple[str, str, int, int]] = []  # (rule, kind, row id, anchor ms or -1 = ticket anchor)

    # --- priority and the Impact x Urgency matrix (QUA-06/07/09)
    level = s.level
    if key == "QUA-09":
        if r.random() < 0.25:
            level = 0  # a priority label outside priority_levels: no Pn, QUA-09 fails
        impact, urgency = r.choice([c for lv, cells in CELLS.items() if lv != level for c in cells])
    else:
        impact, urgency = r.choice(CELLS[level])
    p12 = level in (1, 2)
    impact_v: str | None = _spell(r, impact)
    urgency_v: str | None = _spell(r, urgency)
    if key == "QUA-06":
        impact_v = r.choice(["Critical", "Hgh", "Very High"])
    if key == "QUA-06n":
        impact_v = r.choice([None, "", "   "])
    if key == "QUA-07":
        urgency_v = r.choice(["Critical", "Lw", "Normal"])
    if key == "QUA-07n":
        urgency_v = r.choice([None, "", "   "])

    # --- lifecycle
    created = s.created
    fr_win, res_win = SLA_WINDOWS[level]
    completed: int | None = None
    resolved: int | None = None
    if s.closed:
        span = as_of - 10 * MIN - created
        if s.window:
            span = min(span, 2 * DAY, s.week_start + 7 * DAY - 6 * HOUR - created)
        if key == "SLA-04":
            resolved = created + res_win + r.randint(10 * MIN, 6 * HOUR)
        else:
            resolved = created + int(r.uniform(0.15, 0.9) * min(res_win, span * 0.8))
        completed = resolved + r.randint(0, max(0, min(8 * HOUR, created + span - resolved)))
        work_end = completed
    else:
        if s.status == "New":
            work_end = created + r.randint(0, min(2 * HOUR, as_of - created - MIN))
        elif key == "CLO-05":  # resolved, left open, no activity for >= 5 days
            if s.window:
                work_end = s.week_start + r.randint(HOUR, 2 * DAY - HOUR)
            else:
                work_end = created + r.randint(30 * MIN, as_of - 5 * DAY - HOUR - created)
        elif s.open_resolution:  # resolved, awaiting confirmation, recent activity (CLO-05 passes)
            work_end = max(created + 10 * MIN, as_of - r.randint(HOUR, 4 * DAY))
        else:
            work_end = created + int(r.uniform(0.2, 1.0) * (as_of - MIN - created))
        if s.open_resolution:
            resolved = created + int(r.uniform(0.1, 0.9) * min(res_win, work_end - created))
    life = max(work_end - created, 0)

    def during(lo: float = 0.0, hi: float = 1.0) -> int:
        return created + int(r.uniform(lo, hi) * life)

    fr_due: int | None = created + fr_win
    res_due: int | None = created + res_win
    if not s.closed and resolved is None and res_due is not None and res_due <= as_of:
        res_due = as_of + r.randint(2 * HOUR, 72 * HOUR)  # waiting statuses pause the SLA clock
    first: int | None
    if s.status == "New" and created + fr_win > as_of and r.random() < 0.5:
        first = None  # still inside its first-response window: SLA-03 not applicable yet
    else:
        first = created + int(r.uniform(0.05, 0.9) * max(MIN, min(fr_win, life)))
        if resolved is not None:
            first = min(first, resolved)
    if key == "SLA-03":
        first = created + fr_win + r.randint(5 * MIN, 3 * HOUR)
        if resolved is not None and completed is not None and resolved < first:
            resolved = first + MIN
            completed = work_end = max(completed, resolved)
    sla_id: int | None = SLAS["Premium 24x7"] if p12 and r.random() < 0.6 else r.choice(_SLA_VALUES)
    if key == "SLA-01":
        sla_id = fr_due = res_due = None
    elif key == "SLA-02":
        if r.random() < 0.5:
            fr_due = None
        else:
            res_due = None

    # --- people, company, classification
    assigned: int | None = r.choice(ctx.techs)
    if key == "SLA-05" or (s.status == "New" and not p12 and r.random() < 0.5):
        assigned = None
    home: int = r.choice(ctx.companies)
    company: int | None = home
    contact: int | None = r.choice(ctx.contacts[home])
    if key == "INT-04":
        other = r.choice([c for c in ctx.companies[:50] if c != home])
        contact = r.choice(ctx.contacts[other])
    if key == "QUA-01":
        company, contact = 0, r.choice(ctx.contacts[0])
    if key == "QUA-01n":
        company = None
    if key == "QUA-02":
        contact = None
    source = None if key == "QUA-08" else s.source
    email = source == "Email"
    queue: str | None = "N1 - Support" if key == "ESC-06" else s.queue
    if key == "INT-05":
        queue = None
    ttype: str | None = (
        "Incident"
        if s.source == "Monitoring Alert"
        else r.choices(["Incident", "Service Request", "Problem"], [55, 35, 10])[0]
    )
    if key == "QUA-03":
        ttype = r.choice(["Change Request", "Alert"])
    if key == "QUA-03n":
        ttype = None
    issue_label = r.choice(_ISSUE_LABELS)
    issue: int | None = ISSUE_TYPES[issue_label][0]
    sub: int | None = r.choice(_SUBS[issue_label])
    if key == "QUA-04":
        issue = sub = None
    if key == "QUA-05":
        sub = r.choice(_SUBS[r.choice([k for k in _ISSUE_LABELS if k != issue_label])])
    if key == "QUA-05n":
        sub = None

    # --- text
    cname = ctx.company_names.get(company, "Unknown sender") if company is not None else "Unknown sender"
    short = cname.split(" (")[0].split()[0]
    svc, sym = r.choice(tx.SERVICES), r.choice(tx.SYMPTOMS)
    title: str | None
    if email:
        title = f"{short} - {svc} - {sym}"
        if key == "INT-01":
            title = r.choice([None, "", "   ", "<p> </p>"])
        elif key == "INT-03":
            title = r.choice(
                [
                    f"{svc} {sym}",
                    f"{short} - {sym}",
                    f"{short} -{svc}- {sym}",
                    f"FW: {sym}",
                    f"{short} - {svc} - ",
                ]
            )
    else:
        if ctx.counters["formula"] < len(tx.FORMULA_TITLES):  # every formula bait at least once
            title = tx.FORMULA_TITLES[ctx.counters["formula"]]
            ctx.counters["formula"] += 1
        else:
            title = (
                r.choice(tx.FORMULA_TITLES)
                if r.random() < 0.04
                else r.choice([f"{svc}: {sym}", f"[{svc}] {sym}"])
            )
    who = "a user"
    desc: str | None = tx.description(r, svc, sym, who)
    x = r.random()
    if key == "CLO-04":
        desc = tx.EVIDENCE_DESC.format(svc=svc, sym=sym)
    elif key == "INT-02":
        desc = r.choice([None, "", "  \n ", "<div><br></div>", "<p> </p>"])
    elif x < 0.02 or ctx.counters["img"] < 2:
        ctx.counters["img"] += 1
        desc = tx.IMG_DESC.format(svc=svc, sym=sym)
    elif not email and x < 0.1:
        desc = r.choice([None, ""])  # e-mail body rules only read e-mail tickets
    vendor_status = s.status == "Waiting Vendor"
    if s.escalated and (vendor_status or r.random() < 0.3) and key != "ESC-05":
        vendor_case: str | None = f"VND-{r.randint(100000, 999999)}"
    elif key == "ESC-05":
        vendor_case = r.choice([None, "", "  "])
    else:
        vendor_case = r.choice([None, None, "", "   "])  # whitespace is blank: not escalated
    on_call: str | None = (
        r.choice(["Yes", "yes", " TRUE", "1", "On-call"]) if p12 else r.choice([None, "", "No", "Yes"])
    )
    if key == "SLA-06":
        on_call = r.choice([None, "", "No", "false", "  "])

    # --- notes
    notes = ctx.out["TicketNotes"]
    ticket_notes: list[dict[str, Any]] = []

    def note(
        t: int,
        title_: str | None,
        text: str | None,
        ntype: int,
        publish: int,
        creator: int | None,
        by_contact: int | None = None,
    ) -> dict[str, Any]:
        row = {
            "id": ctx.next_id("note"),
            "ticketID": tid,
            "title": title_,
            "description": text,
            "noteType": ntype,
            "publish": publish,
            "creatorResourceID": creator,
            "createdByContactID": by_contact,
            "createDateTime": f(t),
            "lastActivityDate": f(t),
        }
        notes.append(row)
        ticket_notes.append(row)
        return row

    author = assigned if assigned is not None else r.choice(ctx.techs)
    customer_times: list[int] = []
    esc_first: int | None = None
    retex_time: int | None = None
    if s.status != "New":
        if s.escalated and key != "ESC-01":
            esc_first = during(0.2, 0.6)
            double = (key == "ESC-02" and r.random() < 0.5) or (key != "ESC-02" and r.random() < 0.1)
            times = (
                [esc_first, esc_first + 1000 + int(r.random() * max(0, work_end - esc_first - 1000))]
                if double
                else [esc_first]
            )
            for i, t in enumerate(times):
                latest = i == len(times) - 1
                # the LATEST note decides ESC-02: a complete earlier note does not save it
                missing = (key == "ESC-02") == latest if double else key == "ESC-02"
                pub = CUSTOMER if key == "ESC-03" and latest else r.choice(INTERNAL)
                note(
                    t,
                    r.choice(
                        [
                            "ESCALATION - N2 needed",
                            "Escalation: vendor case",
                            "  escalation to N2",
                            "ESCALATION",
                        ]
                    ),
                    tx.escalation_pack(r, svc, sym, fmt_ms(created, 1), missing=missing),
                    r.choice(_STAFF_TYPES),
                    pub,
                    author,
                )
        internal_wl = key != "LOG-01"
        long = internal_wl and key != "LOG-02" and (ctx.long_notes < 3 or r.random() < 0.002)
        ctx.long_notes += long
        note(
            during(0.3, 0.95),
            r.choice(["Work log", "Troubleshooting", "Intervention summary", "Compte rendu"]),
            tx.worklog(r, svc, sym, missing=key == "LOG-02", internal=internal_wl, long=long),
            r.choice(_STAFF_TYPES),
            r.choice(INTERNAL) if internal_wl else CUSTOMER,
            author,
        )
        if internal_wl and r.random() < 0.3:
            note(
                during(),
                "Internal",
                "Called the user back, no answer; will retry.",
                NOTE_TYPES["Task Notes"],
                r.choice(INTERNAL),
                r.choice(ctx.techs),
            )
        if p12 and internal_wl and r.random() < 0.3:  # SLA-07 is off by default: harmless either way
            note(
                during(0, 0.1),
                "NOTIFIED on-call manager",
                "Manager paged at creation.",
                NOTE_TYPES["Task Notes"],
                r.choice(INTERNAL),
                author,
            )
        if key == "CLO-02":
            n_customer = 0
        elif s.closed:
            n_customer = (1 + int(r.random() < 0.3)) if r.random() < 0.85 else 0
        else:
            n_customer = int(r.random() < 0.6)
        for _ in range(n_customer):
            t = during(0.4, 1.0)
            customer_times.append(t)
            note(
                t,
                r.choice(["Update for you", "Good news", "Information", "Mise à jour"]),
                tx.customer_note(r),
                r.choice([NOTE_TYPES["Task Notes"], NOTE_TYPES["Email Note"]]),
                CUSTOMER,
                author,
            )
        if key == "LOG-03":
            t = during(0.2, 1.0)
            bad_title, bad_text = tx.bad_customer_note(r)
            row = note(t, bad_title, bad_text, NOTE_TYPES["Task Notes"], CUSTOMER, author)
            customer_times.append(t)
            truth.append(("LOG-03", "note", row["id"], t))
        if s.closed and p12 and key != "PM-01":
            assert completed is not None
            after = not s.window and r.random() < 0.5 and as_of - completed > 2 * MIN
            retex_time = (
                completed + r.randint(MIN, min(18 * HOUR, as_of - completed - MIN))
                if after
                else during(0.5, 1.0)
            )
            double = (key == "PM-02" and r.random() < 0.5) or (key != "PM-02" and r.random() < 0.1)
            times = [during(0.3, 0.45), retex_time] if double else [retex_time]
            for i, t in enumerate(times):
                latest = i == len(times) - 1
                missing = (key == "PM-02") == latest if double else key == "PM-02"
                pub = CUSTOMER if key == "PM-03" and latest else r.choice(INTERNAL)
                note(
                    t,
                    r.choice(["RETEX - outage", "retex: post-mortem", " RETEX"]),
                    tx.retex(r, svc, missing=missing),
                    r.choice(_STAFF_TYPES),
                    pub,
                    author,
                )
    # System and customer-authored notes: never staff notes, whatever they say.
    if r.random() < 0.4:
        wf_title = (
            "Escalation rule: SLA warning"
            if r.random() < 0.1
            else "RETEX reminder"
            if p12
            else "Workflow: routed to queue"
        )
        note(
            during(0, 0.2),
            wf_title,
            "Automatic notification.",
            NOTE_TYPES["Workflow Rule Note"],
            r.choice([CUSTOMER, *INTERNAL]),
            r.choice([ctx.automation, None]),
        )
    if s.source == "Monitoring Alert" and r.random() < 0.5:
        note(during(0, 0.1), "Alert", "RDP port down", NOTE_TYPES["RMM"], CUSTOMER, ctx.automation)
    if contact is not None and r.random() < 0.1:
        note(during(), "Re: your ticket", "thx", NOTE_TYPES["Client Portal Note"], CUSTOMER, None, contact)
    last_notification = max(customer_times) if customer_times else None
    if s.closed and not customer_times and key != "CLO-02":
        last_notification = during(0.5, 1.0)  # a notification e-mail counts for CLO-02

    # --- time entries
    entries = ctx.out["TimeEntries"]
    te_ids: list[int] = []
    if s.status != "New":
        n_te = 0 if key == "CLO-03" else r.choice([1, 1, 2, 2, 3]) if s.closed else r.choice([0, 1, 1, 2])
        if key in _TE_RULES:
            n_te = max(n_te, 1)
        for i in range(n_te):
            dur = r.randint(10 * MIN, 2 * HOUR)
            start: int | None = created + int(r.random() * max(0, work_end - created - dur))
            assert start is not None
            worked = start - start % DAY
            bad = key if i == 0 and key in _TE_RULES else None
            if bad == "LOG-07":
                # late: dated a day or two after completion, still before today and (when the
                # planting is placed in a week) inside that week
                last_day = as_of - as_of % DAY
                if s.window:
                    last_day = min(last_day, s.week_start + 6 * DAY)
                late_ok = completed is not None and completed - completed % DAY + 2 * DAY <= last_day
                if late_ok and r.random() < 0.5:
                    assert completed is not None
                    worked = completed - completed % DAY + r.randint(1, 2) * DAY
                else:
                    worked = created - created % DAY - r.randint(1, 2) * DAY
                start = worked + 9 * HOUR + r.randint(0, 6 * HOUR)
            end: int | None = start + dur
            if bad == "LOG-04":
                start, end = r.choice(
                    [(None, end), (start, None), (None, None), (start, start), (start, start - 30 * MIN)]
                )
            eid = ctx.next_id("entry")
            te_ids.append(eid)
            # Entered by now: a late or planned entry's times may lie ahead, its record's dates never.
            stamp = min(end or start or worked + 17 * HOUR, as_of)
            entries.append(
                {
                    "id": eid,
                    "ticketID": tid,
                    "taskID": None,
                    "resourceID": author if r.random() < 0.8 else r.choice(ctx.techs),
                    "dateWorked": fmt_ms(worked, 1),
                    "startDateTime": f(start),
                    "endDateTime": f(end),
                    "hoursWorked": round(dur / HOUR, 4) if start and end and end > start else 0.0,
                    "summaryNotes": tx.bad_summary(r) if bad == "LOG-06" else tx.summary(r),
                    "internalNotes": r.choice([None, "", "Customer was friendly."]),
                    "billingCodeID": None
                    if bad == "LOG-05"
                    else BILLING_CODES["Monitoring Response"]
                    if queue == "Monitoring"
                    else r.choice([BILLING_CODES["Remote Support"], BILLING_CODES["On-site Support"]]),
                    "roleID": 29683301,
                    "isNonBillable": r.random() < 0.1,
                    "createDateTime": f(stamp),
                    "lastModifiedDateTime": f(stamp),
                }
            )
            if bad:
                truth.append((bad, "time_entry", eid, worked))

    # --- attachments (ticket-, note- and time-entry-level)
    att_times: list[int] = []
    if s.escalated:
        if key == "ESC-01":
            att_times = [during()]
        elif esc_first is not None and key == "ESC-04":  # evidence collected only after escalating
            att_times = [
                esc_first + 1000 + int(r.random() * max(0, work_end - esc_first))
                for _ in range(r.randint(1, 2))
            ]
        elif esc_first is not None:
            att_times = [
                created + int(r.uniform(0, 1) * (esc_first - created)) for _ in range(r.randint(1, 2))
            ]
        else:  # a New escalated ticket cannot happen (shapes), but stay compliant for ESC-04
            att_times = [during()]
    elif key != "CLO-04":
        texts = [desc or ""] + [f"{n['title'] or ''}\n{n['description'] or ''}" for n in ticket_notes]
        if r.random() < 0.08 or any(EVIDENCE.search(t) for t in texts):
            att_times = [during()]
    for t in att_times:
        level_kind = r.random() if not s.escalated else 0.0
        parent, note_id, entry_id = tid, None, None
        if level_kind > 0.8 and ticket_notes:
            parent = note_id = ticket_notes[0]["id"]
        elif level_kind > 0.7 and te_ids:
            parent = entry_id = te_ids[0]
        name = r.choice(["screenshot.png", "error.log", "export.pdf", "photo.jpg"])
        if parent == tid:
            r.random()  # unused draw: keeps the random sequence, so each seed's tenant stays the same
        # ``ticketID`` is always the ticket (Autotask answers a ``ticketID`` query with the
        # attachments of the ticket, its notes and its time entries); ``parentID`` is the owner.
        ctx.out["TicketAttachments"].append(
            {
                "id": ctx.next_id("attach"),
                "parentID": parent,
                "ticketID": tid,
                "ticketNoteID": note_id,
                "timeEntryID": entry_id,
                "title": name,
                "fullPath": name,
                "contentType": {
                    "png": "image/png",
                    "log": "text/plain",
                    "pdf": "application/pdf",
                    "jpg": "image/jpeg",
                }[name[-3:]],
                "fileSize": r.randint(2_000, 4_000_000),
                "attachDate": f(t),
                "publish": 1,
                "attachedByResourceID": author,
                "attachedByContactID": None,
                "attachmentType": "FILE_ATTACHMENT",
            }
        )

    last_act = max(work_end, retex_time or 0)
    # --- history (TicketHistory: see oracle for the format)
    hist = ctx.out["TicketHistory"]

    def history(t: int, action: str, detail: str, who: int | None) -> None:
        hist.append(
            {
                "id": ctx.next_id("hist"),
                "ticketID": tid,
                "action": action,
                "date": fmt_ms(t, 0),
                "detail": detail,
                "resourceID": who,
            }
        )

    history(created, "Created", "Ticket created", None if email else author)
    if r.random() < 0.3:
        history(
            created + r.randint(5_000, 150_000), "Field Changed", f"{r.choice(_QUAL_FIELDS)}:  -> set", author
        )
    if key == "QUA-10":
        history(
            created + r.randint(10 * MIN, 2 * HOUR),
            "Field Changed",
            f"{r.choice(_QUAL_FIELDS)}:  -> set",
            author,
        )
    if assigned is not None:
        delay = (
            r.randint(20 * MIN, 90 * MIN)
            if key == "SLA-05h"
            else r.randint(MIN, 12 * MIN)
            if p12
            else r.randint(MIN, 4 * HOUR)
        )
        history(created + delay, "Field Changed", f"assignedResourceID:  -> {assigned}", author)
    if completed is not None:
        history(
            completed, "Field Changed", f"status: {STATUSES['In Progress']} -> {STATUSES['Complete']}", author
        )

    # --- SLA results
    met_first = None if sla_id is None or fr_due is None or first is None else first <= fr_due
    met_res = None if sla_id is None or res_due is None or resolved is None else resolved <= res_due
    if sla_id is not None:
        ctx.out["ServiceLevelAgreementResults"].append(
            {
                "id": ctx.next_id("sla"),
                "ticketID": tid,
                "serviceLevelAgreementName": _SLA_NAMES[sla_id],
                "isFirstResponseMet": met_first,
                "firstResponseElapsedHours": None if first is None else round((first - created) / HOUR, 4),
                "isResolutionPlanMet": None,
                "isResolutionMet": met_res,
                "resolutionElapsedHours": None if resolved is None else round((resolved - created) / HOUR, 4),
            }
        )

    day = created // DAY
    ctx.day_seq[day] = ctx.day_seq.get(day, 0) + 1
    completed_by = None
    if completed is not None:
        completed_by = assigned if r.random() < 0.8 else r.choice(ctx.techs) if r.random() < 0.5 else None
    resolution_text: str | None
    if s.closed:
        resolution_text = r.choice([None, "", "  ", "<p></p>"]) if key == "CLO-01" else tx.resolution(r)
    else:
        resolution_text = tx.resolution(r) if s.open_resolution else r.choice([None, "", "", "   "])
    ctx.out["Tickets"].append(
        {
            "id": tid,
            "ticketNumber": f"T{fmt_ms(created)[:10].replace('-', '')}.{ctx.day_seq[day]:04d}",
            "title": title,
            "description": desc,
            "status": STATUSES[s.status],
            "priority": PRIORITIES["Urgent (legacy)" if level == 0 else PRIORITY_BY_LEVEL[level]],
            "queueID": None if queue is None else QUEUES[queue],
            "ticketType": None if ttype is None else TICKET_TYPES[ttype],
            "ticketCategory": TICKET_CATEGORIES[
                "RMM Alert" if s.source == "Monitoring Alert" else "Standard"
            ],
            "issueType": issue,
            "subIssueType": sub,
            "source": None if source is None else SOURCES[source],
            "companyID": company,
            "contactID": contact,
            "assignedResourceID": assigned,
            "assignedResourceRoleID": None if assigned is None else 29683301,
            "creatorResourceID": None if email else author,
            "createdByContactID": contact if email else None,
            "createDate": f(created),
            "firstResponseDateTime": f(first),
            "firstResponseDueDateTime": f(fr_due),
            "resolutionPlanDateTime": None,
            "resolutionPlanDueDateTime": None if fr_due is None else f(fr_due + HOUR),
            "resolvedDateTime": f(resolved),
            "resolvedDueDateTime": f(res_due),
            "completedDate": f(completed),
            "completedByResourceID": completed_by,
            "dueDateTime": f(res_due),
            "lastActivityDate": f(last_act),
            "lastCustomerNotificationDateTime": f(last_notification),
            "lastCustomerVisibleActivityDateTime": f(max(customer_times)) if customer_times else None,
            "resolution": resolution_text,
            "serviceLevelAgreementID": sla_id,
            "serviceLevelAgreementHasBeenMet": None
            if sla_id is None
            else bool(met_first is not False and met_res is not False),
            "externalID": r.choice([None, "", f"INC{r.randint(10000, 99999)}"]),
            "userDefinedFields": [
                {"name": "Impact", "value": impact_v},
                {"name": "Urgency", "value": urgency_v},
                {"name": "On-call", "value": on_call},
                {"name": "Vendor Case ID", "value": vendor_case},
            ],
        }
    )

    # --- ground truth: the planting's ticket-level failures, anchored per rule
    anchors = {"create": created, "last": last_act, "completed": completed}
    if key is not None:
        for rule in PLANTINGS[key].rules:
            if rule == "LOG-03" or rule in _TE_RULES:
                continue  # row-level, recorded above with the row's own anchor
            rule_id = "SLA-05" if rule == "SLA-05h" else rule
            anchor = anchors[ANCHORS[rule_id]]
            assert anchor is not None, (rule, tid)
            ctx.truth.append((rule_id, "ticket", tid, tid, anchor, rule in HISTORY_RULES))
    for rule, kind, row_id, anchor in truth:
        ctx.truth.append((rule, kind, row_id, tid, anchor, False))
