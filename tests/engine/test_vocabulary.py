"""The predicate registry documents itself: every predicate's example (printed in docs/rules.md)
compiles on a row kind the predicate allows."""

from __future__ import annotations

import numpy as np
import pytest

from audit.core.config import Config
from audit.core.yamlload import load_yaml_text
from audit.engine import loader
from audit.engine.vocabulary import FUNCTIONS, PREDICATES, Compiler, Definition, RuleProblem


def _definitions() -> dict[str, Definition]:
    _, sources = loader.rule_sources(None)
    docs = [(src, load_yaml_text(src.text, src.name)) for src in sources]
    collector = loader._Collector()
    defs = loader._definitions(docs, collector)
    assert not collector.problems
    return defs


DEFINITIONS = _definitions()


@pytest.mark.parametrize("name", sorted(PREDICATES))
def test_the_documented_example_compiles(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = PREDICATES[name]
    # The `function` example calls a check registered in Python; the test registers one.
    monkeypatch.setitem(FUNCTIONS, "my_check", ("a test check", lambda ctx, **_: np.ones(len(ctx), bool)))
    raw = load_yaml_text(spec.example, f"{name} example")
    problems = []
    for kind in spec.kinds:
        compiler = Compiler(Config().mapping, DEFINITIONS, kind)
        try:
            node = (compiler.condition if spec.role == "condition" else compiler.value)(raw, 1)
        except RuleProblem as exc:
            problems.append(f"{kind}: {exc.message}")
            continue
        assert node.role in ("condition", "value")
        return
    pytest.fail(f"the example of {name!r} compiles on none of its row kinds: {problems}")
