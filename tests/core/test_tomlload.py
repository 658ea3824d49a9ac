"""The shared TOML helpers: syntax errors with their line, and the line of a key path."""

from __future__ import annotations

import pytest

from audit.core.errors import ConfigError
from audit.core.tomlload import TomlLines, load_toml_text, toml_line

TEXT = """\
store = "s"            # 1
rules."CLO-01".weight = 2

[mapping]
closed_statuses = ["Closed"]
"quoted key" = 1
priority_levels = { High = 2 }

[thresholds.rule]
'LOG-06' = 90

[[waivers]]
rule = "CLO-01"
reason = \"\"\"
expires = not a key: inside a string
\"\"\"

[[waivers]]
rule = "CLO-02"
expires = 2026-12-31

[[waivers.notes]]
text = "a"

[[waivers.notes]]
text = "b"
"""


def test_text_is_valid_toml() -> None:
    assert load_toml_text(TEXT)["waivers"][1]["notes"][1] == {"text": "b"}


@pytest.mark.parametrize(
    ("loc", "line"),
    [
        (("store",), 1),
        (("rules", "CLO-01", "weight"), 2),  # dotted and quoted key
        (("rules", "CLO-01"), 2),  # a table a dotted key implies
        (("mapping",), 4),
        (("mapping", "closed_statuses", 0), 5),  # into an array value: the key's line
        (("mapping", "quoted key"), 6),
        (("mapping", "priority_levels", "High"), 7),  # into an inline table
        (("mapping", "missing"), 4),  # a missing key: its table
        (("thresholds", "rule", "LOG-06"), 10),  # 'literal' key under a dotted header
        (("thresholds",), 9),
        (("waivers", 0), 12),
        (("waivers", 0, "expires"), 12),  # "expires" in the string is no key
        (("waivers", 1, "expires"), 20),
        (("waivers", 1, "approved_by"), 18),
        (("waivers", 1, "notes", 0, "text"), 23),  # nested arrays of tables
        (("waivers", 1, "notes", 1), 25),
        (("waivers",), 12),
        (("other", "expires"), 20),  # nowhere in the text: the first key of that name
        (("nowhere",), None),
        ((), None),
    ],
)
def test_toml_line(loc: tuple[object, ...], line: int | None) -> None:
    assert toml_line(TEXT, loc) == line
    assert TomlLines(TEXT).line(loc) == line


def test_syntax_error_names_file_and_line() -> None:
    with pytest.raises(ConfigError) as info:
        load_toml_text("a = 1\n[mapping\n", "c.toml")
    assert (info.value.file, info.value.line) == ("c.toml", 2)
    assert info.value.message.startswith("invalid TOML: ") and info.value.exit_code == 2


# --------------------------------------------------------------- hostile files (limits of the loader)


def test_a_5000_digit_integer_is_a_config_error_with_its_line() -> None:
    with pytest.raises(ConfigError) as info:
        load_toml_text("a = 1\nb = " + "9" * 5_000 + "\n", "c.toml")
    assert (info.value.file, info.value.line) == ("c.toml", 2)
    assert "integer longer than 4300 digits" in str(info.value)


@pytest.mark.parametrize(
    "value",
    [
        "[" * 2_000 + "]" * 2_000,
        "{a = " * 2_000 + "1" + "}" * 2_000,
        "[\n" + "[" * 2_000 + "]" * 2_000 + "\n]",
    ],
)
def test_deep_nesting_is_a_config_error_with_its_line(value: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_toml_text(f"a = 1\nb = {value}\n", "c.toml")
    assert info.value.line == (3 if value.startswith("[\n") else 2)
    assert "nested deeper than 64 levels" in str(info.value)


def test_brackets_in_strings_headers_and_arrays_of_arrays_are_not_nesting() -> None:
    text = "a = \"[[[[\" \nb = [[1, [2]], [3]]\n[t]\nc = [\n  [1],\n  [2],\n]\n[[u]]\nd = '{{{'\n"
    assert load_toml_text(text)["t"]["c"] == [[1], [2]]
