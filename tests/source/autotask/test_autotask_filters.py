"""Filter builder: the API's JSON shape, validation before sending, ``in`` chunking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from audit.core.errors import ConfigError
from audit.source.autotask import (
    ALL_ROWS,
    MAX_IN_VALUES,
    Condition,
    FilterError,
    and_,
    build_filters,
    chunk_in,
    cond,
    or_,
)


def test_condition_shapes() -> None:
    assert cond("status", "noteq", 5).to_api() == {"op": "noteq", "field": "status", "value": 5}
    assert cond("Impact", "exist", udf=True).to_api() == {"op": "exist", "field": "Impact", "udf": True}
    assert cond("id", "in", [3, 1, 2]).to_api() == {"op": "in", "field": "id", "value": [3, 1, 2]}
    assert ALL_ROWS.to_api() == {"op": "gte", "field": "id", "value": 0}


def test_operator_spelling_is_canonicalised() -> None:
    assert cond("title", "BEGINSWITH", "VPN").op == "beginsWith"
    assert cond("title", "notexist").op == "notExist"


def test_groups_nest_and_parse_api_dicts() -> None:
    group = or_(
        cond("priority", "eq", 1),
        and_({"op": "eq", "field": "status", "value": 8}, cond("queueID", "in", (5, 6))),
    )
    assert group.to_api() == {
        "op": "or",
        "items": [
            {"op": "eq", "field": "priority", "value": 1},
            {
                "op": "and",
                "items": [
                    {"op": "eq", "field": "status", "value": 8},
                    {"op": "in", "field": "queueID", "value": [5, 6]},
                ],
            },
        ],
    }
    # API-shaped dicts, any key case, are validated the same way.
    assert build_filters(
        [{"Op": "gte", "Field": "id", "Value": 0}, {"OP": "AND", "Items": [{"op": "exist", "field": "x"}]}]
    ) == [
        {"op": "gte", "field": "id", "value": 0},
        {"op": "and", "items": [{"op": "exist", "field": "x"}]},
    ]


def test_aware_datetime_becomes_utc_z_and_naive_is_refused() -> None:
    cet = timezone(timedelta(hours=1))
    assert (
        cond("lastActivityDate", "gt", datetime(2026, 11, 20, 10, 15, tzinfo=cet)).value
        == "2026-11-20T09:15:00Z"
    )
    assert cond("lastActivityDate", "gt", datetime(2026, 11, 20, tzinfo=UTC)).value == "2026-11-20T00:00:00Z"
    with pytest.raises(FilterError, match="no time zone"):
        cond("lastActivityDate", "gt", datetime(2026, 11, 20))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("status", "equals", 5), "unknown operator 'equals'"),
        (("status", "like", "x"), "unknown operator"),
        (("Impact", "exist", "High"), "takes no value"),
        (("Impact", "notExist", None), "takes no value"),
        (("id", "in", 5), "needs a list"),
        (("id", "in", "1,2,3"), "needs a list"),
        (("id", "notIn", []), "empty list"),
        (("id", "in", list(range(MAX_IN_VALUES + 1))), "chunk_in"),
        (("isActive", "eq", "true"), "real bool"),
        (("isActive", "eq", "False"), "real bool"),
        (("", "eq", 1), "non-empty"),
        (("   ", "eq", 1), "non-empty"),
        ((" status", "eq", 1), "surrounding blanks"),
        (("status", "eq"), "needs a value"),
        (("status", "eq", None), "exist"),
        (("hoursWorked", "gt", float("nan")), "finite"),
        (("title", "contains", 5), "needs a string"),
        (("status", "eq", [1]), "not allowed"),
        (("userDefinedFields", "exist"), "udf=True"),
    ],
)
def test_invalid_conditions_are_refused(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(FilterError, match=message):
        cond(*args)


def test_filter_error_is_both_value_error_and_config_error() -> None:
    with pytest.raises(ValueError):
        cond("status", "bogus", 1)
    with pytest.raises(ConfigError) as info:
        cond("status", "bogus", 1)
    assert info.value.exit_code == 2


def test_udf_string_booleans_are_legitimate() -> None:
    # UDF values are strings on the server: "True" is a real value there.
    assert cond("On-call", "eq", "True", udf=True).to_api()["value"] == "True"


def test_real_bools_and_non_bool_lookalikes() -> None:
    assert cond("isActive", "eq", True).to_api()["value"] is True

    class NotABool:
        pass

    with pytest.raises(FilterError, match="not allowed"):
        cond("isActive", "eq", NotABool())
    with pytest.raises(FilterError, match="udf must be a bool"):
        Condition("Impact", "exist", udf="yes")  # type: ignore[arg-type]


def test_filters_are_mandatory_and_groups_need_items() -> None:
    with pytest.raises(FilterError, match="mandatory"):
        build_filters([])
    with pytest.raises(FilterError, match="no items"):
        or_()
    with pytest.raises(FilterError, match="group operator"):
        build_filters({"op": "xor", "items": [ALL_ROWS]})
    with pytest.raises(FilterError, match="unknown key"):
        build_filters({"op": "eq", "field": "id", "value": 1, "vale": 2})
    with pytest.raises(FilterError, match="list of conditions"):
        build_filters("id gte 0")  # type: ignore[arg-type]


def test_chunk_in_splits_at_500_and_keeps_extra_conditions() -> None:
    ids = [*range(1, 1235), 7, 8]  # duplicates are dropped
    chunks = chunk_in("ticketID", ids, extra=[cond("publish", "eq", 1)])
    assert [len(c[0].to_api()["value"]) for c in chunks] == [500, 500, 234]
    assert all(c[1].to_api() == {"op": "eq", "field": "publish", "value": 1} for c in chunks)
    flat = [v for c in chunks for v in c[0].to_api()["value"]]
    assert flat == list(range(1, 1235))
    assert chunk_in("ticketID", []) == []
    assert [len(c[0].to_api()["value"]) for c in chunk_in("id", range(10), size=4)] == [4, 4, 2]


@pytest.mark.parametrize("size", [0, 501, True, 2.5])
def test_chunk_in_refuses_bad_sizes(size: Any) -> None:
    with pytest.raises(FilterError, match="chunk size"):
        chunk_in("id", [1, 2], size=size)


def test_chunk_in_refuses_unhashable_and_string_values() -> None:
    with pytest.raises(FilterError):
        chunk_in("id", [[1], [2]])
    with pytest.raises(FilterError):
        chunk_in("id", "123")
