"""Text predicates: blank, matches, starts_with, contains_words, min_length, sections.

They read the HTML-stripped ``<column>_text`` twin when the frames have one, work on slices of
rows (so no predicate holds a copy of gigabytes of notes), and keep their patterns free of
``\\s``/``\\b`` where possible: pandas then runs them on pyarrow's RE2 engine instead of
Python's ``re``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from audit.core.yamlload import LineDict
from audit.engine.context import Ctx
from audit.engine.frames import strip_html
from audit.engine.predicates import as_bool, list_setting, text_of
from audit.engine.vocabulary import PREDICATES, Arg, Compiler, Node, RuleProblem, predicate, regex

__all__: list[str] = []

# --- text --------------------------------------------------------------------------------

_CHUNK_ROWS = 262_144  # rows per text slice (tests shrink it)


def _text_chunks(node: Node, ctx: Ctx) -> Iterator[pd.Series]:
    """The text of ``node`` over ``ctx`` in slices of rows: a column is taken slice by slice
    from the full frame, so a text predicate never holds a copy of all the text it reads."""
    n = len(ctx)
    if node.column is not None and node.column in ctx.frame:
        full = ctx.frame.full[node.column]
        rows = ctx.base_rows
        for start in range(0, n, _CHUNK_ROWS):
            if rows is None:
                yield full.iloc[start : start + _CHUNK_ROWS].astype("string").reset_index(drop=True)
            else:
                yield _rows_of(full, rows[start : start + _CHUNK_ROWS])
        return
    text = text_of(node(ctx), n)
    for start in range(0, n, _CHUNK_ROWS):
        yield text.iloc[start : start + _CHUNK_ROWS].reset_index(drop=True)


def _rows_of(full: pd.Series, part: np.ndarray) -> pd.Series:
    """``full`` at positions ``part``, as strings, in ``part``'s order.

    A take over a whole chunked text column costs in proportion to the column at every call
    (millions of notes, once per slice); instead the positions are sorted, and a boolean filter
    runs over a zero-copy slice spanning just them (Arrow filters chunk by chunk). Only the
    slice's own values are then put back in ``part``'s order.
    """
    if len(part) == 0:
        return pd.Series(full.array[:0]).astype("string")
    order = None if bool(np.all(part[1:] > part[:-1])) else np.argsort(part, kind="stable")
    ordered = part if order is None else part[order]
    if order is not None and not bool(np.all(ordered[1:] > ordered[:-1])):
        return pd.Series(full.array.take(part)).astype("string")  # repeated rows: a filter cannot
    low = int(ordered[0])
    keep = np.zeros(int(ordered[-1]) + 1 - low, dtype=bool)
    keep[ordered - low] = True
    values = full.iloc[low : low + len(keep)].array[keep]
    if order is not None:
        values = values.take(np.argsort(order))
    return pd.Series(values).astype("string")


def _by_chunk(node: Node, ctx: Ctx, test: Callable[[pd.Series], np.ndarray]) -> np.ndarray:
    parts = [test(chunk) for chunk in _text_chunks(node, ctx)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=bool)


def _text_arg(c: Compiler, raw: Any, line: int) -> Node:
    if isinstance(raw, str) and not raw.startswith("$"):
        return c.column_node(raw, line, text=True)
    if isinstance(raw, LineDict) and set(raw) == {"udf"}:
        return c.column_node(raw, line, text=True)
    return c.value(raw, line)


@predicate(
    "blank",
    role="condition",
    category="text",
    summary="Null, empty, or only whitespace after HTML tags are stripped. On a non-text value: null.",
    args=(Arg("of", "column or value", "the text"),),
    example="blank: title",
    shorthand="of",
)
def _blank(c: Compiler, raw: Any, line: int) -> Node:
    inner = _text_arg(c, raw["of"] if isinstance(raw, dict) and "of" in raw else raw, line)

    def test(text: pd.Series) -> np.ndarray:
        if not inner.key.endswith("_text"):  # e.g. a UDF: strip HTML here
            text = strip_html(text)
        # "Has a non-space character" stops at the first one: no stripped copy of long text.
        return ~as_bool(text.str.contains(_NON_SPACE, regex=True), len(text))

    def fn(ctx: Ctx) -> np.ndarray:
        if inner.column is None:
            value = inner(ctx)
            if (
                isinstance(value, pd.Series)
                and not isinstance(value.dtype, pd.StringDtype)
                and value.dtype != object
            ):
                missing: np.ndarray = value.isna().to_numpy()
                return missing
        elif inner.column in ctx.frame and not isinstance(ctx.frame.full[inner.column].dtype, pd.StringDtype):
            missing = inner(ctx).isna().to_numpy()
            return missing
        return _by_chunk(inner, ctx, test)

    return Node(f"blank[{inner.key}]", "condition", fn)


@predicate(
    "matches",
    role="condition",
    category="text",
    summary="The text matches a regular expression (searched anywhere; anchor with ^ and $). Validated when rules load: "
    "a pattern that can backtrack exponentially (a nested quantifier such as `(a+)+`, a backreference) is refused.",
    args=(
        Arg("of", "column or value", "the text"),
        Arg("pattern", "regex or setting", "the pattern"),
        Arg("ignore_case", "bool", "case-insensitive", required=False),
    ),
    example="matches: {of: title, pattern: $mapping.title_pattern}",
)
def _matches(c: Compiler, raw: Any, line: int) -> Node:
    args = c.args(PREDICATE_MATCHES, raw, line)
    inner = _text_arg(c, args["of"], line)
    source = c.resolve(args["pattern"], line)
    # Inline flags (not re flags) keep pandas on pyarrow's RE2 path when the pattern allows.
    if args.get("ignore_case") and isinstance(source, str):
        source = "(?i)" + source
    pattern = regex(source, c.line_in(raw, "pattern", line))

    def test(text: pd.Series) -> np.ndarray:
        with warnings.catch_warnings():  # groups in a user's pattern are fine: we only test
            warnings.filterwarnings("ignore", "This pattern is interpreted as a regular expression")
            return as_bool(text.str.contains(pattern.pattern, regex=True), len(text))

    def fn(ctx: Ctx) -> np.ndarray:
        return _by_chunk(inner, ctx, test)

    return Node(f"matches[{inner.key};{pattern.pattern}]", "condition", fn)


@predicate(
    "starts_with",
    role="condition",
    category="text",
    summary="The trimmed text starts with a prefix (case-insensitive unless `casefold: false`): marker notes.",
    args=(
        Arg("of", "column or value", "the text"),
        Arg("prefix", "text or setting", "the prefix"),
        Arg("casefold", "bool", "case-insensitive (default true)", required=False),
    ),
    example="starts_with: {of: title, prefix: $mapping.escalation_marker}",
)
def _starts_with(c: Compiler, raw: Any, line: int) -> Node:
    args = c.args(PREDICATE_STARTS, raw, line)
    inner = _text_arg(c, args["of"], line)
    prefix = c.resolve(args["prefix"], line)
    if not isinstance(prefix, str) or not prefix:
        raise RuleProblem(f"starts_with: prefix must be non-empty text, got {prefix!r}", line)
    casefold = bool(args.get("casefold", True))
    wanted = prefix.lower() if casefold else prefix

    def test(text: pd.Series) -> np.ndarray:
        text = text.str.lstrip()
        if casefold:
            text = text.str.lower()
        return as_bool(text.str.startswith(wanted), len(text))

    def fn(ctx: Ctx) -> np.ndarray:
        return _by_chunk(inner, ctx, test)

    return Node(f"starts_with[{inner.key};{wanted};{casefold}]", "condition", fn)


@predicate(
    "contains_words",
    role="condition",
    category="text",
    summary="The text contains at least one of the terms as a whole word (case-insensitive unless `casefold: false`).",
    args=(
        Arg("of", "column or value", "the text"),
        Arg("words", "list or setting", "the terms"),
        Arg("casefold", "bool", "case-insensitive (default true)", required=False),
    ),
    example="contains_words: {of: description, words: $mapping.jargon}",
)
def _contains_words(c: Compiler, raw: Any, line: int) -> Node:
    args = c.args(PREDICATE_WORDS, raw, line)
    inner = _text_arg(c, args["of"], line)
    words = [str(w) for w in list_setting(c, args["words"], line, "contains_words") if str(w)]
    casefold = bool(args.get("casefold", True))
    body = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    # \b keeps the pattern RE2-compatible (pyarrow's fast path) when every term starts and
    # ends with a word character; otherwise look-arounds (Python's re) do the same job.
    if not body:
        pattern = r"[^\s\S]"  # matches nothing
    elif all(re.match(r"\w", w[0]) and re.match(r"\w", w[-1]) for w in words):
        pattern = rf"\b(?:{body})\b"
    else:
        pattern = rf"(?<!\w)(?:{body})(?!\w)"
    if casefold:
        pattern = "(?i)" + pattern
    regex(pattern, line)

    def test(text: pd.Series) -> np.ndarray:
        return as_bool(text.str.contains(pattern, regex=True), len(text))

    def fn(ctx: Ctx) -> np.ndarray:
        return _by_chunk(inner, ctx, test)

    return Node(f"contains_words[{inner.key};{pattern}]", "condition", fn)


@predicate(
    "min_length",
    role="condition",
    category="text",
    summary="The trimmed, HTML-stripped text has at least `chars` characters.",
    args=(Arg("of", "column or value", "the text"), Arg("chars", "number or setting", "minimum length")),
    example="min_length: {of: summaryNotes, chars: $mapping.min_summary_chars}",
)
def _min_length(c: Compiler, raw: Any, line: int) -> Node:
    args = c.args(PREDICATE_MINLEN, raw, line)
    inner = _text_arg(c, args["of"], line)
    chars = c.resolve(args["chars"], line)
    if not isinstance(chars, int) or isinstance(chars, bool):
        raise RuleProblem(f"min_length: chars must be an integer, got {chars!r}", line)

    def test(text: pd.Series) -> np.ndarray:
        return as_bool(text.str.strip().str.len() >= chars, len(text))

    def fn(ctx: Ctx) -> np.ndarray:
        return _by_chunk(inner, ctx, test)

    return Node(f"min_length[{inner.key};{chars}]", "condition", fn)


_BULLET = "[ \t]*(?:[-*\u2022][ \t]*)?"
_SPACE = "[ \t\r\n\f\v\u00a0]"
_NON_SPACE = "[^ \t\r\n\f\v\u00a0\u2000-\u200b\u3000\ufeff]"


def _section_patterns(c: Compiler, raw: Any, line: int, name: str) -> tuple[Node, list[str], str, list[str]]:
    """The text, the headings, the heading-line marker and one "section present" check per
    heading: what ``sections`` and ``missing_sections`` share."""
    args = c.args(PREDICATES[name], raw, line)
    inner = _text_arg(c, args["of"], line)
    headings = [str(h) for h in list_setting(c, args["headings"], line, name)]
    if not headings:
        raise RuleProblem(f"{name}: needs at least one heading", line)
    alternatives = "|".join(re.escape(h) for h in sorted(headings, key=len, reverse=True))
    # Step 1 marks every heading line "\x00Heading\x01"; step 2 asks, per heading, that the
    # first non-space character after its mark is not the next mark (the section is not blank).
    marker = rf"(?im)^{_BULLET}({alternatives})[ \t]*:"
    # Explicit whitespace classes (not \s) keep pandas on pyarrow's RE2 engine.
    checks = [rf"(?i)\x00{re.escape(h)}\x01{_SPACE}*[^{_SPACE[1:-1]}\x00]" for h in headings]
    regex(marker, line)
    return inner, headings, marker, checks


_SECTIONS_SUMMARY = (
    "a line starting (after spaces and an optional bullet -, *, •) with the heading and ':', "
    "case-insensitive, with non-blank text after it up to the next of the listed headings"
)


@predicate(
    "sections",
    role="condition",
    category="text",
    summary=f"Every heading is present: {_SECTIONS_SUMMARY}.",
    args=(
        Arg("of", "column or value", "the text"),
        Arg("headings", "list or setting", "the required headings"),
    ),
    example="sections: {of: description, headings: $mapping.worklog_sections}",
)
def _sections(c: Compiler, raw: Any, line: int) -> Node:
    inner, headings, marker, checks = _section_patterns(c, raw, line, "sections")

    def fn(ctx: Ctx) -> np.ndarray:
        return _by_chunk(inner, ctx, test)

    def test(text: pd.Series) -> np.ndarray:
        # Cheap pre-filters (plain substring scans): a text lacking a ':' or any heading's
        # words cannot have every section; only the rest meets the regexes.
        result = np.zeros(len(text), dtype=bool)
        has = as_bool(text.str.contains(":", regex=False), len(text))
        has &= as_bool(text.str.contains(headings[0], case=False, regex=False), len(text))
        rows = np.flatnonzero(has)
        if len(rows) == 0:
            return result
        subset = text.iloc[rows].reset_index(drop=True)  # one take of the candidates
        keep = np.ones(len(rows), dtype=bool)
        for heading in headings[1:]:
            keep &= as_bool(subset.str.contains(heading, case=False, regex=False), len(rows))
        rows = rows[keep]
        if len(rows) == 0:
            return result
        marked = (subset if keep.all() else subset[keep]).str.replace(marker, "\x00\\1\x01", regex=True)
        marked = marked.reset_index(drop=True)
        ok = np.ones(len(rows), dtype=bool)
        for check in checks:
            keep = np.flatnonzero(ok)
            if len(keep) == 0:
                break
            hit = as_bool(marked.iloc[keep].str.contains(check, regex=True), len(keep))
            ok[keep[~hit]] = False
        result[rows[ok]] = True
        return result

    return Node(f"sections[{inner.key};{headings}]", "condition", fn)


@predicate(
    "missing_sections",
    role="value",
    category="text",
    summary=f'The headings a text lacks, in the listed order and comma-separated ("Hypothesis, Question"); null when '
    f"none is missing. A section counts as present as for `sections`: {_SECTIONS_SUMMARY}. For messages.",
    args=(
        Arg("of", "column or value", "the text"),
        Arg("headings", "list or setting", "the required headings"),
    ),
    example="missing_sections: {of: description, headings: $mapping.escalation_sections}",
)
def _missing_sections(c: Compiler, raw: Any, line: int) -> Node:
    inner, headings, marker, checks = _section_patterns(c, raw, line, "missing_sections")
    if len(headings) > 62:  # the missing set is kept as bits of an int64
        raise RuleProblem("missing_sections: at most 62 headings", line)

    def missing_bits(text: pd.Series) -> np.ndarray:
        marked = text.str.replace(marker, "\x00\\1\x01", regex=True)
        bits = np.zeros(len(text), dtype="int64")
        for bit, check in enumerate(checks):
            present = as_bool(marked.str.contains(check, regex=True), len(text))
            bits |= np.where(present, 0, 1 << bit)
        return bits

    def fn(ctx: Ctx) -> pd.Series:
        parts = [missing_bits(chunk) for chunk in _text_chunks(inner, ctx)]
        bits = np.concatenate(parts) if parts else np.zeros(0, dtype="int64")
        # Each distinct set of missing headings is spelt once, then spread over the rows.
        distinct, codes = np.unique(bits, return_inverse=True)
        names = [", ".join(h for i, h in enumerate(headings) if int(b) >> i & 1) or None for b in distinct]
        return pd.Series(pd.array(names, dtype="string").take(codes.reshape(-1)))

    return Node(f"missing_sections[{inner.key};{headings}]", "value", fn)


PREDICATE_MATCHES = PREDICATES["matches"]
PREDICATE_STARTS = PREDICATES["starts_with"]
PREDICATE_WORDS = PREDICATES["contains_words"]
PREDICATE_MINLEN = PREDICATES["min_length"]
