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

URL-encoded forms (``quote``/``quote_plus``) of each value are masked too: discovery sends the
user name as ``?user=`` and httpx logs that URL.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import quote, quote_plus

from audit.safetext import console_text

__all__ = ["SECRET_ENV_VARS", "SHORT_SECRET_LEN", "OneLineFormatter", "RedactingFilter", "configure_logging", "redact", "secret_forms"]

SECRET_ENV_VARS = ("AUTOTASK_SECRET", "AUTOTASK_INTEGRATION_CODE", "AUTOTASK_USERNAME", "TICKET_AUDIT_SMTP_PASSWORD")

#: Values shorter than this are masked only as whole tokens (see the module docstring).
SHORT_SECRET_LEN = 6

_MASK = "***"


def secret_forms(values: Iterable[str | None]) -> tuple[str, ...]:
    """Each non-empty value with its URL-encoded forms, without duplicates, in order."""
    forms: list[str] = []
    for raw in values:
        if not raw:
            continue
        for form in (raw, quote(raw, safe=""), quote_plus(raw, safe="")):
            if form not in forms:
                forms.append(form)
    return tuple(forms)


def _secrets() -> tuple[str, ...]:
    return secret_forms(os.environ.get(k) for k in SECRET_ENV_VARS)


@lru_cache(maxsize=256)
def _token_pattern(secret: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])")


def redact(text: str, extra: Iterable[str] | None = None) -> str:
    """``text`` with every known secret value (environment + ``extra``) replaced by ``***``.

    Longer values first, so a value containing a shorter one is masked whole.
    """
    values = {v for v in (*_secrets(), *secret_forms(extra or ())) if v}
    for secret in sorted(values, key=len, reverse=True):
        if secret not in text:
            continue
        if len(secret) >= SHORT_SECRET_LEN:
            text = text.replace(secret, _MASK)
        else:
            text = _token_pattern(secret).sub(_MASK, text)
    return text


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
