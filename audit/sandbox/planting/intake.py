"""Plantings of step 1, intake: the e-mail that opened the ticket (INT-xx). All need an e-mail
ticket, the rules' scope."""

from __future__ import annotations

from audit.sandbox._draft import Draft
from audit.sandbox.planting._registry import Step, plants


@plants("INT-01", fails="INT-01 INT-03", after=Step.TITLE, needs="email")
def blank_title(d: Draft) -> None:
    """A blank title also fails INT-03: it has no three parts."""
    d.title = d.r.choice([None, "", "   ", "<p> </p>"])


@plants("INT-02", instead=Step.DESCRIPTION, needs="email")
def blank_description(d: Draft) -> None:
    d.desc = d.r.choice([None, "", "  \n ", "<div><br></div>", "<p> </p>"])


@plants("INT-03", after=Step.TITLE, needs="email", rate=0.01)
def malformed_title(d: Draft) -> None:
    short, svc, sym = d.short, d.svc, d.sym
    d.title = d.r.choice(
        [f"{svc} {sym}", f"{short} - {sym}", f"{short} -{svc}- {sym}", f"FW: {sym}", f"{short} - {svc} - "]
    )


@plants("INT-04", after=Step.CUSTOMER, needs="email")
def contact_of_another_company(d: Draft) -> None:
    other = d.r.choice([c for c in d.ctx.companies[:50] if c != d.home])
    d.contact = d.r.choice(d.ctx.contacts[other])


@plants("INT-05", after=Step.ROUTING, needs="email noesc")
def no_queue(d: Draft) -> None:
    """On a non-escalated ticket: a missing queue on an escalated one would also fail ESC-06."""
    d.queue = None
