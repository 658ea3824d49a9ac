"""The shared YAML loader: containers that know their lines, and the line of a key path."""

from __future__ import annotations

import pytest

from audit.yamlload import LineDict, LineList, YamlSyntaxError, line_at, line_of, load_yaml_text

TEXT = """\
# a comment
waivers:
  - rule: CLO-01
    tickets:
      - 1
      - 2
    expires: 2026-12-31
  - rule: CLO-02
"""


def test_lines_of_keys_and_items() -> None:
    doc = load_yaml_text(TEXT)
    assert isinstance(doc, LineDict) and doc.line == 2 and doc.key_lines == {"waivers": 2}
    items = doc["waivers"]
    assert isinstance(items, LineList) and items.item_lines == [3, 8]
    assert items[0]["expires"] == "2026-12-31"  # dates stay text
    assert line_of(items) == 3 and line_of("scalar", 7) == 7


@pytest.mark.parametrize(
    ("loc", "line"),
    [
        ((), 2),
        (("waivers",), 2),
        (("waivers", 1), 8),
        (("waivers", 0, "expires"), 7),
        (("waivers", 0, "tickets", 1), 6),
        (("waivers", 0, "reason"), 3),  # a missing key: the item's line
        (("waivers", 5, "rule"), 2),  # past the end: the list's key
        (("other",), 2),
    ],
)
def test_line_at(loc: tuple[object, ...], line: int) -> None:
    assert line_at(load_yaml_text(TEXT), loc) == line


def test_line_at_a_scalar_document_is_unknown() -> None:
    assert line_at(load_yaml_text("just text\n"), ("waivers",)) is None


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("a: 1\nb: [1\n", 3, "expected ',' or ']'"),
        ("a: 1\na: 2\n", 2, "duplicate key 'a'"),
    ],
)
def test_syntax_errors_have_a_line(text: str, line: int, problem: str) -> None:
    with pytest.raises(YamlSyntaxError) as info:
        load_yaml_text(text)
    assert info.value.line == line and problem in info.value.problem
    assert info.value.message == f"YAML syntax: {info.value.problem}"
