"""Plantings of step 5, escalation to N2 / vendor (ESC-xx). All on escalated tickets."""

from __future__ import annotations

from audit.sandbox._build_notes import escalation_notes
from audit.sandbox._build_rows import attachment_times
from audit.sandbox._draft import Draft
from audit.sandbox.planting._registry import Step, plants


@plants("ESC-01", instead=Step.ESCALATION_NOTES, needs="esc")
def no_escalation_note(d: Draft) -> None:
    """No ESCALATION note; the ticket keeps an attachment, so ESC-04 passes."""


@plants("ESC-02", instead=Step.ESCALATION_NOTES, needs="esc")
def escalation_note_incomplete(d: Draft) -> None:
    escalation_notes(d, incomplete=True)


@plants("ESC-03", instead=Step.ESCALATION_NOTES, needs="esc")
def escalation_note_published(d: Draft) -> None:
    """A customer-visible ESCALATION note is still a valid customer note for LOG-03."""
    escalation_notes(d, published=True)


@plants("ESC-04", instead=Step.ATTACHMENT_TIMES, needs="esc")
def evidence_after_escalation(d: Draft) -> None:
    """Attachments dated after the first ESCALATION note (CLO-04 still passes)."""
    r, esc_first = d.r, d.esc_first
    if esc_first is None:
        attachment_times(d)
        return
    d.att_times = [
        esc_first + 1000 + int(r.random() * max(0, d.work_end - esc_first)) for _ in range(r.randint(1, 2))
    ]


@plants("ESC-05", instead=Step.VENDOR_CASE, needs="esc vendor")
def no_vendor_case(d: Draft) -> None:
    d.vendor_case = d.r.choice([None, "", "  "])


@plants("ESC-06", after=Step.ROUTING, needs="esc")
def escalated_in_n1_queue(d: Draft) -> None:
    d.queue = "N1 - Support"
