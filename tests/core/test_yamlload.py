"""The shared YAML loader: containers that know their lines, and the line of a key path."""

from __future__ import annotations

import pytest

from audit.core.yamlload import LineDict, LineList, YamlSyntaxError, line_at, line_of, load_yaml_text

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


# --------------------------------------------------------------- hostile files (limits of the loader)


def _alias_bomb(levels: int = 9, indent: str = "") -> str:
    """A "billion laughs": each level a list of ten aliases to the level before (10**levels values)."""
    lines = [f"{indent}l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, levels + 1):
        prev = f"*l{level - 1}"
        lines.append(f"{indent}l{level}: &l{level} [{', '.join([prev] * 10)}]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_before_it_expands() -> None:
    with pytest.raises(YamlSyntaxError) as info:
        load_yaml_text("# header\n" + _alias_bomb())
    assert "more than 100000 values" in info.value.message
    assert info.value.line == 6  # level 4 (over 10**5 values with the levels before it)


def test_aliases_within_the_limit_still_work() -> None:
    doc = load_yaml_text("a: &a [x, y]\nb: *a\nc: [*a, *a]\n")
    assert doc["b"] == ["x", "y"] and doc["c"] == [["x", "y"], ["x", "y"]]


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    with pytest.raises(YamlSyntaxError) as info:
        load_yaml_text("ok: 1\nx: &a\n  - 1\n  - *a\n")
    assert "refers to a collection that contains it" in info.value.message and info.value.line == 4


@pytest.mark.parametrize("flow", [True, False])
def test_deep_nesting_is_refused_with_its_line(flow: bool) -> None:
    depth = 2_000
    if flow:
        text = "ok: 1\nx: " + "[" * depth + "]" * depth + "\n"
    else:
        text = "ok: 1\n" + "".join(f"{'  ' * i}k{i}:\n" for i in range(depth)) + f"{'  ' * depth}v\n"
    with pytest.raises(YamlSyntaxError) as info:
        load_yaml_text(text)
    assert "nested deeper than 64 levels" in info.value.message
    assert info.value.line == 2 if flow else info.value.line is not None and info.value.line > 60


def test_a_5000_digit_integer_is_a_syntax_error_with_its_line() -> None:
    with pytest.raises(YamlSyntaxError) as info:
        load_yaml_text("a: 1\nb: " + "9" * 5_000 + "\n")
    assert "integer too long (5000 characters)" in info.value.message and info.value.line == 2
