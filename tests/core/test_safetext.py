"""The output-escaping rules every renderer and console line shares (audit/core/safetext.py)."""

from __future__ import annotations

import pytest

from audit.core.safetext import console_lines, console_text, decode_json_body, neutralise_formula, xml_text


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("=SUM(A1)", "'=SUM(A1)"),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("\tTab", "'\tTab"),
        ("\rCR", "'\rCR"),
        ("T20261116.0001", "T20261116.0001"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_formula_text_gets_a_quote(text: str, shown: str) -> None:
    assert neutralise_formula(text) == shown


def test_console_text_is_one_line_with_controls_escaped() -> None:
    shown = console_text("x\n::add-mask::s\r\x1b[2J\x00\x7f\x85\u2028\u202eevil\ud800 — é ✓")
    assert shown == "x\\n::add-mask::s\\r\\x1b[2J\\x00\\x7f\\x85\\u2028\\u202eevil\\ud800 — é ✓"
    assert "\n" not in shown and shown.isprintable()
    assert console_text(42) == "42"


def test_console_text_defuses_ci_commands_read_anywhere_in_a_line() -> None:
    shown = console_text("Eve ##[stop-commands]tok ##VSO[task.setvariable variable=x]1 #[ok] ##")
    assert shown == "Eve ##\\[stop-commands]tok ##VSO\\[task.setvariable variable=x]1 #[ok] ##"


def test_console_lines_keep_the_tools_own_lines() -> None:
    assert (
        console_lines("rules.yaml:3: bad\nrules.yaml:9: \x1b[31mworse")
        == "rules.yaml:3: bad\nrules.yaml:9: \\x1b[31mworse"
    )


def test_xml_text_escapes_only_what_xml_cannot_hold() -> None:
    assert (
        xml_text("a\x00b\x07c\x01\x0b\x0c\ud800\ufffe\uffff")
        == "a\\x00b\\x07c\\x01\\x0b\\x0c\\ud800\\ufffe\\uffff"
    )
    kept = "tab\tLF\nCR\r é \u202e \x85 😀"
    assert xml_text(kept) == kept


def test_decode_json_body_shapes() -> None:
    assert decode_json_body(b'{"items": [{"id": 1, "title": "ok"}]}') == (
        {"items": [{"id": 1, "title": "ok"}]},
        [],
    )
    data, ids = decode_json_body('\ufeff{"item": {"id": 5, "title": "caf\\udce9"}}'.encode())
    assert data == {"item": {"id": 5, "title": "caf\ufffd"}} and ids == [5]
    data, ids = decode_json_body(
        b'{"items": [{"id": 1, "userDefinedFields": [{"name": "X", "value": "\xff"}]}]}'
    )
    assert data["items"][0]["userDefinedFields"][0]["value"] == "\ufffd" and ids == [1]
    assert decode_json_body(b'"\\ud800"') == ("\ufffd", [])
    with pytest.raises(ValueError):
        decode_json_body(b'{"items": [{"id": 1')
