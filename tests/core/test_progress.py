"""Progress bars: shown on a terminal (or when asked), silent in logs and CI."""

from __future__ import annotations

import pytest

from audit.core.config import Config
from audit.core.progress import progress_bar
from audit.engine import evaluate, load_ruleset
from tests.engine.builders import AS_OF, PERIOD, build


def test_silent_when_stderr_is_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    with progress_bar(3, "render", "pages") as bar:  # pytest's captured stderr is not a terminal
        bar.update(3)
    evaluate(
        build({"tickets": [{"id": 1}]}), load_ruleset(None, Config()), Config(), period=PERIOD, as_of=AS_OF
    )
    assert capsys.readouterr().err == ""


def test_the_engine_shows_one_step_per_rule_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    ruleset = load_ruleset(None, Config())
    evaluate(build({"tickets": [{"id": 1}]}), ruleset, Config(), period=PERIOD, as_of=AS_OF, progress=True)
    err = capsys.readouterr().err
    assert "evaluate" in err and f"0/{len(ruleset.rules)}" in err and "rules/s" in err
