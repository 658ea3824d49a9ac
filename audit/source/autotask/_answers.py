"""What an Autotask answer means: throttling, refused credentials, a validation verdict, a fault.

The classification behind the retry policy of :mod:`._retry` (see its docstring for the why):
which statuses are retried, which 500s are validation verdicts, which messages name the thread
or request threshold or a credential, and what the server said, for error messages.
"""

from __future__ import annotations

import email.utils
import json
import re
from datetime import UTC, datetime

import httpx

from ._models import ENV_INTEGRATION_CODE, ENV_SECRET, ENV_USERNAME

__all__ = [
    "VARIABLE_MEANING",
    "credential_variables",
    "error_list",
    "is_throttling",
    "is_validation_error",
    "parse_retry_after",
    "retryable_status",
    "server_text",
]

#: Server text kept in an error message (masked first, then cut: see audit.core.logs.redact).
_TEXT_LIMIT = 300
_ERRORS_LIMIT = 1000


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date); None if absent/garbled."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN, inf
        return None
    return max(0.0, seconds)


def error_list(response: httpx.Response) -> list[str] | None:
    """The ``{"errors": [...]}`` messages of an answer, or None when it has no such list."""
    try:
        data = json.loads(response.content)
    except ValueError:
        return None
    errors = data.get("errors") if isinstance(data, dict) else None
    if not isinstance(errors, list) or not errors:
        return None
    return [str(e) for e in errors]


def server_text(response: httpx.Response) -> tuple[str, int]:
    """What the server said, uncut, and how much of it an error message keeps:
    ``{"errors": [...]}``, ASP.NET's ``{"Message": ...}``, or the text of the page."""
    errors = error_list(response)
    if errors is not None:
        return "; ".join(errors[:5]), _ERRORS_LIMIT
    try:
        data = json.loads(response.content)
    except ValueError:
        return " ".join(response.text.split()), _TEXT_LIMIT
    if isinstance(data, dict):
        for key in ("Message", "message"):
            if isinstance(data.get(key), str):
                return str(data[key]), _ERRORS_LIMIT
    return "", _ERRORS_LIMIT


# Words of a 500 that is a server fault, not a verdict on the request: retried in full.
_TRANSIENT_HINTS = (
    "unexpected error", "timeout", "timed out", "try again", "temporarily", "deadlock",
    "unavailable", "transport-level", "connection",
)  # fmt: skip

# A rejection for throttling, whatever its status (see the module docstring).
_THROTTLED = re.compile(
    r"thread\s*(threshold|limit|count)|itgenatr005|request\s*(threshold|limit)|threshold\s+(has\s+been\s+|is\s+)?exceeded"
    r"|(api|usage)\s+threshold|too\s+many\s+(concurrent\s+)?requests|rate\s+limit",
    re.IGNORECASE,
)

# Messages naming the credential at fault -> the variables to check, most likely first.
_CREDENTIAL_HINTS: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (re.compile(r"integration\s*code|tracking\s+identifier", re.I), (ENV_INTEGRATION_CODE,)),
    (re.compile(r"zone information could not be determined", re.I), (ENV_USERNAME,)),
    (
        re.compile(r"user\s*name or password|invalid (user|credentials)|authentication failed", re.I),
        (ENV_USERNAME, ENV_SECRET),
    ),
)

VARIABLE_MEANING = {
    ENV_USERNAME: "the API user's user name (Username (Key))",
    ENV_SECRET: "its secret (Password (Secret))",
    ENV_INTEGRATION_CODE: "the integration's API tracking identifier",
}


def is_throttling(status: int, messages: str) -> bool:
    """A 429, or any answer whose message names the thread or request threshold."""
    return status == 429 or bool(_THROTTLED.search(messages))


def credential_variables(status: int, messages: str) -> tuple[str, ...] | None:
    """The environment variables a refused-credentials answer points at, or None."""
    for pattern, variables in _CREDENTIAL_HINTS:
        if pattern.search(messages):
            return variables
    if status == 401:  # a known user with a wrong secret (the others come back as 500)
        return (ENV_SECRET, ENV_USERNAME, ENV_INTEGRATION_CODE)
    return None


def is_validation_error(errors: list[str] | None) -> bool:
    """A 500 with a specific ``{"errors": [...]}`` verdict (not a generic server fault)."""
    if not errors:
        return False
    text = " ".join(errors).lower()
    return not any(hint in text for hint in _TRANSIENT_HINTS)


def retryable_status(status: int) -> bool:
    return status in (408, 429) or (500 <= status <= 599 and status not in (501, 505))
