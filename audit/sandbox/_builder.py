"""One ticket and its children, from a shape: compliant by construction, plus its one planting.

Every field is derived from the ``Shape`` so that the ticket passes every catalog rule under the
default mapping. The ticket is written as a fixed sequence of steps (``_build_fields``,
``_build_notes``, ``_build_rows``); a planted ticket's planting (see ``planting``) is bound to
one step, which it replaces or amends, and the ground truth records the failing checks that
defect produces (cascades listed with the planting).
"""

from __future__ import annotations

from audit.sandbox import _build_fields as fields
from audit.sandbox import _build_notes as notes
from audit.sandbox import _build_rows as rows
from audit.sandbox import _texts as tx
from audit.sandbox._core import GenerationState, Shape
from audit.sandbox._draft import Draft
from audit.sandbox.planting import Step
from audit.sandbox.planting.catalog import HISTORY_RULES, rule_anchors

__all__ = ["build_ticket"]


def build_ticket(ctx: GenerationState, s: Shape, tid: int) -> None:
    d = Draft.start(ctx, s, tid)
    _ticket_fields(d)
    _text(d)
    _notes(d)
    if s.status != "New":
        d.step(Step.TIME_ENTRIES, rows.time_entries)
    d.step(Step.ATTACHMENT_TIMES, rows.attachment_times)
    rows.attachments(d)
    last_act = max(d.work_end, d.retex_time or 0)
    rows.ticket_history(d)
    met = rows.sla_result(d)
    rows.ticket_row(d, last_act, met)
    _ground_truth(d, last_act)


def _ticket_fields(d: Draft) -> None:
    d.step(Step.MATRIX, fields.matrix)
    d.step(Step.UDF_VALUES, fields.udf_values)
    fields.lifecycle(d)
    d.step(Step.FIRST_RESPONSE, fields.first_response)
    d.step(Step.SLA, fields.sla)
    d.step(Step.ASSIGNEE, fields.assignee)
    d.step(Step.CUSTOMER, fields.customer)
    d.step(Step.ROUTING, fields.routing)
    d.email = d.source == "Email"
    d.step(Step.TICKET_TYPE, fields.ticket_type)
    d.step(Step.ISSUE, fields.classification)


def _text(d: Draft) -> None:
    r, ctx, company = d.r, d.ctx, d.company
    cname = ctx.company_names.get(company, "Unknown sender") if company is not None else "Unknown sender"
    d.short = cname.split(" (")[0].split()[0]
    d.svc, d.sym = r.choice(tx.SERVICES), r.choice(tx.SYMPTOMS)
    d.step(Step.TITLE, fields.title)
    d.desc = tx.description(r, d.svc, d.sym, "a user")
    d.desc_roll = r.random()
    d.step(Step.DESCRIPTION, fields.description_variant)
    d.case_open = d.s.escalated and (d.s.status == "Waiting Vendor" or r.random() < 0.3)
    d.step(Step.VENDOR_CASE, fields.vendor_case)
    d.step(Step.ON_CALL, fields.on_call)


def _notes(d: Draft) -> None:
    s = d.s
    d.author = d.assigned if d.assigned is not None else d.r.choice(d.ctx.techs)
    if s.status != "New":
        if s.escalated:
            d.step(Step.ESCALATION_NOTES, notes.escalation_notes)
        d.step(Step.WORKLOG, notes.worklog_notes)
        d.step(Step.CUSTOMER_NOTES, notes.customer_notes)
        if s.closed and d.p12:
            d.step(Step.RETEX, notes.retex_notes)
    notes.system_notes(d)
    d.step(Step.NOTIFICATION, notes.notification)


def _ground_truth(d: Draft, last_act: int) -> None:
    """The planting's ticket-level failures, anchored per rule, then its row-level ones."""
    tid, p = d.tid, d.planting
    anchors = {"createDate": d.s.created, "lastActivityDate": last_act, "completedDate": d.completed}
    if p is not None and p.row == "ticket":
        for rule in p.rules:
            rule_id = "SLA-05" if rule == "SLA-05h" else rule
            anchor = anchors[rule_anchors()[rule_id]]
            assert anchor is not None, (rule, tid)
            d.ctx.truth.append((rule_id, "ticket", tid, tid, anchor, rule in HISTORY_RULES))
    for rule, kind, row_id, anchor in d.truth:
        d.ctx.truth.append((rule, kind, row_id, tid, anchor, False))
