"""Fixtures for the renderer tests: one small synthetic evaluation, scored and rendered once."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from audit.core.config import Config
from audit.results.scoring import period_findings, score
from audit.results.summary import Summary
from audit.sandbox.synthetic import SyntheticEvaluation, make_evaluation

EVIL_TITLE = '=HYPERLINK("http://x","y")'


@pytest.fixture(scope="session")
def evaluation() -> SyntheticEvaluation:
    # Ticket 0 gets a formula-looking title, ticket 1 HTML in its finding message; SLA-06 errors.
    return make_evaluation(
        seed=11,
        technicians=8,
        queues=3,
        tickets_per_tech_week=5,
        statuses={"SLA-06": "error"},
        titles={0: EVIL_TITLE, 1: "+cmd|' /C calc'!A0", 2: "@SUM(A1)", 3: "-2+3", 4: "\tTabbed"},
        messages={0: "<b>bold</b> & <script>alert(1)</script>"},
    )


@pytest.fixture(scope="session")
def config() -> Config:
    return Config()


@pytest.fixture(scope="session")
def summary(evaluation: SyntheticEvaluation, config: Config) -> Summary:
    assert evaluation.period is not None
    return score(evaluation, config, evaluation.period, as_of=evaluation.as_of)


@pytest.fixture(scope="session")
def findings(evaluation: SyntheticEvaluation) -> pd.DataFrame:
    assert evaluation.period is not None
    return period_findings(evaluation, evaluation.period)


@pytest.fixture(scope="session")
def outputs(
    tmp_path_factory: pytest.TempPathFactory,
    evaluation: SyntheticEvaluation,
    summary: Summary,
    config: Config,
) -> dict[str, Path]:
    from audit.render.outputs import render_all
    from audit.results.thresholds import ThresholdResult

    # Breached, met, and met on a low sample below the limit (reported as skipped).
    thresholds = [
        ThresholdResult("overall", "", 95.0, 80.0, 40, False, False, "overall 80.0 < 95"),
        ThresholdResult("step", "closure", 50.0, 90.0, 40, False, True, "closure 90.0 >= 50"),
        ThresholdResult("technician", "Bob", 90.0, 70.0, 3, True, True, "low sample"),
    ]
    assert [t.skipped for t in thresholds] == [False, False, True]
    return render_all(evaluation, summary, tmp_path_factory.mktemp("out"), config, thresholds=thresholds)
