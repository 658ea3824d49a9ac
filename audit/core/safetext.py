"""Tenant text made safe for each place it is shown: the one module of output-escaping rules.

Ticket titles, notes, technician and queue names come from the tenant, and e-mail subjects
become titles, so every one of them is attacker-controlled. Each output format has characters
it cannot hold or that change its meaning; the rules live here so every renderer applies the
same ones (docs/security.md lists them):

* :func:`is_formula_like` / :func:`neutralise_formula` — a spreadsheet reads a cell starting
  with ``= + - @`` (or tab / CR) as a formula. The workbook marks such cells as literal text;
  ``findings.csv`` prefixes them with ``'`` (the OWASP rule for CSV injection).
* :func:`console_text` — one log or console message is one line: control characters (CR, LF,
  ESC, NUL, the Unicode line separators, bidi overrides, lone surrogates) are shown escaped
  (``\\n``, ``\\x1b``), so a name like ``x\\n::add-mask::`` cannot start a line of its own
  (a CI workflow command) nor move the terminal's cursor. The CI commands a runner reads
  anywhere in a line — GitHub's legacy ``##[command]`` (``##[stop-commands]`` would switch
  off every later annotation) and Azure Pipelines' ``##vso[...]`` — get their bracket escaped
  (``##\\[``).
* :func:`xml_text` — XML 1.0 (xlsx, HTML for the PDF, junit.xml) cannot hold most C0 control
  characters, lone surrogates, U+FFFE and U+FFFF: they are shown escaped the same way.
* :func:`decode_json_body` — the API's answer decoded tolerantly: invalid UTF-8 and lone
  surrogates (a ``\\ud800`` escape) become U+FFFD, and the ids of the rows that held them are
  returned so the caller can log them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

__all__ = [
    "FORMULA_PREFIXES",
    "console_lines",
    "console_text",
    "decode_json_body",
    "is_formula_like",
    "neutralise_formula",
    "xml_text",
]

#: A cell starting with one of these is read as a formula by Excel, LibreOffice or Google Sheets.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

# C0 and C1 controls, DEL, line/paragraph separators, bidi embeddings/overrides/isolates (they
# reorder what a terminal shows), and surrogates (a lone one cannot even be encoded).
_CONSOLE_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
# CI commands recognised anywhere in a line: GitHub's legacy form (the runner's ActionCommand.TryParse
# looks for "##[" with IndexOf) and Azure Pipelines' logging commands.
_INLINE_CI_COMMAND = re.compile(r"##(?:vso)?\[", re.IGNORECASE)
# What XML 1.0 forbids (its Char production): tab, LF and CR are the only controls it allows.
_XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# A \uD800-\uDFFF escape in JSON text: the only way a surrogate reaches a decoded str.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]")


def is_formula_like(text: str) -> bool:
    return text.startswith(FORMULA_PREFIXES)


def neutralise_formula(text: str) -> str:
    """``text`` a spreadsheet shows as typed: formula-like text gets a leading ``'``."""
    return "'" + text if is_formula_like(text) else text


def _escaped(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def console_text(value: object) -> str:
    """``value`` as one console line: control and reordering characters shown escaped, in-line
    CI commands defused."""
    text = _CONSOLE_UNSAFE.sub(_escaped, str(value))
    return _INLINE_CI_COMMAND.sub(lambda m: m.group()[:-1] + "\\[", text)


def console_lines(text: str) -> str:
    """A text of the tool's own made of several lines (a rule file's problems, doctor's checks):
    its line breaks kept, everything else :func:`console_text` escapes shown escaped in each."""
    return "\n".join(console_text(line) for line in text.split("\n"))


def xml_text(text: str) -> str:
    """``text`` with every character XML 1.0 cannot hold shown escaped (``\\x07``, ``\\ud800``)."""
    return _XML_UNSAFE.sub(_escaped, text)


def decode_json_body(content: bytes) -> tuple[Any, list[object]]:
    """The JSON document in ``content`` and the ids of the items whose text had to be repaired.

    Strict UTF-8 first (the common case costs nothing extra); invalid bytes are then replaced
    with U+FFFD. Lone surrogates, which ``json`` happily decodes from ``\\ud800`` escapes but no
    UTF-8 writer (parquet, CSV) accepts, are replaced too. Raises ``ValueError`` when the text
    is not JSON at all (a truncated body).
    """
    try:
        text = content.decode("utf-8")
        damaged = False
    except UnicodeDecodeError:
        text = content.decode("utf-8", errors="replace")
        damaged = True
    if text.startswith("\ufeff"):
        text = text[1:]
    data = json.loads(text)
    surrogates = _SURROGATE_ESCAPE.search(content) is not None
    if not (damaged or surrogates):
        return data, []
    if isinstance(data, str):
        return _SURROGATE.sub("\ufffd", data), []
    ids: list[object] = []
    for item in _items(data):
        if _repair(item, damaged=damaged) and isinstance(item, dict) and "id" in item:
            ids.append(item["id"])
    return data, ids


def _items(data: Any) -> Iterator[Any]:
    """The records of an answer (``{"items": [...]}``, ``{"item": {...}}``), then the whole answer
    (its other keys; the records are already repaired by then)."""
    if isinstance(data, dict):
        for key in ("items", "item"):
            rows = data.get(key)
            yield from (rows if isinstance(rows, list) else [rows] if isinstance(rows, dict) else [])
        yield data
    elif isinstance(data, list):
        yield from data


def _repair(node: Any, *, damaged: bool) -> bool:
    """Replace lone surrogates in every string of ``node`` in place. True when ``node`` held one
    or, when the body had invalid UTF-8 (``damaged``), a U+FFFD the decoder put there."""
    if not isinstance(node, dict | list):
        return False
    found = False
    for key, value in list(node.items() if isinstance(node, dict) else enumerate(node)):
        if isinstance(value, str):
            fixed = _SURROGATE.sub("\ufffd", value)
            if fixed != value:
                node[key] = fixed
            found = found or fixed != value or (damaged and "\ufffd" in value)
        else:
            found = _repair(value, damaged=damaged) or found
    return found
