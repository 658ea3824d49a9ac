"""TOML with line numbers: the config and waiver files name the file and line of every error.

``tomllib`` keeps no positions, so :func:`toml_line` finds a key path (a pydantic error ``loc``)
in the text itself: ``[tables]``, ``[[arrays of tables]]`` (an index in ``loc`` picks the entry),
dotted keys and quoted keys. A path that goes deeper than the text shows (into an inline table or
an array value, or a key that is missing) gets the line of its deepest ancestor in the text.

A hostile file costs no more than a clear error: an integer with more digits than Python
converts (``sys.get_int_max_str_digits()``) or arrays and inline tables nested deeper than
:data:`MAX_DEPTH` are configuration errors naming their line, never a crash.
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from collections.abc import Sequence
from typing import Any

from audit.core.errors import ConfigError

__all__ = ["MAX_DEPTH", "TomlLines", "load_toml_text", "toml_line"]

#: Deepest nesting of arrays and inline tables in one value (tomllib recurses per level).
MAX_DEPTH = 64

_KeyPath = tuple[str | int, ...]

# One key part: bare, "basic" (with escapes) or 'literal'.
_PART = r'\s*(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|\'[^\']*\')\s*'
_KEY = rf"{_PART}(?:\.{_PART})*"
_HEADER = re.compile(rf"^\s*(\[\[?)({_KEY})\]\]?")
_ASSIGN = re.compile(rf"^({_KEY})=")
_PART_TOKEN = re.compile(r'[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|\'[^\']*\'')


# Quoted strings, dropped before brackets are counted (brackets inside them are text).
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'')
_LONG_NUMBER = re.compile(r"[0-9_]+")


def load_toml_text(text: str, file: str | None = None) -> dict[str, Any]:
    """Parse TOML text; a syntax error is a ``ConfigError`` naming ``file`` and the line."""
    deep = _too_deep(text)
    if deep is not None:
        raise ConfigError(
            f"invalid TOML: arrays or inline tables nested deeper than {MAX_DEPTH} levels",
            file=file,
            line=deep,
        )
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"at line (\d+)", str(exc))
        line = getattr(exc, "lineno", None) or (int(found.group(1)) if found else None)
        raise ConfigError(f"invalid TOML: {exc}", file=file, line=line) from exc
    except ValueError as exc:  # tomllib's int(): more digits than sys.get_int_max_str_digits()
        limit = sys.get_int_max_str_digits()
        raise ConfigError(
            f"invalid TOML: integer longer than {limit} digits",
            file=file,
            line=_long_number_line(text, limit),
        ) from exc
    except RecursionError as exc:  # nesting the pre-scan missed (brackets inside multi-line strings)
        raise ConfigError("invalid TOML: nested too deeply", file=file) from exc


def _too_deep(text: str) -> int | None:
    """The first line where arrays and inline tables nest deeper than ``MAX_DEPTH`` (strings
    and comments ignored), else None."""
    depth = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _STRINGS.sub("", raw).split("#", 1)[0]
        if depth == 0 and line.lstrip().startswith("["):  # a [table] or [[array of tables]] header
            continue
        for char in line:
            if char in "[{":
                depth += 1
                if depth > MAX_DEPTH:
                    return number
            elif char in "]}":
                depth = max(depth - 1, 0)
    return None


def _long_number_line(text: str, limit: int) -> int | None:
    for number, raw in enumerate(text.splitlines(), start=1):
        if any(len(m.group().replace("_", "")) > limit for m in _LONG_NUMBER.finditer(raw)):
            return number
    return None


def _parts(key: str) -> list[str]:
    out = []
    for token in _PART_TOKEN.findall(key):
        if token.startswith('"'):
            try:
                token = json.loads(token)  # TOML basic-string escapes are (nearly) JSON's
            except ValueError:
                token = token[1:-1]
        elif token.startswith("'"):
            token = token[1:-1]
        out.append(token)
    return out


class TomlLines:
    """Where each table, array-of-tables entry and key of a TOML text is (1-based lines).

    Build it once to look up many paths (:func:`toml_line` is the one-off form).
    """

    def __init__(self, text: str) -> None:
        self._defined: dict[_KeyPath, int] = {}  # a header or a key: where it is written
        self._implied: dict[_KeyPath, int] = {}  # a table a dotted key or header implies
        counts: dict[_KeyPath, int] = {}  # array of tables -> entries so far
        table: _KeyPath = ()
        closing: str | None = None  # inside a multi-line string: its closing quotes
        for number, raw in enumerate(text.splitlines(), start=1):
            if closing is not None:
                if closing in raw:
                    closing = None
                continue
            header = _HEADER.match(raw)
            if header:
                table = self._resolve(_parts(header.group(2)), counts, array=header.group(1) == "[[")
                self._note(table, number)
                continue
            assign = _ASSIGN.match(raw)
            if assign:
                self._note((*table, *_parts(assign.group(1))), number)
                value = raw[assign.end() :]
                for quotes in ('"""', "'''"):
                    if value.lstrip().startswith(quotes) and value.count(quotes) == 1:
                        closing = quotes

    @staticmethod
    def _resolve(parts: list[str], counts: dict[_KeyPath, int], *, array: bool) -> _KeyPath:
        """A header's path with the current entry's index after every array of tables it crosses
        (and, for a ``[[header]]``, the index of the entry it opens)."""
        path: _KeyPath = ()
        for i, part in enumerate(parts):
            path = (*path, part)
            if array and i == len(parts) - 1:
                counts[path] = counts.get(path, 0) + 1
                path = (*path, counts[path] - 1)
            elif path in counts:
                path = (*path, counts[path] - 1)
        return path

    def _note(self, path: _KeyPath, number: int) -> None:
        self._defined.setdefault(path, number)
        for end in range(1, len(path)):
            self._implied.setdefault(path[:end], number)

    def line(self, loc: Sequence[Any]) -> int | None:
        """The line of ``loc`` (keys and indexes), else of its deepest ancestor in the text, else
        of the first key named like its last key; ``None`` when nothing matches."""
        path: _KeyPath = tuple(part if isinstance(part, int) else str(part) for part in loc)
        for end in range(len(path), 0, -1):
            found = self._defined.get(path[:end]) or self._implied.get(path[:end])
            if found is not None:
                return found
        names = [part for part in path if isinstance(part, str)]
        if names:
            for key, number in sorted(self._defined.items(), key=lambda item: item[1]):
                if key and key[-1] == names[-1]:
                    return number
        return None


def toml_line(text: str, loc: Sequence[Any]) -> int | None:
    """The 1-based line of a key path such as ``("mapping", "jargon")`` or
    ``("waivers", 2, "expires")`` in TOML text (see :class:`TomlLines`)."""
    return TomlLines(text).line(loc)
