"""Autotask PSA REST client (httpx, sync, thread-safe).

The public surface is what ``__all__`` lists; the ``_``-modules behind it are private.

    from audit.source.autotask import AutotaskClient, ALL_ROWS, cond, chunk_in

    with AutotaskClient.from_env() as client:            # zone discovery unless AUTOTASK_ZONE_URL
        check_budget(planned, client.threshold())        # stop before bursting the tenant's budget
        for page in client.query("Tickets", [cond("lastActivityDate", "gt", since)],
                                 include_fields=ENTITIES["Tickets"].include_fields):
            ...

Errors: a bad filter raises :class:`FilterError` (a ``ConfigError`` and a ``ValueError``) before
anything is sent; a failed request raises :class:`audit.core.errors.ApiError` (entity, request,
last status); a plan that does not fit the budget raises :class:`audit.core.errors.BudgetExceededError`.
See ``_retry`` for the retry policy (500 validation errors are retried once, then reported;
throttling answered as 500 is retried like a 429; refused credentials raise
:class:`audit.core.errors.CredentialsError`).
"""

from ._budget import check_budget
from ._client import MAX_PAGE_SIZE, AutotaskClient
from ._filters import (
    ALL_ROWS,
    CONDITION_OPERATORS,
    MAX_IN_VALUES,
    MISSING,
    Condition,
    Filter,
    FilterError,
    FilterInput,
    Group,
    and_,
    build_filters,
    chunk_in,
    cond,
    or_,
)
from ._models import DEFAULT_DISCOVERY_URL, Credentials, ThresholdInfo, ZoneInfo
from ._retry import AUTOTASK_EXECUTION_LIMIT, LOGGER_NAME, RetryPolicy
from ._visibility import VISIBILITY_WINDOW_DAYS, VisibilityGap, log_visibility_gaps, visibility_gaps
from ._zone import discover_zone

__all__ = [
    "ALL_ROWS",
    "AUTOTASK_EXECUTION_LIMIT",
    "CONDITION_OPERATORS",
    "DEFAULT_DISCOVERY_URL",
    "LOGGER_NAME",
    "MAX_IN_VALUES",
    "MAX_PAGE_SIZE",
    "MISSING",
    "AutotaskClient",
    "Condition",
    "Credentials",
    "Filter",
    "FilterError",
    "FilterInput",
    "Group",
    "RetryPolicy",
    "ThresholdInfo",
    "VISIBILITY_WINDOW_DAYS",
    "VisibilityGap",
    "ZoneInfo",
    "and_",
    "build_filters",
    "check_budget",
    "chunk_in",
    "cond",
    "discover_zone",
    "log_visibility_gaps",
    "or_",
    "visibility_gaps",
]
