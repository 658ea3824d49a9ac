"""The request budget: a run must fit in its share of the tenant's remaining hourly requests.

The 10,000 requests/hour are shared by every integration of the tenant, and going over suspends
the whole tenant's API, so a run checks its plan against ``ThresholdInformation`` before it
starts, and stops with a clear message instead of bursting.
"""

from __future__ import annotations

import math

from audit.core.errors import BudgetExceededError

from ._models import ThresholdInfo

__all__ = ["check_budget"]


def check_budget(planned_requests: int, threshold: ThresholdInfo, share: float = 0.5) -> int:
    """Raise :class:`~audit.core.errors.BudgetExceededError` when ``planned_requests`` exceeds
    ``share`` of the requests remaining; return the allowance (``floor(share * remaining)``)."""
    if isinstance(planned_requests, bool) or not isinstance(planned_requests, int) or planned_requests < 0:
        raise ValueError(f"planned_requests must be an int >= 0, got {planned_requests!r}")
    if not (isinstance(share, int | float) and 0 < share <= 1):
        raise ValueError(f"share must be in (0, 1], got {share!r}")
    allowed = math.floor(share * threshold.remaining)
    if planned_requests > allowed:
        raise BudgetExceededError(
            f"this run plans {planned_requests} Autotask API requests but may use at most {allowed} "
            f"({share:.0%} of the {threshold.remaining} left of the tenant's "
            f"{threshold.external_request_threshold} per {threshold.request_threshold_timeframe} min; "
            f"{threshold.current_timeframe_request_count} already used by all integrations). "
            "Wait for the usage to drop, plan less work (e.g. without TicketHistory), "
            "or raise extract.budget_share",
            request="GET ThresholdInformation",
        )
    return allowed
