"""The planting catalog: which violations the generator plants, on which ticket shapes, and
which failing checks each planting produces (cascades included).

Each *planting* is one deliberate defect on one ticket. ``PLANTINGS[key]`` says:

- ``rules``: every rule that fails because of it (``SLA-05h`` / ``QUA-10`` entries are the
  history-dependent failures: ``needs_history`` in the ground truth);
- ``needs``: the ticket shape the generator forces first so that the defect is in the rule's
  scope and cascades nowhere else (e.g. INT-05 is planted on a non-escalated ticket, because a
  missing queue on an escalated ticket would also fail ESC-06);
- ``window``: how the planting is placed in the last full ISO week before as-of so that its
  anchor date lands there: ``create`` (createDate in the week), ``life`` (the whole ticket, from
  creation to completion and every child row, in the week) or ``stale`` (CLO-05: last activity
  in the week and at least ``stale_resolution_days`` before as-of).

Cascade decisions (the rule engine must read the catalog the same way):

- INT-01 (blank title) also fails INT-03: a blank title has no three parts.
- QUA-04 (no issueType) is planted with no subIssueType either, so QUA-05 fails too.
- QUA-10 (history only) reads "set" as the vocabulary defines it: not null for ids/picklists,
  not blank for the Impact/Urgency UDFs. A planting that leaves a qualification field unset
  (companyID/contactID/ticketType/issueType/subIssueType/source null, Impact/Urgency blank) also
  fails QUA-10 (it was not set within 3 minutes); a set-but-wrong value (companyID 0, ticketType
  Alert, subIssueType of another issue type, Impact "Critical") does not. Keys ending in ``n``
  are the unset variants. Recorded as ``QUA-10`` with needs_history.
- QUA-01 with companyID 0 uses a contact of company 0, so INT-04 (both set, equal) passes;
  with companyID null INT-04 is not applicable.
- QUA-06/07 (invalid Impact/Urgency) only narrow QUA-09's scope: no QUA-09 failure.
- QUA-08 (no source) makes the ticket a non-email ticket: INT rules do not apply.
- QUA-09 keeps the ticket's real priority level for every P1/P2 rule (an over-prioritised
  High ticket is a P2 ticket for SLA-05/06 and PM, and is compliant with them).
- SLA-01 removes the due dates too (no SLA, no clock): SLA-02 is out of scope, SLA-03/04 are
  not applicable.
- SLA-05 (unassigned P1/P2) fails with or without history, once (needs_history False);
  SLA-05h (assigned 20-90 minutes after creation) fails only with history.
- LOG-01 publishes the work-log note to the customer (jargon-free, > 40 characters): LOG-02
  still passes (it counts any staff note) and LOG-03 passes on it.
- ESC-01 is planted on a ticket with an attachment, so ESC-04 passes.
- ESC-03's customer-visible ESCALATION note is a valid customer note for LOG-03 (long,
  jargon-free). PM-03 likewise.
- ESC-04 keeps attachments but dates them after the first ESCALATION note (CLO-04 still passes).
- CLO-04 is planted on non-escalated tickets (no attachment on an escalated ticket would also
  fail ESC-04).
- CLO-05 tickets resolved on time (resolvedDateTime <= resolvedDueDateTime): no SLA-04 cascade.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ANCHORS", "HISTORY_RULES", "PLANTINGS", "Planting"]


@dataclass(frozen=True)
class Planting:
    rules: tuple[str, ...]
    needs: frozenset[str] = frozenset()
    window: str = "create"
    rate: float = 0.005  # share of tickets carrying this planting (at least 3 at any size)


def _p(rules: str, needs: str = "", window: str = "create", rate: float = 0.005) -> Planting:
    return Planting(tuple(rules.split()), frozenset(needs.split()), window, rate)


_Q10 = " QUA-10"
PLANTINGS: dict[str, Planting] = {
    "INT-01": _p("INT-01 INT-03", "email"),
    "INT-02": _p("INT-02", "email"),
    "INT-03": _p("INT-03", "email", rate=0.01),
    "INT-04": _p("INT-04", "email"),
    "INT-05": _p("INT-05", "email noesc"),
    # QUA-10 reads "set" as the vocabulary does (not null; UDFs not blank): only plantings that
    # leave a qualification field unset cascade to QUA-10; a wrong-but-set value does not.
    "QUA-01": _p("QUA-01"),  # companyID 0, the catch-all company: set, so QUA-10 passes
    "QUA-01n": _p("QUA-01" + _Q10),  # companyID null
    "QUA-02": _p("QUA-02" + _Q10),
    "QUA-03": _p("QUA-03"),  # Change Request / Alert: set but not an allowed type
    "QUA-03n": _p("QUA-03" + _Q10, rate=0.003),  # ticketType null
    "QUA-04": _p("QUA-04 QUA-05" + _Q10),
    "QUA-05": _p("QUA-05"),  # a subIssueType of another issueType
    "QUA-05n": _p("QUA-05" + _Q10, rate=0.003),  # subIssueType null
    "QUA-06": _p("QUA-06"),  # Impact set to a value outside High/Medium/Low
    "QUA-06n": _p("QUA-06" + _Q10, rate=0.003),  # Impact blank
    "QUA-07": _p("QUA-07"),
    "QUA-07n": _p("QUA-07" + _Q10, rate=0.003),
    "QUA-08": _p("QUA-08" + _Q10),
    "QUA-09": _p("QUA-09", rate=0.01),
    "QUA-10": _p("QUA-10", rate=0.01),
    "SLA-01": _p("SLA-01"),
    "SLA-02": _p("SLA-02"),
    "SLA-03": _p("SLA-03", "closed", rate=0.01),
    "SLA-04": _p("SLA-04", "closed p3", rate=0.01),
    "SLA-05": _p("SLA-05", "p12"),
    "SLA-05h": _p("SLA-05h", "p12"),
    "SLA-06": _p("SLA-06", "p12"),
    "LOG-01": _p("LOG-01", "notnew p34 noesc", "life"),
    "LOG-02": _p("LOG-02", "notnew", "life", rate=0.008),
    "LOG-03": _p("LOG-03", "notnew", "life", rate=0.008),
    "LOG-04": _p("LOG-04", "notnew", "life"),
    "LOG-05": _p("LOG-05", "notnew", "life"),
    "LOG-06": _p("LOG-06", "notnew", "life", rate=0.01),
    "LOG-07": _p("LOG-07", "notnew", "life"),
    "ESC-01": _p("ESC-01", "esc"),
    "ESC-02": _p("ESC-02", "esc"),
    "ESC-03": _p("ESC-03", "esc"),
    "ESC-04": _p("ESC-04", "esc"),
    "ESC-05": _p("ESC-05", "esc vendor"),
    "ESC-06": _p("ESC-06", "esc"),
    "CLO-01": _p("CLO-01", "closed", "life"),
    "CLO-02": _p("CLO-02", "closed", "life"),
    "CLO-03": _p("CLO-03", "closed", "life"),
    "CLO-04": _p("CLO-04", "closed noesc", "life"),
    "CLO-05": _p("CLO-05", "open notnew", "stale"),
    "PM-01": _p("PM-01", "closed p12", "life"),
    "PM-02": _p("PM-02", "closed p12", "life"),
    "PM-03": _p("PM-03", "closed p12", "life"),
}

#: Planted rule ids that only fail when ticket history is extracted.
HISTORY_RULES = frozenset({"QUA-10", "SLA-05h"})

#: Anchor of each rule: which date of the ticket / row places it in a period.
ANCHORS: dict[str, str] = {
    **{f"INT-0{i}": "create" for i in range(1, 6)},
    **{f"QUA-{i:02d}": "create" for i in range(1, 11)},
    **{f"SLA-0{i}": "create" for i in range(1, 8)},
    "LOG-01": "last",
    "LOG-02": "last",
    "LOG-03": "note",
    "LOG-04": "entry",
    "LOG-05": "entry",
    "LOG-06": "entry",
    "LOG-07": "entry",
    **{f"ESC-0{i}": "create" for i in range(1, 7)},
    "CLO-01": "completed",
    "CLO-02": "completed",
    "CLO-03": "completed",
    "CLO-04": "completed",
    "CLO-05": "last",
    "PM-01": "completed",
    "PM-02": "completed",
    "PM-03": "completed",
}
