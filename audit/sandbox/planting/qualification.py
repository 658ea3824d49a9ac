"""Plantings of step 2, qualification (QUA-xx).

QUA-10 (history only) reads "set" as the vocabulary defines it: not null for ids and picklists,
not blank for the Impact/Urgency UDFs. A planting that leaves a qualification field unset also
fails QUA-10 (it was not set within the qualification minutes); a set-but-wrong value (companyID
0, ticketType Alert, a subIssueType of another issue type, Impact "Critical") does not. Keys
ending in ``n`` are the unset variants.
"""

from __future__ import annotations

from audit.sandbox._build_fields import ISSUE_LABELS, SUBS
from audit.sandbox._build_rows import QUAL_FIELDS, history
from audit.sandbox._core import CELLS, HOUR, MIN
from audit.sandbox._draft import Draft
from audit.sandbox.planting._registry import Step, plants

_UNSET_UDF = [None, "", "   "]


@plants("QUA-01", after=Step.CUSTOMER)
def catch_all_company(d: Draft) -> None:
    """companyID 0 with a contact of company 0: set (QUA-10 passes) and INT-04 passes."""
    d.company, d.contact = 0, d.r.choice(d.ctx.contacts[0])


@plants("QUA-01n", fails="QUA-01 QUA-10", after=Step.CUSTOMER)
def no_company(d: Draft) -> None:
    """companyID null: INT-04 is not applicable."""
    d.company = None


@plants("QUA-02", fails="QUA-02 QUA-10", after=Step.CUSTOMER)
def no_contact(d: Draft) -> None:
    d.contact = None


@plants("QUA-03", after=Step.TICKET_TYPE)
def type_not_allowed(d: Draft) -> None:
    d.ttype = d.r.choice(["Change Request", "Alert"])


@plants("QUA-03n", fails="QUA-03 QUA-10", after=Step.TICKET_TYPE, rate=0.003)
def no_type(d: Draft) -> None:
    d.ttype = None


@plants("QUA-04", fails="QUA-04 QUA-05 QUA-10", after=Step.ISSUE)
def no_issue_type(d: Draft) -> None:
    """Planted with no subIssueType either, so QUA-05 fails too."""
    d.issue = d.sub = None


@plants("QUA-05", after=Step.ISSUE)
def sub_issue_of_another_type(d: Draft) -> None:
    r = d.r
    d.sub = r.choice(SUBS[r.choice([k for k in ISSUE_LABELS if k != d.issue_label])])


@plants("QUA-05n", fails="QUA-05 QUA-10", after=Step.ISSUE, rate=0.003)
def no_sub_issue_type(d: Draft) -> None:
    d.sub = None


@plants("QUA-06", after=Step.UDF_VALUES)
def impact_outside_vocabulary(d: Draft) -> None:
    """Only narrows QUA-09's scope: no QUA-09 failure."""
    d.impact_v = d.r.choice(["Critical", "Hgh", "Very High"])


@plants("QUA-06n", fails="QUA-06 QUA-10", after=Step.UDF_VALUES, rate=0.003)
def impact_blank(d: Draft) -> None:
    d.impact_v = d.r.choice(_UNSET_UDF)


@plants("QUA-07", after=Step.UDF_VALUES)
def urgency_outside_vocabulary(d: Draft) -> None:
    d.urgency_v = d.r.choice(["Critical", "Lw", "Normal"])


@plants("QUA-07n", fails="QUA-07 QUA-10", after=Step.UDF_VALUES, rate=0.003)
def urgency_blank(d: Draft) -> None:
    d.urgency_v = d.r.choice(_UNSET_UDF)


@plants("QUA-08", fails="QUA-08 QUA-10", after=Step.ROUTING)
def no_source(d: Draft) -> None:
    """No source makes the ticket a non-email ticket: the INT rules do not apply."""
    d.source = None


@plants("QUA-09", instead=Step.MATRIX, rate=0.01)
def priority_off_matrix(d: Draft) -> None:
    """An Impact x Urgency cell of another level; a quarter of them with a priority label that
    has no level at all. The ticket keeps its real level for every P1/P2 rule (an
    over-prioritised High ticket is a P2 ticket for SLA-05/06 and PM, and is compliant there)."""
    r = d.r
    if r.random() < 0.25:
        d.level = 0
    d.impact, d.urgency = r.choice([c for lv, cells in CELLS.items() if lv != d.level for c in cells])


@plants("QUA-10", after=Step.HISTORY_EDITS, rate=0.01)
def qualified_late(d: Draft) -> None:
    """A qualification field set 10 minutes to 2 hours after creation (history only)."""
    r = d.r
    history(
        d,
        d.s.created + r.randint(10 * MIN, 2 * HOUR),
        "Field Changed",
        f"{r.choice(QUAL_FIELDS)}:  -> set",
        d.author,
    )
