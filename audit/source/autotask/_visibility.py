"""Rows the API user cannot see: the usual permission gaps, detected from counts.

Autotask leaves out, without any error, the rows the API user's security level may not see:
"This entity respects the *Can view non-billable time entries* system security setting. If the
API user does not have this permission, the entity will not return records in situations when
the isNonBillable field contains a value of true" (Autotask developer help, TimeEntries entity);
notes and tickets likewise follow the level's view rights. An audit run on such a user silently
under-reports. So ``doctor`` and every ``run`` look for the tell-tale gaps — rows of the kind
exist over the last 30 days but none of the subset a permission shows — and say what to grant.

One implementation, :func:`visibility_gaps`, serves both; it costs two ``query/count`` requests
per check (no rows are read).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ._filters import Condition, FilterInput, cond

__all__ = ["VISIBILITY_WINDOW_DAYS", "VisibilityGap", "log_visibility_gaps", "visibility_gaps"]

log = logging.getLogger("audit.source.autotask")

#: How far back the checks look.
VISIBILITY_WINDOW_DAYS = 30

Counter = Callable[[str, FilterInput], int]


@dataclass(frozen=True)
class _Check:
    entity: str
    date_field: str
    subset: Condition  # the rows a permission shows
    what: str
    grant: str


_CHECKS: tuple[_Check, ...] = (
    _Check(
        "TimeEntries", "dateWorked", cond("isNonBillable", "eq", True), "non-billable time entries",
        "give the API user's security level the 'Can view non-billable time entries' permission",
    ),
    # publish 1 is "All Autotask Users" (customer-visible); every other value is internal. The
    # values are Autotask's fixed TicketNotes publish values, the same in every tenant.
    _Check(
        "TicketNotes", "createDateTime", cond("publish", "noteq", 1), "internal notes",
        "give the API user's security level access to internal ticket notes (notes published to "
        "'Internal Project Team' or 'Internal & Co-Managed')",
    ),
)  # fmt: skip


@dataclass(frozen=True)
class VisibilityGap:
    """Rows of a kind exist but none of the subset the API user would need a permission to see."""

    entity: str
    rows: int
    what: str
    grant: str

    @property
    def message(self) -> str:
        return (
            f"{self.entity}: {self.rows} row(s) over the last {VISIBILITY_WINDOW_DAYS} days but no "
            f"{self.what}: the API user probably cannot see them, and the rules about them under-report"
        )


def visibility_gaps(
    count: Counter, as_of: datetime, checks: Sequence[_Check] = _CHECKS
) -> list[VisibilityGap]:
    """The gaps found with ``count`` (``AutotaskClient.count``) over the window before ``as_of``."""
    since = as_of - timedelta(days=VISIBILITY_WINDOW_DAYS)
    gaps: list[VisibilityGap] = []
    for check in checks:
        window = [cond(check.date_field, "gte", since), cond(check.date_field, "lt", as_of)]
        rows = count(check.entity, window)
        if rows and not count(check.entity, [*window, check.subset]):
            gaps.append(VisibilityGap(check.entity, rows, check.what, check.grant))
    return gaps


def log_visibility_gaps(count: Counter, as_of: datetime) -> list[VisibilityGap]:
    """:func:`visibility_gaps`, each logged once as a warning (what ``run`` does)."""
    gaps = visibility_gaps(count, as_of)
    for gap in gaps:
        log.warning("%s; %s", gap.message, gap.grant)
    return gaps
