"""Templated finding messages: the rule file's text with the failing row's values."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from audit.core.config import Config
from audit.engine import RuleValidationError, evaluate, load_ruleset
from audit.engine.messages import format_value
from tests.engine.builders import AS_OF, PERIOD, build
from tests.engine.test_validation import GOOD_RULE, _folder

CONFIG = Config()


def test_bundled_messages_say_what_was_found_and_expected() -> None:
    doc = {
        "tickets": [
            {"id": 1, "udf": {"Impact": "High", "Urgency": "High"}, "priority": "Medium"},
            {
                "id": 2,
                "title": "ACME stuff",
                "firstResponseDateTime": "2026-11-17T14:05:00Z",
                "firstResponseDueDateTime": "2026-11-17T13:30:00Z",
            },
        ],
        "time_entries": [
            {
                "id": 901,
                "ticketID": 1,
                "resourceID": 3,
                "dateWorked": "2026-11-18T00:00:00Z",
                "startDateTime": "2026-11-18T09:00:00Z",
                "endDateTime": "2026-11-18T10:00:00Z",
                "billingCodeID": 1,
                "summaryNotes": "done",
            }
        ],
    }
    ev = evaluate(build(doc), load_ruleset(None, CONFIG), CONFIG, period=PERIOD, as_of=AS_OF)
    messages = dict(zip(ev.findings["rule_id"].astype(str), ev.findings["message"].astype(str), strict=True))
    assert messages["QUA-09"] == "priority Medium (P3) but Impact High × Urgency High gives P1"
    assert messages["SLA-03"] == "first response 2026-11-17 14:05, due 2026-11-17 13:30 (35 min late)"
    assert messages["LOG-06"] == "summary 'done' is blank, a placeholder or shorter than 20 characters"
    assert messages["INT-03"] == "title 'ACME stuff' does not follow [Customer] - [Service] - [Symptom]"


@pytest.mark.parametrize(
    ("message", "values", "text"),
    [
        ('"{subject} is blank"', "", "neither in `values` nor a column"),
        ('"{a b}"', "", "is not a name"),
        ('"unclosed {title"', "", "message:"),
        ('"fixed text"', "    values: {x: title}\n", "not printed by the message"),
    ],
)
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

    stamps = pd.Series(
        pd.to_datetime(
            [
                "2026-11-17T14:05:00Z",
                "2026-11-18T08:00:00Z",
                None,
                "2026-03-08T10:00:30Z",
                "2026-11-18T00:00:00.5Z",
                "1999-12-31T23:59:59Z",
            ],
            utc=True,
            format="ISO8601",
        )
    )
    if zone is None:
        stamps = stamps.dt.tz_localize(None)
    elif zone != "UTC":
        stamps = stamps.dt.tz_convert(zone)
    whole = stamps[stamps.dt.microsecond == 0]  # format_value's rules, row by row
    assert list(_texts(whole, len(whole))) == [format_value(v) for v in whole]
    expected_minutes = stamps.dt.strftime("%Y-%m-%d %H:%M")
    expected = expected_minutes.where(stamps.dt.normalize() != stamps, stamps.dt.strftime("%Y-%m-%d")).fillna(
        "none"
    )
    assert list(_texts(stamps, len(stamps))) == list(expected)
    assert list(_texts(stamps[stamps.isna()], 1)) == ["none"]
    texts = pd.Series(["  two\twords ", None, "x" * 100, "same", "same", "a\u00a0 b\x0bc"], dtype="string")
    assert list(_texts(texts, len(texts))) == ["two words", "none", "x" * 79 + "…", "same", "same", "a b c"]
    assert _texts(texts, len(texts)).dtype == np.dtype(object)


ESCALATION_PACK = "Context: user laptop\nTimestamp: 09:00\nEvidence: screenshot\nActions tried: reboot\n"


def _note(nid: int, tid: int, title: str, description: str, publish: int, at: str) -> dict[str, object]:
    return {
        "id": nid,
        "ticketID": tid,
        "title": title,
        "description": description,
        "noteType": 3,
        "publish": publish,
        "creatorResourceID": 1,
        "createDateTime": at,
    }


@functools.cache  # one evaluation serves every case below
def _messages_by_rule_and_ticket() -> dict[tuple[str, int], str]:
    doc = {
        "tickets": [
            {
                "id": 1,
                "udf": {"Impact": "High", "Urgency": "High"},
                "priority": "Medium",
                "contactID": 1001,
                "ticketType": "Alert",
                "subIssueType": "Laptop",
            },
            {
                "id": 2,
                "title": "ACME stuff",
                "firstResponseDateTime": "2026-11-17T14:05:00Z",
                "firstResponseDueDateTime": "2026-11-17T13:30:00Z",
                "resolvedDateTime": "2026-11-19T11:05:00Z",
                "companyID": 0,
                "udf": {"Impact": "Huge"},
            },
            {
                "id": 3,
                "priority": "High",
                "udf": {"Impact": "High", "Urgency": "Medium"},
                "queueID": "N2 - Support",
                "status": "Waiting Vendor",
                "completedDate": None,
                "lastActivityDate": "2026-11-17T09:00:00Z",
                "firstResponseDueDateTime": None,
                "firstResponseDateTime": None,
                "assignedResourceID": None,
                "resolvedDateTime": None,
                "resolvedDueDateTime": "2026-11-20T08:00:00Z",
            },
            {
                "id": 4,
                "priority": "High",
                "udf": {"Impact": "High", "Urgency": "Medium"},
                "_skip": ["internal_note"],
            },
            {"id": 5, "status": "Escalate", "_skip": ["attachment"]},
            {"id": 6, "status": "Escalate"},
            {"id": 7, "priority": "High", "udf": {"Impact": "High", "Urgency": "Medium", "On-call": "Yes"}},
        ],
        "notes": [
            _note(301, 3, "ESCALATION to N2", ESCALATION_PACK, 1, "2026-11-17T09:40:00Z"),
            _note(401, 4, "RETEX", "Root cause: disk full\nCorrective action:\n", 2, "2026-11-18T09:40:00Z"),
            _note(402, 4, "Update", "Rebooted the DC, ok", 1, "2026-11-18T09:40:00Z"),
            _note(601, 6, "ESCALATION", ESCALATION_PACK + "Hypothesis: driver\n", 2, "2026-11-17T09:00:00Z"),
        ],
        "time_entries": [
            {
                "id": 901,
                "ticketID": 1,
                "resourceID": 3,
                "dateWorked": "2026-11-16T00:00:00Z",
                "startDateTime": "2026-11-18T09:00:00Z",
                "endDateTime": "2026-11-18T08:00:00Z",
                "billingCodeID": None,
                "summaryNotes": "done",
            }
        ],
    }
    ev = evaluate(build(doc), load_ruleset(None, CONFIG), CONFIG, period=PERIOD, as_of=AS_OF)
    return {
        (str(r), int(t)): str(m)
        for r, t, m in zip(
            ev.findings["rule_id"], ev.findings["ticket_id"], ev.findings["message"], strict=True
        )
    }


@pytest.mark.parametrize(
    ("rule", "ticket", "text"),
    [
        ("INT-04", 1, "contact 1001 belongs to company 200 (Globex), the ticket to company 100 (Acme)"),
        ("QUA-01", 2, "company 0 (Our MSP) is missing or a catch-all company (catch-all: 0)"),
        (
            "QUA-03",
            1,
            "ticket type Alert is not one of the allowed types (Incident, Service Request, Problem)",
        ),
        ("QUA-05", 1, "sub-issue type Laptop is missing or not under issue type Software"),
        ("QUA-06", 2, "Impact Huge is not one of High, Medium, Low"),
        ("SLA-03", 2, "first response 2026-11-17 14:05, due 2026-11-17 13:30 (35 min late)"),
        ("SLA-04", 2, "resolved 2026-11-19 11:05, due 2026-11-19 09:00 (2 h 05 min late)"),
        # Never resolved: how overdue it is at the as-of (2026-11-25 12:00).
        ("SLA-04", 3, "resolved none, due 2026-11-20 08:00 (5 d 04 h 00 min late)"),
        ("SLA-02", 3, "SLA Gold: first response due none, resolution due 2026-11-20 08:00 (both expected)"),
        (
            "SLA-05",
            3,
            "priority High, assigned resource none: expected assigned within 15 min of creation (2026-11-17 09:00)",
        ),
        ("SLA-06", 4, "priority High but On-call is 'none' (expected one of Yes, True, 1, On-call)"),
        (
            "LOG-02",
            4,
            "no staff note has every section; the latest lacks: Symptom, Findings, Actions taken, Result, Next step",
        ),
        (
            "LOG-03",
            4,
            "customer-visible note 'Rebooted the DC, ok' is shorter than 40 characters or uses jargon",
        ),
        ("LOG-04", 1, "start 2026-11-18 09:00, end 2026-11-18 08:00: both expected, the end after the start"),
        ("LOG-06", 1, "summary 'done' is blank, a placeholder or shorter than 20 characters"),
        ("LOG-07", 1, "dated 2026-11-16, outside the ticket's life (2026-11-17 to 2026-11-18)"),
        ("ESC-01", 5, "escalated (queue N1 - Service Desk, status Escalate) but no note titled 'ESCALATION'"),
        ("ESC-02", 3, "sections missing: Hypothesis, Question"),
        ("ESC-02", 6, "sections missing: Question"),
        ("ESC-04", 5, "no attachment by the escalation (first ESCALATION note: none)"),
        ("ESC-04", 6, "no attachment by the escalation (first ESCALATION note: 2026-11-17 09:00)"),
        ("ESC-05", 3, "status Waiting Vendor but the UDF Vendor Case ID is blank"),
        ("ESC-06", 6, "queue N1 - Service Desk, resource 1: expected queue N2 - Support or an N2 engineer"),
        (
            "CLO-05",
            3,
            "status Waiting Vendor with a resolution and no activity since 2026-11-17 09:00 (over 5 days): expected closed",
        ),
        ("PM-01", 7, "priority High but no note titled 'RETEX'"),
        ("PM-02", 4, "RETEX sections missing: Corrective action, Preventive action"),
    ],
)
def test_each_rule_prints_what_was_found_and_expected(rule: str, ticket: int, text: str) -> None:
    assert _messages_by_rule_and_ticket()[(rule, ticket)] == text


def test_no_message_leaves_a_field_unfilled() -> None:
    messages = _messages_by_rule_and_ticket()
    assert len({rule for rule, _ in messages}) >= 25
    assert not [m for m in messages.values() if "{" in m or "}" in m or "late or missing" in m]


def test_missing_sections_and_late_by_follow_the_settings(tmp_path: Path) -> None:
    """The values read the tenant's settings: other headings, and a due time in another hour."""
    config = Config.model_validate({"mapping": {"escalation_sections": ["Context", "Ask"]}})
    doc = {
        "tickets": [
            {
                "id": 6,
                "status": "Escalate",
                "firstResponseDateTime": "2026-11-17T12:00:30Z",
                "firstResponseDueDateTime": "2026-11-17T12:00:00Z",
            }
        ],
        "notes": [_note(601, 6, "ESCALATION", "- Context: VPN down\n* Ask:   \n", 2, "2026-11-17T09:00:00Z")],
    }
    ev = evaluate(build(doc, config), load_ruleset(None, config), config, period=PERIOD, as_of=AS_OF)
    messages = dict(zip(ev.findings["rule_id"].astype(str), ev.findings["message"].astype(str), strict=True))
    assert messages["ESC-02"] == "sections missing: Ask"  # a heading with nothing after it is missing
    assert messages["SLA-03"].endswith("(1 min late)")  # 30 seconds late rounds up to a minute
