"""Mail the report: the PDF (and optionally the QA workbook) over SMTP.

Host, port, STARTTLS, user and sender come from ``[mail]`` in the config; the password only from
the environment variable that ``MailSettings.password_env`` names (never from the config file,
never logged).
"""

from __future__ import annotations

import logging
import mimetypes
import os
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from audit.config import MailSettings
from audit.errors import AuditRuntimeError, ConfigError
from audit.period import describe_period

__all__ = ["MailError", "build_message", "send_report", "summary_mail_text"]

log = logging.getLogger(__name__)


class MailError(AuditRuntimeError):
    """The SMTP server refused or could not be reached (exit 3)."""


def summary_mail_text(summary: Mapping[str, Any]) -> tuple[str, str]:
    """(subject, plain-text body) for the weekly mail."""
    tenant = summary.get("tenant", {}).get("name", "")
    period = summary.get("period", {}).get("label", "")
    score = summary.get("score")
    score_text = "n/a" if score is None else f"{score:.1f}"
    subject = f"Ticket audit {period} — {tenant}: {score_text}"
    overall = summary.get("overall", {})
    lines = [
        f"Ticket audit for {tenant}, {describe_period(summary.get('period', {}))}.",
        "",
        f"Overall score {score_text} / 100 over {overall.get('applicable', 0)} checks "
        f"({overall.get('failed', 0)} failed, {overall.get('waived', 0)} waived).",
        "",
        "The scorecards are attached.",
    ]
    return subject, "\n".join(lines) + "\n"


def build_message(
    settings: MailSettings,
    to: Sequence[str],
    subject: str,
    body: str,
    attachments: Sequence[Path] = (),
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or None)
    message.set_content(body)
    for path in attachments:
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        maintype, _, subtype = mime.partition("/")
        message.add_attachment(path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name)
    return message


def send_report(
    settings: MailSettings,
    to: Sequence[str],
    attachments: Sequence[Path],
    *,
    subject: str,
    body: str,
    ssl_context: ssl.SSLContext | None = None,
    timeout: float = 60.0,
    environ: Mapping[str, str] | None = None,
) -> EmailMessage:
    """Send one message to ``to`` with ``attachments``; returns the message sent.

    ``ssl_context`` defaults to the system trust store (tests pass one trusting their own
    certificate). Raises :class:`MailError` when delivery fails, :class:`ConfigError` when a user
    is configured but the password variable is not set.
    """
    if not to:
        raise ConfigError("--mail-to: no recipient")
    env = os.environ if environ is None else environ
    password: str | None = None
    if settings.user:
        password = env.get(settings.password_env)
        if not password:
            raise ConfigError(
                f"mail.user is set but the environment variable {settings.password_env} (mail.password_env) is empty"
            )
    message = build_message(settings, to, subject, body, attachments)
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=timeout) as smtp:
            smtp.ehlo()
            if settings.starttls:
                smtp.starttls(context=ssl_context or ssl.create_default_context())
                smtp.ehlo()
            if settings.user and password is not None:
                smtp.login(settings.user, password)
            refused = smtp.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        # The exception text may quote the server's reply, never our password.
        raise MailError(f"cannot send the report to {', '.join(to)} via {settings.host}:{settings.port}: {exc}") from exc
    if refused:
        raise MailError(f"the SMTP server refused: {', '.join(sorted(refused))}")
    log.info("report mailed to %d recipient(s) via %s:%s", len(to), settings.host, settings.port)
    return message
