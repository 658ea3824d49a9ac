"""docs/waivers.md: every YAML and TOML example of a waivers file parses as documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from audit.results.waivers import Waiver, parse_waivers

DOC = Path(__file__).resolve().parents[1] / "docs" / "waivers.md"
BLOCK = re.compile(r"^```(yaml|toml)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _examples() -> list[tuple[str, str]]:
    return [(fmt, body) for fmt, body in BLOCK.findall(DOC.read_text(encoding="utf-8")) if "waivers" in body]


def test_the_doc_has_yaml_and_toml_examples() -> None:
    formats = [fmt for fmt, body in _examples() if "rule" in body]
    assert "yaml" in formats and "toml" in formats


@pytest.mark.parametrize(
    ("fmt", "body"), [e for e in _examples() if "rule" in e[1]], ids=lambda v: str(v)[:4]
)
def test_examples_parse(fmt: str, body: str) -> None:
    parsed = parse_waivers(body, fmt=fmt, path=f"docs/waivers.md ({fmt})")
    assert parsed.waivers and all(line is not None for line in parsed.lines)
    assert {w.rule for w in parsed.waivers} >= {"CLO-03", "*", "LOG-06"}


def test_yaml_and_toml_examples_agree() -> None:
    examples = [(fmt, body) for fmt, body in _examples() if "rule" in body]
    yaml_w = next(parse_waivers(b, fmt=f).waivers for f, b in examples if f == "yaml")
    toml_w = next(parse_waivers(b, fmt=f).waivers for f, b in examples if f == "toml")
    assert list(toml_w) == list(yaml_w[: len(toml_w)])


def test_documented_fields_are_the_model_fields() -> None:
    text = DOC.read_text(encoding="utf-8")
    table = text.split("## Fields", 1)[1].split("## YAML", 1)[0]
    documented = re.findall(r"^\| `(\w+)` \|", table, re.MULTILINE)
    assert documented == list(Waiver.model_fields)
