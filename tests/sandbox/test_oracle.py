"""The reference checker equals the planted ground truth, row for row and anchor for anchor."""

from __future__ import annotations

import copy
from datetime import timedelta

import pandas as pd
import pytest

from audit.sandbox.generator import generate_tenant, mutate_tenant
from audit.sandbox.oracle import _blank, _has_sections, check_tenant

KEY = ["rule_id", "row_kind", "row_id"]


def _assert_same(expected: pd.DataFrame, actual: pd.DataFrame) -> None:
    expected = expected.sort_values(KEY).reset_index(drop=True)
    actual = actual.sort_values(KEY).reset_index(drop=True)
    merged = expected.merge(actual, on=KEY, how="outer", indicator=True)
    missing = merged[merged["_merge"] == "left_only"][KEY].values.tolist()
    extra = merged[merged["_merge"] == "right_only"][KEY].values.tolist()
    assert not missing and not extra, f"missed {missing[:10]}, unexpected {extra[:10]}"
    pd.testing.assert_frame_equal(expected, actual)


@pytest.mark.parametrize("seed", [7, 1, 2026])
def test_oracle_equals_ground_truth(seed: int) -> None:
    tenant = generate_tenant(seed)
    truth = tenant.ground_truth
    _assert_same(truth[~truth.needs_history], check_tenant(tenant, tenant.as_of))
    _assert_same(truth, check_tenant(tenant, tenant.as_of, with_history=True))


def test_oracle_equals_ground_truth_at_another_size() -> None:
    tenant = generate_tenant(3, tickets=2_500, weeks=6, technicians=28)
    _assert_same(tenant.ground_truth, check_tenant(tenant, with_history=True))


def test_oracle_reads_raw_records_only() -> None:
    """Same records, ground truth thrown away: the oracle still finds every planted row."""
    tenant = generate_tenant(8, tickets=400)
    blind = copy.deepcopy(tenant)
    blind.ground_truth = blind.ground_truth.iloc[0:0]
    _assert_same(tenant.ground_truth, check_tenant(blind, with_history=True))


def test_no_history_means_no_history_rules() -> None:
    tenant = generate_tenant(7)
    found = check_tenant(tenant)
    assert "QUA-10" not in set(found.rule_id)
    assert not found.needs_history.any()


def test_as_of_moves_time_based_rules() -> None:
    """A later as-of makes more resolved-but-open tickets stale (CLO-05) and more SLAs lapse."""
    tenant = generate_tenant(7)
    later = check_tenant(tenant, tenant.as_of + timedelta(days=6))
    now = check_tenant(tenant, tenant.as_of)
    assert (later.rule_id == "CLO-05").sum() > (now.rule_id == "CLO-05").sum()


def test_after_mutation_ground_truth_is_the_oracle() -> None:
    tenant = generate_tenant(4, tickets=300)
    mutate_tenant(tenant, 0.05, seed=3, at=tenant.as_of + timedelta(hours=2))
    _assert_same(tenant.ground_truth, check_tenant(tenant, with_history=True))


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("Symptom: a\nFindings: b\nActions taken: c\nResult: d\nNext step: e", True),
        ("- symptom: a\n* FINDINGS:\n  b\n• Actions taken: c\n  Result: d\nNext step: e", True),
        ("Symptom: a\nFindings: b\nActions taken: c\nResult:\nNext step: e", False),  # blank section
        ("Symptom: a\nFindings: b\nActions taken: c\nNext step: e", False),  # missing section
        ("Symptom: a\nFindings: b\nActions taken: c\nResult: d\nNext step:   ", False),
        (None, False),
    ],
)
def test_sections(text: str | None, ok: bool) -> None:
    assert _has_sections(text, ["Symptom", "Findings", "Actions taken", "Result", "Next step"]) is ok


@pytest.mark.parametrize(
    ("text", "blank"),
    [
        (None, True),
        ("", True),
        ("  \n", True),
        ("<div><br></div>", True),
        ("<p> </p>", True),
        ("-1", False),
        ("<b>x</b>", False),
    ],
)
def test_blank(text: str | None, blank: bool) -> None:
    assert _blank(text) is blank
