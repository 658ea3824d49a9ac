"""Regular expressions written by users (config settings, rule files), checked when they load.

Python's ``re`` backtracks: a pattern such as ``^(a+)+$`` takes time exponential in the length
of a text it almost matches, so one hostile ticket title would stall the audit. Patterns are
therefore refused at load time when they hold the shapes that backtrack exponentially:

- a repeated group that itself holds a repeat (``(a+)+``, ``(a*b?)*``, ``(?:x{2,})+``);
- a backreference (``(a)\\1``): matching with one is not bounded by any polynomial.

Possessive repeats (``a*+``) and atomic groups (``(?>...)``) never backtrack and are allowed.
Shapes that are slow without being refused here (overlapping alternatives such as
``(a|aa)+``) are stopped by the engine's per-rule time limit (``evaluate.rule_time_limit_seconds``).
"""

from __future__ import annotations

import re
from re import _constants as _sre  # type: ignore[attr-defined]  # the parser behind re.compile:
from re import _parser as _sre_parse  # type: ignore[attr-defined]  # its tree is what re runs
from typing import Any

from audit.core.errors import UnsafeRegexError

__all__ = ["UnsafeRegexError", "compile_user_regex"]

_BACKTRACKING_REPEATS = {_sre.MAX_REPEAT, _sre.MIN_REPEAT}


def compile_user_regex(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """Compile ``pattern``; raise :class:`UnsafeRegexError` saying why it is refused."""
    try:
        compiled = re.compile(pattern, flags)
        tree = _sre_parse.parse(pattern, flags)
    except re.error as exc:
        raise UnsafeRegexError(str(exc)) from exc
    problem = _problem(tree, inside_repeat=False)
    if problem:
        raise UnsafeRegexError(f"{problem}: matching can take exponential time on some texts")
    return compiled


def _problem(items: Any, *, inside_repeat: bool) -> str | None:
    """Why the parsed pattern ``items`` is refused, or None."""
    for op, arg in items:
        if op in (_sre.GROUPREF, _sre.GROUPREF_EXISTS):
            return r"backreference (\1 or (?P=name)) not allowed"
        if op in _BACKTRACKING_REPEATS:
            _low, high, body = arg
            repeats = high > 1
            if repeats and inside_repeat:
                return "nested quantifier (a repeat inside a repeated group, as in (a+)+) not allowed"
            found = _problem(body, inside_repeat=inside_repeat or repeats)
            if found:
                return found
            continue
        if op in (_sre.POSSESSIVE_REPEAT, _sre.ATOMIC_GROUP):
            continue  # never backtracks into its body
        for child in _children(op, arg):
            found = _problem(child, inside_repeat=inside_repeat)
            if found:
                return found
    return None


def _children(op: Any, arg: Any) -> list[Any]:
    """The sub-patterns of one parsed node (groups, alternatives, look-arounds)."""
    if op is _sre.SUBPATTERN:
        return [arg[-1]]
    if op is _sre.BRANCH:
        return list(arg[1])
    if op in (_sre.ASSERT, _sre.ASSERT_NOT):
        return [arg[1]]
    return []
