"""A doctor check's outcome (ok / warn / fail, message, hint), the exit code of a set of them,
and the lines ``ticket-audit doctor`` prints."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from audit.core.errors import (
    EXIT_CONFIG,
    EXIT_OK,
    EXIT_RUNTIME,
)

if TYPE_CHECKING:
    pass

Status = Literal["ok", "warn", "fail"]
Category = Literal["config", "runtime"]

MAX_LISTED = 12


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check."""

    name: str
    status: Status
    message: str
    hint: str = ""
    #: Which exit code a failure means: "config" (2, nothing should run) or "runtime" (3).
    category: Category = "runtime"

    def to_json(self) -> dict[str, str]:
        return {
            "name": self.name, "status": self.status, "message": self.message,
            "hint": self.hint, "category": self.category,
        }  # fmt: skip


def ok(name: str, message: str, hint: str = "", category: Category = "runtime") -> CheckResult:
    return CheckResult(name, "ok", message, hint, category)


def warn(name: str, message: str, hint: str = "", category: Category = "runtime") -> CheckResult:
    return CheckResult(name, "warn", message, hint, category)


def fail(name: str, message: str, hint: str = "", category: Category = "runtime") -> CheckResult:
    return CheckResult(name, "fail", message, hint, category)


def exit_code(results: Iterable[CheckResult]) -> int:
    """2 when a config check failed, else 3 when a runtime check failed, else 0 (2 > 3 > 0)."""
    failed = {r.category for r in results if r.status == "fail"}
    if "config" in failed:
        return EXIT_CONFIG
    if "runtime" in failed:
        return EXIT_RUNTIME
    return EXIT_OK


_SYMBOLS = {"ok": "✓", "warn": "!", "fail": "✗"}
_ASCII_SYMBOLS = {"ok": "+", "warn": "!", "fail": "x"}


def _symbols(encoding: str | None) -> Mapping[str, str]:
    # A cron job under a bare locale may have an ASCII stdout: degrade rather than crash.
    try:
        "✓✗".encode(encoding or "utf-8")
    except (LookupError, UnicodeEncodeError):
        return _ASCII_SYMBOLS
    return _SYMBOLS


def format_result(result: CheckResult, *, encoding: str | None = "utf-8") -> str:
    """One line: symbol, check name, message, and the hint after an em dash."""
    symbols = _symbols(encoding)
    dash = " — " if symbols is _SYMBOLS else " -- "
    message = " ".join(result.message.split())  # multi-line errors (rule files) stay on one line
    line = f"{symbols[result.status]} {result.name:<11} {message}"
    if result.hint:
        line += dash + " ".join(result.hint.split())
    return line


def format_report(results: Sequence[CheckResult], *, encoding: str | None = "utf-8") -> str:
    """Every check's line, then a one-line tally with the exit code."""
    lines = [format_result(r, encoding=encoding) for r in results]
    counts = {s: sum(1 for r in results if r.status == s) for s in ("ok", "warn", "fail")}
    code = exit_code(results)
    lines.append(
        f"doctor: {counts['ok']} ok, {counts['warn']} warning(s), {counts['fail']} failure(s); exit {code}"
    )
    return "\n".join(lines)


def quote_list(values: Iterable[str], limit: int = MAX_LISTED) -> str:
    items = list(values)
    text = ", ".join(repr(v) for v in items[:limit])
    if len(items) > limit:
        text += f", … ({len(items) - limit} more)"
    return text or "(none)"
