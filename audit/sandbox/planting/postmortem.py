"""Plantings of step 7, the lightweight post-mortem of closed P1/P2 tickets (PM-xx)."""

from __future__ import annotations

from audit.sandbox._build_notes import retex_notes
from audit.sandbox._draft import Draft
from audit.sandbox.planting._registry import Step, plants


@plants("PM-01", instead=Step.RETEX, needs="closed p12", window="life")
def no_retex(d: Draft) -> None:
    """Closed P1/P2 ticket without a RETEX note."""


@plants("PM-02", instead=Step.RETEX, needs="closed p12", window="life")
def retex_incomplete(d: Draft) -> None:
    retex_notes(d, incomplete=True)


@plants("PM-03", instead=Step.RETEX, needs="closed p12", window="life")
def retex_published(d: Draft) -> None:
    """A customer-visible RETEX is still a valid customer note for LOG-03."""
    retex_notes(d, published=True)
