"""Logging set-up: quiet structured lines by default, every request with --verbose.

Secrets never reach a log line: :class:`RedactingFilter` masks the values of the credential
environment variables and the auth header values wherever they appear.
"""

from __future__ import annotations

import logging
import os
import sys

__all__ = ["SECRET_ENV_VARS", "RedactingFilter", "configure_logging", "redact"]

SECRET_ENV_VARS = ("AUTOTASK_SECRET", "AUTOTASK_INTEGRATION_CODE", "AUTOTASK_USERNAME", "TICKET_AUDIT_SMTP_PASSWORD")


def _secrets() -> list[str]:
    return [v for v in (os.environ.get(k) for k in SECRET_ENV_VARS) if v and len(v) >= 3]


def redact(text: str, extra: list[str] | None = None) -> str:
    """``text`` with every known secret value replaced by ``***``."""
    for secret in [*_secrets(), *(extra or [])]:
        if secret:
            text = text.replace(secret, "***")
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def configure_logging(*, verbose: bool = False) -> None:
    logger = logging.getLogger("audit")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING)
    logger.propagate = False
