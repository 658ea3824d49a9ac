"""The package's public surface is deliberate: changing it must change this test."""

from __future__ import annotations

import inspect

import audit.source.autotask as autotask

EXPECTED = {
    "ALL_ROWS", "AUTOTASK_EXECUTION_LIMIT", "CONDITION_OPERATORS", "DEFAULT_DISCOVERY_URL", "LOGGER_NAME", "MAX_IN_VALUES",
    "MAX_PAGE_SIZE", "MISSING", "AutotaskClient", "Condition", "Credentials", "Filter",
    "FilterError", "FilterInput", "Group", "RetryPolicy", "ThresholdInfo", "ZoneInfo", "and_",
    "build_filters", "check_budget", "chunk_in", "cond", "discover_zone", "or_",
    "VISIBILITY_WINDOW_DAYS", "VisibilityGap", "log_visibility_gaps", "visibility_gaps",
}  # fmt: skip


def test_all_is_pinned_and_resolvable() -> None:
    assert set(autotask.__all__) == EXPECTED
    assert len(autotask.__all__) == len(EXPECTED)
    for name in autotask.__all__:
        assert getattr(autotask, name) is not None
    public_modules = [
        n for n in dir(autotask) if not n.startswith("_") and inspect.ismodule(getattr(autotask, n))
    ]
    assert public_modules == []  # implementation modules are all private (_client, _filters, ...)


def test_client_signature_is_pinned() -> None:
    params = inspect.signature(autotask.AutotaskClient).parameters
    assert list(params) == [
        "zone", "credentials", "transport", "max_in_flight", "max_retries", "timeout",
        "backoff_base", "backoff_max", "sleep", "seed", "validation_retries", "query_timeout",
        "retry_budget", "server_limit",
    ]  # fmt: skip
    defaults = {k: p.default for k, p in params.items() if p.default is not inspect.Parameter.empty}
    assert defaults["max_in_flight"] == 3 and defaults["max_retries"] == 6 and defaults["timeout"] == 60.0
    assert defaults["backoff_base"] == 0.5 and defaults["backoff_max"] == 30.0 and defaults["seed"] is None
    assert defaults["query_timeout"] is None and defaults["retry_budget"] == 120.0
    assert defaults["server_limit"] == autotask.AUTOTASK_EXECUTION_LIMIT == 300.0
    assert all(params[k].kind is inspect.Parameter.KEYWORD_ONLY for k in list(params)[2:])
    for method in (
        "query",
        "query_many",
        "query_all",
        "count",
        "get",
        "entity_fields",
        "entity_udfs",
        "threshold",
        "close",
        "from_env",
    ):
        assert callable(getattr(autotask.AutotaskClient, method))
    assert list(inspect.signature(autotask.check_budget).parameters) == [
        "planned_requests",
        "threshold",
        "share",
    ]


def test_the_constants() -> None:
    assert autotask.ALL_ROWS.to_api() == {"op": "gte", "field": "id", "value": 0}
    assert autotask.MAX_IN_VALUES == 500 and autotask.MAX_PAGE_SIZE == 500
    assert autotask.DEFAULT_DISCOVERY_URL == "https://webservices.autotask.net"
    assert autotask.LOGGER_NAME == "audit.source.autotask"
