"""The planting registry: ``@plants(key, ...)`` files one planting under its key.

A planting is one deliberate defect on one ticket. The builder writes a ticket as a fixed
sequence of :class:`Step` s; a planting is a small function bound to one step, run either
*after* the compliant step (it overwrites what the step wrote, drawing what it needs) or
*instead* of it (the step's own random draws are skipped, so the planting draws its own).
A defect that shows in two places (a description that mentions evidence *and* no attachment)
binds a second function to a second step with ``@binds``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from audit.sandbox._draft import Draft

__all__ = [
    "WORKFLOW",
    "Binding",
    "Planting",
    "RowKind",
    "Step",
    "Window",
    "binds",
    "catalog",
    "plants",
    "registered",
]

#: Rule families in workflow order. The catalog is ordered by family, then by key: the generator
#: draws over the catalog in that order, so the order is part of every seed's tenant.
WORKFLOW = ("INT", "QUA", "SLA", "LOG", "ESC", "CLO", "PM")

RowKind = Literal["ticket", "note", "time_entry"]
#: How a planted ticket is placed in its ISO week: ``create`` (createDate in the week), ``life``
#: (the whole ticket, creation to completion and every child row) or ``stale`` (last activity in
#: the week and at least ``stale_resolution_days`` before as-of).
Window = Literal["create", "life", "stale"]


class Step(Enum):
    """The builder's steps a planting can bind to, in the order the builder runs them."""

    MATRIX = "priority level and Impact x Urgency cell"
    UDF_VALUES = "Impact / Urgency values as written"
    RESOLVED = "resolution time of a closed ticket"
    WORK_END = "last work on an open ticket"
    FIRST_RESPONSE = "first response time"
    SLA = "SLA and its due dates"
    ASSIGNEE = "assigned resource"
    CUSTOMER = "company and contact"
    ROUTING = "source and queue"
    TICKET_TYPE = "ticket type"
    ISSUE = "issue / sub-issue type"
    TITLE = "title"
    DESCRIPTION = "description variant (inline image, empty body)"
    VENDOR_CASE = "Vendor Case ID UDF"
    ON_CALL = "On-call UDF"
    ESCALATION_NOTES = "ESCALATION notes"
    WORKLOG = "work-log notes"
    CUSTOMER_NOTES = "customer-visible notes"
    RETEX = "RETEX notes"
    NOTIFICATION = "last customer notification"
    TIME_ENTRIES = "time entries of the ticket"
    ENTRY_TIMES = "first time entry: date worked, start, end"
    ENTRY_SUMMARY = "first time entry: summary notes"
    ENTRY_BILLING = "first time entry: billing code"
    ATTACHMENT_TIMES = "attachment times"
    HISTORY_EDITS = "qualification edits in the history"
    ASSIGNMENT_DELAY = "first assignment delay in the history"
    RESOLUTION = "resolution text"


@dataclass(frozen=True)
class Binding:
    """A planting's function at one step."""

    plant: Callable[[Draft], None]
    replaces: bool  # True: runs instead of the compliant step; False: after it


@dataclass(frozen=True)
class Planting:
    """One registered planting and what the generator needs to know about it."""

    key: str
    #: Every rule that fails because of it (cascades included); ``SLA-05h`` / ``QUA-10`` are
    #: the history-dependent failures (``needs_history`` in the ground truth).
    rules: tuple[str, ...]
    #: Shape tokens the generator forces first, so that the defect is in the rule's scope and
    #: cascades nowhere else (see ``generator._force``).
    needs: frozenset[str]
    window: Window
    #: Share of the tickets carrying this planting (at least 3 at any size).
    rate: float
    #: The steps it binds to (most plantings: one).
    bindings: dict[Step, Binding]
    #: ``ticket``: the builder records the ticket-level failures; ``note`` / ``time_entry``:
    #: the planting's row, recorded by the step that writes it, with the row's own anchor.
    row: RowKind = "ticket"


_REGISTRY: dict[str, Planting] = {}


def plants(
    key: str,
    *,
    fails: str | None = None,
    after: Step | None = None,
    instead: Step | None = None,
    needs: str = "",
    window: Window = "create",
    rate: float = 0.005,
    row: RowKind = "ticket",
) -> Callable[[Callable[[Draft], None]], Callable[[Draft], None]]:
    """Register the decorated function as planting ``key``, bound to one step of the builder.

    ``fails``: the failing rules, space-separated (default: the key itself); exactly one of
    ``after`` / ``instead`` names the step; ``needs``: shape tokens, space-separated.
    """
    step, binding = _binding(key, after, instead)

    def register(fn: Callable[[Draft], None]) -> Callable[[Draft], None]:
        if key in _REGISTRY:
            raise ValueError(f"planting {key} is registered twice")
        rules = tuple((fails or key).split())
        _REGISTRY[key] = Planting(
            key, rules, frozenset(needs.split()), window, rate, {step: binding(fn)}, row
        )
        return fn

    return register


def binds(
    key: str, *, after: Step | None = None, instead: Step | None = None
) -> Callable[[Callable[[Draft], None]], Callable[[Draft], None]]:
    """Bind the decorated function to one more step of the (already registered) planting ``key``."""
    step, binding = _binding(key, after, instead)

    def register(fn: Callable[[Draft], None]) -> Callable[[Draft], None]:
        bindings = _REGISTRY[key].bindings
        if step in bindings:
            raise ValueError(f"planting {key} binds to {step.name} twice")
        bindings[step] = binding(fn)
        return fn

    return register


def _binding(
    key: str, after: Step | None, instead: Step | None
) -> tuple[Step, Callable[[Callable[[Draft], None]], Binding]]:
    if after is not None and instead is None:
        return after, lambda fn: Binding(fn, replaces=False)
    if instead is not None and after is None:
        return instead, lambda fn: Binding(fn, replaces=True)
    raise TypeError(f"planting {key}: give exactly one of after= / instead=")


def registered(key: str) -> Planting:
    return _REGISTRY[key]


def catalog() -> dict[str, Planting]:
    """Every registered planting, in catalog order (family in workflow order, then key)."""
    return dict(sorted(_REGISTRY.items(), key=lambda kv: (WORKFLOW.index(kv[0].split("-")[0]), kv[0])))
