"""Reference checker of the rule catalog: a plain per-ticket loop over the raw API records.

This is deliberately the *straightforward* implementation (one function per workflow step, no
vectorisation, labels resolved from ``tenant.fields``) that the tests compare with the planted
ground truth and a benchmark compares with the vectorised engine. It works from the records the
emulator serves, not from the generator's internals, so it is an independent second reading.

Readings of the catalog this checker makes (the rule engine must read it the same way):

- blank: null, or nothing but whitespace once HTML tags (``<...>``) are removed; entities are not decoded.
- INT-03: ``title_pattern`` is matched (``re.search``) against the raw title; a null title fails.
- INT-04: compared through the Contacts reference rows; unknown contact = not applicable.
- QUA-05: the subIssueType's picklist ``parentValue`` (a string) equals ``str(issueType)``.
- QUA-06/07/09 and SLA-06: UDF values trimmed and case-insensitive.
- QUA-10 (history only): fails when a qualification field is not *set* (vocabulary: not null;
  Impact/Urgency UDFs not blank) — companyID 0 or an invalid-but-present Impact is set — or when
  a TicketHistory row touches a qualification field (the ``detail`` text before the first ``:``
  is one of companyID, contactID, ticketType, issueType, subIssueType, source, or the
  Impact/Urgency UDF names) later than ``createDate`` + ``qualification_minutes``.
- SLA-05 with history: the first assignment is the earliest history row whose field is
  ``assignedResourceID``; none (but assigned now) = assigned at creation. Later than
  createDate + ``p1p2_assign_minutes`` fails, recorded with ``needs_history``.
- Section present: a line ``^\\s*([-*•]\\s*)?<heading>:`` (case-insensitive); its content runs to
  the next line that opens a heading *of the same rule's section list*; blank content = absent.
  Sections are read from the note's ``description``.
- LOG-03: length is that of the description (HTML stripped, trimmed) >= ``min_customer_note_chars``;
  jargon terms are matched as whole words, case-insensitive, in title and description.
- CLO-04: ``evidence_pattern`` searched in the ticket description and every note's title and
  description (any note, any author), HTML tags stripped: a URL inside a tag (an inline
  ``<img src=".../x.png">``) is markup, not a mention of evidence.
- Ticket's attachments: every row whose ``ticketID`` is the ticket (its own, its notes' and
  its time entries' attachments).
- SLA-07 is disabled by default and not checked. Failing checks with a null anchor are dropped
  (they are audited in no period).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd

from audit.core.config import TenantMapping
from audit.sandbox._core import GROUND_TRUTH_COLUMNS
from audit.sandbox.model import Tenant

__all__ = ["check_tenant"]

_TAG = re.compile(r"<[^>]*>")
_QUAL_FIELDS = {"companyID", "contactID", "ticketType", "issueType", "subIssueType", "source"}


def _ts(text: str | None) -> datetime | None:
    if text is None or text == "":
        return None
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _blank(text: Any) -> bool:
    return text is None or not _TAG.sub("", str(text)).strip()


def _norm(value: Any) -> str:
    return "" if value is None else str(value).strip().lower()


def _in(value: Any, allowed: Iterable[str]) -> bool:
    return _norm(value) in {_norm(a) for a in allowed}


def _has_sections(text: str | None, sections: list[str]) -> bool:
    if not text:
        return False
    heads = [re.compile(rf"^\s*(?:[-*•]\s*)?{re.escape(s)}:(.*)$", re.IGNORECASE) for s in sections]
    found: dict[int, list[str]] = {}
    current: int | None = None
    for line in text.splitlines():
        for i, head in enumerate(heads):
            m = head.match(line)
            if m:
                current = i
                found.setdefault(i, []).append(m.group(1))
                break
        else:
            if current is not None:
                found[current].append(line)
    return all(i in found and not _blank("\n".join(found[i])) for i in range(len(sections)))


class _Labels:
    """Picklist value -> label per (entity, field), from ``entityInformation/fields``."""

    def __init__(self, fields: dict[str, list[dict[str, Any]]]) -> None:
        self.labels: dict[tuple[str, str], dict[int, str]] = {}
        self.parents: dict[tuple[str, str], dict[int, str]] = {}
        for entity, items in fields.items():
            for field in items:
                if field.get("isPickList"):
                    values = field.get("picklistValues") or []
                    self.labels[entity, field["name"]] = {int(v["value"]): v["label"] for v in values}
                    self.parents[entity, field["name"]] = {
                        int(v["value"]): v.get("parentValue") or "" for v in values
                    }

    def label(self, entity: str, field: str, value: Any) -> str | None:
        return None if value is None else self.labels.get((entity, field), {}).get(int(value))


class _Ticket:
    """One ticket with its children and the labels the rules read."""

    def __init__(
        self, t: dict[str, Any], lab: _Labels, m: TenantMapping, kids: dict[str, list[dict[str, Any]]]
    ) -> None:
        self.t, self.m = t, m
        self.id: int = t["id"]
        self.status = lab.label("Tickets", "status", t["status"])
        self.queue = lab.label("Tickets", "queueID", t["queueID"])
        self.source = lab.label("Tickets", "source", t["source"])
        self.priority = lab.label("Tickets", "priority", t["priority"])
        self.level = m.priority_levels.get(self.priority) if self.priority else None
        self.udf = {u["name"]: u.get("value") for u in t.get("userDefinedFields") or []}
        self.created = _ts(t["createDate"])
        self.completed = _ts(t["completedDate"])
        self.last_activity = _ts(t["lastActivityDate"])
        self.closed = self.status in m.closed_statuses
        self.notes = sorted(kids["notes"], key=lambda n: (_ts(n["createDateTime"]), n["id"]))
        self.entries = kids["entries"]
        self.attachments = kids["attachments"]
        self.history = kids["history"]
        for n in self.notes:
            n["_staff"] = n["creatorResourceID"] is not None and (
                lab.label("TicketNotes", "noteType", n["noteType"]) not in m.system_note_types
            )
            n["_customer"] = lab.label("TicketNotes", "publish", n["publish"]) in m.customer_publish

    def markers(self, marker: str) -> list[dict[str, Any]]:
        return [
            n
            for n in self.notes
            if n["_staff"] and (n["title"] or "").strip().lower().startswith(marker.lower())
        ]


# ------------------------------------------------------------------------------------- steps
def _intake(k: _Ticket, contacts: dict[int, int | None]) -> list[str]:
    t, m = k.t, k.m
    if k.source not in m.email_sources:
        return []
    fails = []
    if _blank(t["title"]):
        fails.append("INT-01")
    if _blank(t["description"]):
        fails.append("INT-02")
    if t["title"] is None or not re.search(m.title_pattern, t["title"]):
        fails.append("INT-03")
    if t["companyID"] is not None and t["contactID"] is not None and t["contactID"] in contacts:
        if contacts[t["contactID"]] != t["companyID"]:
            fails.append("INT-04")
    if t["queueID"] is None:
        fails.append("INT-05")
    return fails


def _qualification(k: _Ticket, lab: _Labels) -> list[str]:
    t, m = k.t, k.m
    fails = []
    if t["companyID"] is None or t["companyID"] in m.catch_all_company_ids:
        fails.append("QUA-01")
    if t["contactID"] is None:
        fails.append("QUA-02")
    if lab.label("Tickets", "ticketType", t["ticketType"]) not in m.ticket_types:
        fails.append("QUA-03")
    if t["issueType"] is None:
        fails.append("QUA-04")
    parent = (
        lab.parents.get(("Tickets", "subIssueType"), {}).get(t["subIssueType"])
        if t["subIssueType"] is not None
        else None
    )
    if t["subIssueType"] is None or parent != str(t["issueType"]):
        fails.append("QUA-05")
    impact, urgency = k.udf.get(m.impact_udf), k.udf.get(m.urgency_udf)
    impact_ok, urgency_ok = _in(impact, m.impact_values), _in(urgency, m.urgency_values)
    if not impact_ok:
        fails.append("QUA-06")
    if not urgency_ok:
        fails.append("QUA-07")
    if t["source"] is None:
        fails.append("QUA-08")
    if impact_ok and urgency_ok:
        row = next(v for key, v in m.priority_matrix.items() if _norm(key) == _norm(impact))
        expected = next(v for key, v in row.items() if _norm(key) == _norm(urgency))
        if k.level is None or k.level != expected:
            fails.append("QUA-09")
    return fails


def _qualification_history(k: _Ticket) -> bool:
    """QUA-10: True when it fails (only called with history)."""
    t, m = k.t, k.m
    if (
        any(t[f] is None for f in _QUAL_FIELDS)
        or _blank(k.udf.get(m.impact_udf))
        or _blank(k.udf.get(m.urgency_udf))
    ):
        return True  # never set, so not set within the grace period ("set" = not null / not blank)
    fields = _QUAL_FIELDS | {m.impact_udf, m.urgency_udf}
    limit = k.created + timedelta(minutes=m.qualification_minutes) if k.created else None
    for h in k.history:
        if (h["detail"] or "").split(":", 1)[0].strip() in fields:
            when = _ts(h["date"])
            if limit is not None and when is not None and when > limit:
                return True
    return False


def _sla(k: _Ticket, as_of: datetime, with_history: bool) -> list[tuple[str, bool]]:
    t, m = k.t, k.m
    fails: list[tuple[str, bool]] = []
    if t["serviceLevelAgreementID"] is None:
        fails.append(("SLA-01", False))
    elif t["firstResponseDueDateTime"] is None or t["resolvedDueDateTime"] is None:
        fails.append(("SLA-02", False))
    for rule, done_field, due_field in (
        ("SLA-03", "firstResponseDateTime", "firstResponseDueDateTime"),
        ("SLA-04", "resolvedDateTime", "resolvedDueDateTime"),
    ):
        done, due = _ts(t[done_field]), _ts(t[due_field])
        if due is None or (done is None and due >= as_of):
            continue
        if done is None or done > due:
            fails.append((rule, False))
    if k.level in (1, 2):
        if t["assignedResourceID"] is None:
            fails.append(("SLA-05", False))
        elif with_history and k.created is not None:
            assigned = [
                _ts(h["date"])
                for h in k.history
                if (h["detail"] or "").split(":", 1)[0].strip() == "assignedResourceID"
            ]
            first = min((a for a in assigned if a is not None), default=None)
            if first is not None and first > k.created + timedelta(minutes=m.p1p2_assign_minutes):
                fails.append(("SLA-05", True))
        if not _in(k.udf.get(m.on_call_udf), m.on_call_truthy):
            fails.append(("SLA-06", False))
    return fails


def _worklog_ticket(k: _Ticket) -> list[str]:
    if k.status in k.m.new_statuses:
        return []
    fails = []
    staff = [n for n in k.notes if n["_staff"]]
    if not any(not n["_customer"] for n in staff):
        fails.append("LOG-01")
    if not any(_has_sections(n["description"], k.m.worklog_sections) for n in staff):
        fails.append("LOG-02")
    return fails


def _worklog_notes(k: _Ticket) -> list[tuple[int, datetime | None]]:
    m = k.m
    jargon = [re.compile(rf"(?<!\w){re.escape(j)}(?!\w)", re.IGNORECASE) for j in m.jargon]
    out = []
    for n in k.notes:
        if not (n["_staff"] and n["_customer"]):
            continue
        body = _TAG.sub("", n["description"] or "").strip()
        text = f"{n['title'] or ''}\n{n['description'] or ''}"
        if len(body) < m.min_customer_note_chars or any(j.search(text) for j in jargon):
            out.append((n["id"], _ts(n["createDateTime"])))
    return out


def _worklog_entries(k: _Ticket, as_of: datetime) -> list[tuple[str, int, datetime | None]]:
    m = k.m
    out = []
    placeholders = {p.strip().lower() for p in m.placeholder_summaries}
    upper: date = (k.completed or as_of).date()
    for e in k.entries:
        worked = _ts(e["dateWorked"])
        start, end = _ts(e["startDateTime"]), _ts(e["endDateTime"])
        if start is None or end is None or end <= start:
            out.append(("LOG-04", e["id"], worked))
        if e["billingCodeID"] is None:
            out.append(("LOG-05", e["id"], worked))
        summary = (e["summaryNotes"] or "").strip()
        if _blank(summary) or len(summary) < m.min_summary_chars or summary.lower() in placeholders:
            out.append(("LOG-06", e["id"], worked))
        if worked is not None and k.created is not None and not (k.created.date() <= worked.date() <= upper):
            out.append(("LOG-07", e["id"], worked))
    return out


def _escalation(k: _Ticket) -> list[str]:
    t, m = k.t, k.m
    esc_notes = k.markers(m.escalation_marker)
    escalated = (
        k.queue in m.escalation_queues
        or k.status in m.escalation_statuses
        or bool(esc_notes)
        or not _blank(k.udf.get(m.vendor_case_udf))
    )
    if not escalated:
        return []
    fails = []
    if not esc_notes:
        fails.append("ESC-01")
    else:
        if not _has_sections(esc_notes[-1]["description"], m.escalation_sections):
            fails.append("ESC-02")
        if any(n["_customer"] for n in esc_notes):
            fails.append("ESC-03")
    first_esc = _ts(esc_notes[0]["createDateTime"]) if esc_notes else None
    dates = [_ts(a["attachDate"]) for a in k.attachments]
    if first_esc is None:
        ok = bool(k.attachments)
    else:
        ok = any(d is not None and d <= first_esc for d in dates)
    if not ok:
        fails.append("ESC-04")
    if k.status in m.vendor_statuses and _blank(k.udf.get(m.vendor_case_udf)):
        fails.append("ESC-05")
    if esc_notes and not (k.queue in m.escalation_queues or t["assignedResourceID"] in m.n2_resource_ids):
        fails.append("ESC-06")
    return fails


def _closure(k: _Ticket, as_of: datetime) -> list[str]:
    t, m = k.t, k.m
    if not k.closed:
        if not _blank(t["resolution"]) and k.last_activity is not None:
            if as_of - k.last_activity >= timedelta(days=m.stale_resolution_days):
                return ["CLO-05"]
        return []
    fails = []
    if _blank(t["resolution"]):
        fails.append("CLO-01")
    if (
        not any(n["_staff"] and n["_customer"] for n in k.notes)
        and t["lastCustomerNotificationDateTime"] is None
    ):
        fails.append("CLO-02")
    if not k.entries:
        fails.append("CLO-03")
    texts = [
        _TAG.sub("", x)
        for x in [t["description"] or ""] + [f"{n['title'] or ''}\n{n['description'] or ''}" for n in k.notes]
    ]
    if any(re.search(m.evidence_pattern, x) for x in texts) and not k.attachments:
        fails.append("CLO-04")
    return fails


def _post_mortem(k: _Ticket) -> list[str]:
    if not (k.closed and k.level in (1, 2)):
        return []
    retex = k.markers(k.m.retex_marker)
    if not retex:
        return ["PM-01"]
    fails = []
    if not _has_sections(retex[-1]["description"], k.m.retex_sections):
        fails.append("PM-02")
    if any(n["_customer"] for n in retex):
        fails.append("PM-03")
    return fails


# ------------------------------------------------------------------------------------- driver
_ANCHOR = {
    "INT": "created",
    "QUA": "created",
    "SLA": "created",
    "ESC": "created",
    "CLO": "completed",
    "PM": "completed",
    "LOG": "last_activity",
}


_Failure = tuple[str, str, int, int, datetime | None, bool]


def _children(rec: dict[str, list[dict[str, Any]]]) -> dict[int, dict[str, list[dict[str, Any]]]]:
    """Each ticket's notes, time entries (project time is out of every rule's scope),
    attachments (every row whose ``ticketID`` is the ticket) and history rows."""
    kids: dict[int, dict[str, list[dict[str, Any]]]] = defaultdict(
        lambda: {"notes": [], "entries": [], "attachments": [], "history": []}
    )
    for n in rec.get("TicketNotes", []):
        kids[n["ticketID"]]["notes"].append(dict(n))
    for e in rec.get("TimeEntries", []):
        if e["ticketID"] is not None:
            kids[e["ticketID"]]["entries"].append(e)
    ticket_ids = {t["id"] for t in rec.get("Tickets", [])}
    for a in rec.get("TicketAttachments", []):
        if a["ticketID"] in ticket_ids:
            kids[a["ticketID"]]["attachments"].append(a)
    for h in rec.get("TicketHistory", []):
        kids[h["ticketID"]]["history"].append(h)
    return kids


def _ticket_failures(
    k: _Ticket, lab: _Labels, contacts: dict[int, int | None], as_of: datetime, with_history: bool
) -> list[_Failure]:
    """Every failing check of one ticket, its notes and its time entries, in workflow order."""
    rows: list[_Failure] = []

    def ticket_fail(rule: str, needs_history: bool = False) -> None:
        kind = "last_activity" if rule == "CLO-05" else _ANCHOR[rule.split("-")[0]]
        rows.append((rule, "ticket", k.id, k.id, getattr(k, kind), needs_history))

    for rule in _intake(k, contacts) + _qualification(k, lab):
        ticket_fail(rule)
    if with_history and _qualification_history(k):
        ticket_fail("QUA-10", True)
    for rule, needs in _sla(k, as_of, with_history):
        ticket_fail(rule, needs)
    for rule in _worklog_ticket(k):
        ticket_fail(rule)
    for note_id, when in _worklog_notes(k):
        rows.append(("LOG-03", "note", note_id, k.id, when, False))
    for rule, entry_id, when in _worklog_entries(k, as_of):
        rows.append((rule, "time_entry", entry_id, k.id, when, False))
    for rule in _escalation(k) + _closure(k, as_of) + _post_mortem(k):
        ticket_fail(rule)
    return rows


def check_tenant(
    tenant: Tenant,
    as_of: datetime | None = None,
    *,
    with_history: bool = False,
    mapping: TenantMapping | None = None,
) -> pd.DataFrame:
    """Every failing check of the catalog (default mapping) on the tenant's raw records."""
    m = mapping or TenantMapping()
    as_of = (as_of or tenant.as_of).astimezone(UTC)
    lab = _Labels(tenant.fields)
    rec = tenant.records
    contacts = {c["id"]: c["companyID"] for c in rec.get("Contacts", [])}
    kids = _children(rec)
    rows: list[_Failure] = []
    for t in rec.get("Tickets", []):
        rows.extend(_ticket_failures(_Ticket(t, lab, m, kids[t["id"]]), lab, contacts, as_of, with_history))

    frame = pd.DataFrame([r for r in rows if r[4] is not None], columns=list(GROUND_TRUTH_COLUMNS))
    frame["anchor_date"] = pd.to_datetime(frame["anchor_date"], utc=True).astype("datetime64[us, UTC]")
    for col in ("row_id", "ticket_id"):
        frame[col] = frame[col].astype("int64")
    frame["needs_history"] = frame["needs_history"].astype(bool)
    return frame.sort_values(["rule_id", "row_kind", "row_id"], kind="stable").reset_index(drop=True)
