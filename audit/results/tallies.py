"""Tallies, the engine's counts of applicable / passed / failed checks per group, made into
score cells: waived findings moved to passed, groups summed, sums turned into a scored cell."""

from __future__ import annotations

from typing import Any

import pandas as pd

from audit.engine.tables import TALLY_COLUMNS
from audit.results.summary import ScoreCell, entity_key, ratio

__all__ = ["SUM_COLUMNS", "SUM_DECIMALS", "empty_tallies", "group_sums", "score_cell", "waive_tallies"]

#: Weighted sums keep more precision (weights may be fractional through rule overrides).
SUM_DECIMALS = 4


def empty_tallies() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="object") for c in TALLY_COLUMNS})
    for c in ("applicable", "passed", "failed", "weight"):
        frame[c] = frame[c].astype("float64")
    return frame


# --------------------------------------------------------------------------- waivers


def waive_tallies(tallies: pd.DataFrame, findings: pd.DataFrame) -> pd.DataFrame:
    """Tallies with ``waived`` and ``false_positive`` columns, each waived finding (false
    positives included) moved from failed to passed.

    The tally group of a finding is (rule, technician, queue, week). A group never loses more
    failures than it has (a defensive clip: the engine should never emit more findings than
    failures). ``waived`` counts the moved findings that are not false positives.
    """
    keys = ["rule_id", "technician_id", "queue_id", "week"]
    out = tallies.copy()
    if out.empty:
        out["waived"] = pd.Series(dtype="int64")
        out["false_positive"] = pd.Series(dtype="int64")
        return out
    for c in ("applicable", "passed", "failed"):
        out[c] = pd.to_numeric(out[c]).fillna(0).astype("int64")
    out["waived"] = 0
    out["false_positive"] = 0
    if findings.empty or "waived" not in findings.columns:
        return out
    waived = findings[findings["waived"].fillna(False).astype(bool)]
    if waived.empty:
        return out
    if "false_positive" in waived.columns:
        waived = waived.assign(_fp=waived["false_positive"].fillna(False).astype(bool).astype("int64"))
    else:
        waived = waived.assign(_fp=0)
    # Normalise the join keys (ids may be Int64 on one side and float on the other).
    counts = (
        waived.assign(
            technician_id=waived["technician_id"].map(entity_key),
            queue_id=waived["queue_id"].map(entity_key),
            week=waived["week"].astype(str),
        )
        .groupby(keys, dropna=False)
        .agg(_w=("_fp", "size"), _f=("_fp", "sum"))
        .reset_index()
    )
    joined = out.assign(
        _t=out["technician_id"].map(entity_key),
        _q=out["queue_id"].map(entity_key),
        _wk=out["week"].astype(str),
    ).merge(
        counts.rename(columns={"technician_id": "_t", "queue_id": "_q", "week": "_wk"}),
        on=["rule_id", "_t", "_q", "_wk"],
        how="left",
    )
    moved = joined["_w"].fillna(0).astype("int64").clip(upper=joined["failed"]).to_numpy()
    false_positive = joined["_f"].fillna(0).astype("int64").clip(upper=moved).to_numpy()
    out["waived"] = moved - false_positive
    out["false_positive"] = false_positive
    out["passed"] = out["passed"] + moved
    out["failed"] = out["failed"] - moved
    return out


# --------------------------------------------------------------------------- aggregation


def _cell(
    applicable: float,
    passed: float,
    failed: float,
    waived: float,
    false_positive: float,
    w_app: float,
    w_pass: float,
    min_sample: int,
) -> ScoreCell:
    n = int(applicable)
    return ScoreCell(
        score=ratio(w_pass, w_app),
        applicable=n,
        passed=int(passed),
        failed=int(failed),
        waived=int(waived),
        false_positive=int(false_positive),
        weighted_applicable=round(float(w_app), SUM_DECIMALS),
        weighted_passed=round(float(w_pass), SUM_DECIMALS),
        low_sample=n < min_sample,
    )


_EMPTY_SUMS = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
#: The summed tally columns, in the order of a sums tuple.
SUM_COLUMNS = ["applicable", "passed", "failed", "waived", "false_positive", "_w_app", "_w_pass"]


def group_sums(frame: pd.DataFrame, keys: list[str]) -> dict[Any, tuple[float, ...]]:
    """Group sums (applicable, passed, failed, waived, false_positive, w_app, w_pass) per key tuple."""
    if frame.empty:
        return {}
    grouped = frame.groupby(keys, dropna=False, sort=True)[SUM_COLUMNS].sum()
    # A one-key groupby has a flat index: normalise every key to a tuple so lookups are uniform.
    return {
        (idx if isinstance(idx, tuple) else (idx,)): tuple(float(v) for v in row)
        for idx, row in zip(grouped.index, grouped.to_numpy(), strict=True)
    }


def score_cell(sums: tuple[float, ...] | None, min_sample: int) -> ScoreCell:
    applicable, passed, failed, waived, false_positive, w_app, w_pass = sums or _EMPTY_SUMS
    return _cell(applicable, passed, failed, waived, false_positive, w_app, w_pass, min_sample)
