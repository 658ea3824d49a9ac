"""Logging set-up: quiet structured lines by default, every request with --verbose.

Secrets never reach a log line: :class:`RedactingFilter` masks the values of the credential
environment variables and the auth header values wherever they appear.

:func:`redact` is the one place text is scrubbed (the log filter, the Autotask client's log
lines and error messages, ``doctor``'s output all go through it). A value of any length is
masked; how depends on its length:

* ``len >= 6``: every occurrence, also inside other text (``xSECRETx`` → ``x***x``);
* shorter values (an API user ``a``, a code ``42``): only whole-token occurrences — not preceded
  or followed by a letter or digit — so ``AUTOTASK_USERNAME=a`` does not turn ``after`` into
  ``***fter`` while a standalone ``a`` (``user=a``, ``'a'``) is still masked.

Encoded forms of each value are masked too: URL-encoded (``quote``/``quote_plus``, upper- and
lower-case hex: discovery sends the user name as ``?user=`` and httpx logs that URL), JSON-escaped
(``\\/``) and HTML-escaped, the ways an error page echoing the request headers may print them.

Text from the network is masked *before* it is cut to a length (``limit``): a secret across the
cut would otherwise survive as an unrecognised prefix. What does reach the cut is checked too:
when the kept text ends with the beginning of a secret, that beginning is masked.
"""

from __future__ import annotations

import html
import json
import logging
import os
import re
import sys
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import quote, quote_plus

from audit.core.safetext import console_text

__all__ = [
    "SECRET_ENV_VARS",
    "SHORT_SECRET_LEN",
    "OneLineFormatter",
    "RedactingFilter",
    "configure_logging",
    "redact",
    "secret_forms",
]

SECRET_ENV_VARS = (
    "AUTOTASK_SECRET",
    "AUTOTASK_INTEGRATION_CODE",
    "AUTOTASK_USERNAME",
    "TICKET_AUDIT_SMTP_PASSWORD",
)

#: Values shorter than this are masked only as whole tokens (see the module docstring).
SHORT_SECRET_LEN = 6

_MASK = "***"
_ELLIPSIS = "…"
_PERCENT_HEX = re.compile(r"%[0-9A-F]{2}")


def _encodings(raw: str) -> tuple[str, ...]:
    quoted = (quote(raw, safe=""), quote_plus(raw, safe=""))
    lower_hex = tuple(_PERCENT_HEX.sub(lambda m: m.group(0).lower(), q) for q in quoted)
    as_json = json.dumps(raw)[1:-1]
    return (raw, *quoted, *lower_hex, as_json, as_json.replace("/", "\\/"), html.escape(raw))


def secret_forms(values: Iterable[str | None]) -> tuple[str, ...]:
    """Each non-empty value with its encoded forms (see the module docstring), without
    duplicates, in order."""
    forms: list[str] = []
    for raw in values:
        if not raw:
            continue
        for form in _encodings(raw):
            if form not in forms:
                forms.append(form)
    return tuple(forms)


def _secrets() -> tuple[str, ...]:
    return secret_forms(os.environ.get(k) for k in SECRET_ENV_VARS)


@lru_cache(maxsize=256)
def _token_pattern(secret: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])")


def redact(text: str, extra: Iterable[str] | None = None, *, limit: int | None = None) -> str:
    """``text`` with every known secret value (environment + ``extra``) replaced by ``***``.

    Longer values first, so a value containing a shorter one is masked whole. With ``limit``
    the masked text is cut to that many characters (plus ``…``), and a secret's beginning left
    at the cut is masked as well.
    """
    values = sorted({v for v in (*_secrets(), *secret_forms(extra or ())) if v}, key=len, reverse=True)
    for secret in values:
        if secret not in text:
            continue
        if len(secret) >= SHORT_SECRET_LEN:
            text = text.replace(secret, _MASK)
        else:
            text = _token_pattern(secret).sub(_MASK, text)
    if limit is None or len(text) <= limit:
        return text
    return _mask_cut_prefix(text[: max(0, limit)], values) + _ELLIPSIS


def _mask_cut_prefix(kept: str, values: Iterable[str]) -> str:
    """``kept`` with its tail masked when the tail is the beginning of a secret (any length:
    the rest of the secret was cut away, so even a short tail is its first characters)."""
    longest = max(
        (
            k
            for secret in values
            for k in range(min(len(secret) - 1, len(kept)), 0, -1)
            if kept.endswith(secret[:k])
        ),
        default=0,
    )
    return kept[:-longest] + _MASK if longest else kept


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is not ours to break
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class OneLineFormatter(logging.Formatter):
    """One log record, one line: a message quoting tenant text (a technician named
    ``x\\n::add-mask::…``) shows its control characters escaped instead of starting new lines.
    A traceback (``--verbose``) still follows on lines of its own."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = console_text(record.message)
        return super().formatMessage(record)


def configure_logging(*, verbose: bool = False) -> None:
    logger = logging.getLogger("audit")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING)
    logger.propagate = False
