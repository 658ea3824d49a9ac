"""Templated finding messages: the rule file's text with the failing row's values."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.config import Config
from audit.engine import RuleValidationError, evaluate, load_ruleset
from audit.engine.messages import format_value
from tests.engine.builders import AS_OF, PERIOD, build
from tests.engine.test_validation import GOOD_RULE, _folder

CONFIG = Config()


def test_bundled_messages_say_what_was_found_and_expected() -> None:
    doc = {
        "tickets": [
            {"id": 1, "udf": {"Impact": "High", "Urgency": "High"}, "priority": "Medium"},
            {"id": 2, "title": "ACME stuff", "firstResponseDateTime": "2026-11-17T14:05:00Z",
             "firstResponseDueDateTime": "2026-11-17T13:30:00Z"},
        ],
        "time_entries": [{"id": 901, "ticketID": 1, "resourceID": 3, "dateWorked": "2026-11-18T00:00:00Z",
                          "startDateTime": "2026-11-18T09:00:00Z", "endDateTime": "2026-11-18T10:00:00Z",
                          "billingCodeID": 1, "summaryNotes": "done"}],
    }
    ev = evaluate(build(doc), load_ruleset(None, CONFIG), CONFIG, period=PERIOD, as_of=AS_OF)
    messages = dict(zip(ev.findings["rule_id"].astype(str), ev.findings["message"].astype(str), strict=True))
    assert messages["QUA-09"] == "priority Medium (P3) but Impact High × Urgency High gives P1"
    assert messages["SLA-03"] == "first response 2026-11-17 14:05, due 2026-11-17 13:30 (late or missing)"
    assert messages["LOG-06"] == "summary 'done' is blank, a placeholder or shorter than 20 characters"
    assert messages["INT-03"] == "title 'ACME stuff' does not follow [Customer] - [Service] - [Symptom]"


@pytest.mark.parametrize(("message", "values", "text"), [
    ('"{subject} is blank"', "", "neither in `values` nor a column"),
    ('"{a b}"', "", "is not a name"),
    ('"unclosed {title"', "", "message:"),
    ('"fixed text"', "    values: {x: title}\n", "not printed by the message"),
])
def test_bad_templates_name_the_file_and_line(tmp_path: Path, message: str, values: str, text: str) -> None:
    folder = _folder(tmp_path, GOOD_RULE + values + f"    message: {message}\n")
    with pytest.raises(RuleValidationError) as info:
        load_ruleset(folder, CONFIG)
    problem = info.value.problems[0]
    assert text in str(problem) and problem.line is not None and problem.file.endswith("intake.yaml")


def test_values_print_as_a_reviewer_reads_them() -> None:
    import pandas as pd

    assert format_value(pd.Timestamp("2026-11-17T14:05:00Z")) == "2026-11-17 14:05"
    assert format_value(pd.Timestamp("2026-11-17")) == "2026-11-17"
    assert format_value(pd.Timedelta(minutes=95)) == "1 h 35 min"
    assert format_value(None) == format_value(float("nan")) == "none"
    assert format_value(3.0) == "3" and format_value(["Hypothesis", "Question"]) == "Hypothesis, Question"


@pytest.mark.parametrize("zone", [None, "UTC", "America/Los_Angeles"])
def test_column_wise_dates_and_texts_print_as_format_value(zone: str | None) -> None:
    """The vectorised formatting of a whole column (dates through numpy, texts once per distinct
    value) prints each row exactly as format_value prints the value alone."""
    import numpy as np
    import pandas as pd

    from audit.engine.messages import _texts

    stamps = pd.Series(pd.to_datetime(["2026-11-17T14:05:00Z", "2026-11-18T08:00:00Z", None, "2026-03-08T10:00:30Z",
                                       "2026-11-18T00:00:00.5Z", "1999-12-31T23:59:59Z"], utc=True, format="ISO8601"))
    if zone is None:
        stamps = stamps.dt.tz_localize(None)
    elif zone != "UTC":
        stamps = stamps.dt.tz_convert(zone)
    whole = stamps[stamps.dt.microsecond == 0]  # format_value's rules, row by row
    assert list(_texts(whole, len(whole))) == [format_value(v) for v in whole]
    expected_minutes = stamps.dt.strftime("%Y-%m-%d %H:%M")
    expected = expected_minutes.where(stamps.dt.normalize() != stamps, stamps.dt.strftime("%Y-%m-%d")).fillna("none")
    assert list(_texts(stamps, len(stamps))) == list(expected)
    assert list(_texts(stamps[stamps.isna()], 1)) == ["none"]
    texts = pd.Series(["  two\twords ", None, "x" * 100, "same", "same", "a\u00a0 b\x0bc"], dtype="string")
    assert list(_texts(texts, len(texts))) == ["two words", "none", "x" * 79 + "…", "same", "same", "a b c"]
    assert _texts(texts, len(texts)).dtype == np.dtype(object)
